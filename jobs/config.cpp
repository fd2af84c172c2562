// Parsing and validating job files against the schema (jobs/config_schema.h).
//
// The file and each `--set` override go through the same path: a TOML node, a schema row,
// one type check and one range check. Only the "where" differs: a file gives
// "job.toml:7:6", an override gives "--set optimizer.lr=abc". The required-key and
// cross-key checks run once at the end, after the overrides, so `--set run.dir=...` can
// supply a key the file leaves out.
#include "jobs/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "jobs/config_schema.h"
#include "kernels/error.h"

namespace molt {
namespace {

std::string where(const std::string& origin, const toml::source_region& region) {
  if (region.begin.line == 0) return origin;
  return origin + ":" + std::to_string(region.begin.line) + ":" +
         std::to_string(region.begin.column);
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

std::string type_phrase(toml::node_type type) {
  switch (type) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    default:
      return "nothing";
  }
}

std::string kind_phrase(ValueKind kind) {
  switch (kind) {
    case ValueKind::integer:
      return "an integer";
    case ValueKind::floating:
      return "a float";
    case ValueKind::boolean:
      return "a boolean";
    case ValueKind::string:
      return "a string";
    case ValueKind::string_map:
      return "a table of strings";
  }
  return "?";
}

[[noreturn]] void wrong_type(const KeySpec& spec, const toml::node& node, const std::string& at) {
  throw UserError(at + ": " + spec.path() + " must be " + kind_phrase(spec.kind()) + ", got " +
                  type_phrase(node.type()));
}

// One entry NAME = TEXT of a string-map key: NAME an identifier, TEXT a non-empty string.
void check_entry(const KeySpec& spec, const std::string& name, const std::string& name_at,
                 const std::string& text, const std::string& text_at) {
  if (!valid_entry_name(name))
    throw UserError(name_at + ": " + spec.path() + "." + name +
                    ": a name may hold only letters, digits, '_' and '-'");
  if (text.empty())
    throw UserError(text_at + ": " + spec.path() + "." + name + " must not be empty");
}

StringMap typed_map(const KeySpec& spec, const toml::table& table, const std::string& origin) {
  StringMap map;
  for (auto&& [key, node] : table) {
    const std::string name(key.str());
    const std::string at = where(origin, node.source());
    if (!node.is_string())
      throw UserError(at + ": " + spec.path() + "." + name + " must be a string, got " +
                      type_phrase(node.type()));
    const std::string text = node.as_string()->get();
    check_entry(spec, name, where(origin, key.source()), text, at);
    map[name] = text;
  }
  return map;
}

// The node as the key's type; an integer is accepted where a float is expected.
// `origin` names the file, for the positions of a table's entries.
ConfigValue typed_value(const KeySpec& spec, const toml::node& node, const std::string& at,
                        const std::string& origin) {
  switch (spec.kind()) {
    case ValueKind::integer:
      if (auto v = node.as_integer()) return ConfigValue{v->get()};
      break;
    case ValueKind::floating:
      if (auto v = node.as_floating_point()) return ConfigValue{v->get()};
      if (auto v = node.as_integer()) return ConfigValue{static_cast<double>(v->get())};
      break;
    case ValueKind::boolean:
      if (auto v = node.as_boolean()) return ConfigValue{v->get()};
      break;
    case ValueKind::string:
      if (auto v = node.as_string()) return ConfigValue{v->get()};
      break;
    case ValueKind::string_map:
      if (auto v = node.as_table()) return ConfigValue{typed_map(spec, *v, origin)};
      break;
  }
  wrong_type(spec, node, at);
}

void check_allowed(const KeySpec& spec, const ConfigValue& value, const std::string& at) {
  if (auto* s = std::get_if<std::string>(&value)) {
    if (spec.allowed.empty()) return;
    for (const auto& a : spec.allowed)
      if (a == *s) return;
    std::vector<std::string> quoted;
    for (const auto& a : spec.allowed) quoted.push_back("\"" + a + "\"");
    throw UserError(at + ": " + spec.path() + " must be one of " + join(quoted, ", ") + ", got \"" +
                    *s + "\"");
  }
  double x = 0;
  if (auto* i = std::get_if<int64_t>(&value))
    x = static_cast<double>(*i);
  else if (auto* d = std::get_if<double>(&value))
    x = *d;
  else
    return;
  if (!spec.bounds.contains(x))
    throw UserError(at + ": " + spec.path() + " must be " + spec.bounds.describe() + ", got " +
                    format_toml_value(value));
}

// What the parser has seen so far: the config and which keys were given.
struct Resolution {
  JobConfig config = default_job_config();
  std::set<std::string> given;
};

void apply(const KeySpec& spec, const toml::node& node, const std::string& at,
           const std::string& origin, Resolution& r) {
  ConfigValue value = typed_value(spec, node, at, origin);
  check_allowed(spec, value, at);
  write_key(spec, value, r.config);
  r.given.insert(spec.path());
}

[[noreturn]] void unknown_key(const std::string& at, const std::string& section,
                              const std::string& key) {
  throw UserError(at + ": unknown key " + section + "." + key + " (keys of [" + section +
                  "]: " + join(section_keys(section), ", ") + ")");
}

void apply_section(const std::string& origin, const std::string& section, const toml::table& table,
                   Resolution& r) {
  for (auto&& [key, node] : table) {
    const KeySpec* spec = find_key_spec(section + "." + std::string(key.str()));
    if (spec == nullptr) unknown_key(where(origin, key.source()), section, std::string(key.str()));
    apply(*spec, node, where(origin, node.source()), origin, r);
  }
}

void apply_file(const std::string& origin, const toml::table& root, Resolution& r) {
  std::vector<std::string> sections = schema_sections();
  for (auto&& [key, node] : root) {
    std::string name(key.str());
    bool known = std::find(sections.begin(), sections.end(), name) != sections.end();
    if (!known)
      throw UserError(where(origin, key.source()) + ": unknown " +
                      (node.is_table() ? "table [" + name + "]" : "key " + name) +
                      " (tables: " + join(sections, ", ") + ")");
    if (!node.is_table())
      throw UserError(where(origin, node.source()) + ": " + name + " must be a table [" + name +
                      "], got " + type_phrase(node.type()));
    apply_section(origin, name, *node.as_table(), r);
  }
}

// An override's value parsed as TOML (`value = RAW`), or nullopt when RAW is no TOML value.
std::optional<toml::table> parse_override_value(const std::string& raw) {
  try {
    toml::table parsed = toml::parse(std::string_view("value = " + raw), std::string_view("--set"));
    if (parsed.size() == 1) return parsed;
  } catch (const toml::parse_error&) {
  }
  return std::nullopt;
}

// `--set section.key.NAME=TEXT` for a string-map key: adds or replaces one entry, keeping
// the file's others. TEXT may be a quoted TOML string or bare text, as for string keys.
void apply_entry_override(const KeySpec& spec, const std::string& name, const std::string& raw,
                          const std::string& at, Resolution& r) {
  const std::optional<toml::table> parsed = parse_override_value(raw);
  const toml::node* node = parsed ? parsed->get("value") : nullptr;
  const std::string text = node != nullptr && node->is_string() ? node->as_string()->get() : raw;
  check_entry(spec, name, at, text, at);
  auto map = std::get<StringMap>(read_key(spec, r.config));
  map[name] = text;
  write_key(spec, ConfigValue{map}, r.config);
  r.given.insert(spec.path());
}

// One `--set section.key=value`. The value is read as a TOML value; a string key also takes
// bare text (`--set run.dir=runs/r1`), since shells strip the quotes TOML would need.
void apply_override(const std::string& text, Resolution& r) {
  std::string at = "--set " + text;
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) throw UserError(at + ": expected section.key=value");
  std::string path = text.substr(0, eq);
  std::string raw = text.substr(eq + 1);
  const KeySpec* spec = find_key_spec(path);
  std::string entry;
  if (spec == nullptr && (spec = find_map_entry_spec(path, &entry)) != nullptr) {
    apply_entry_override(*spec, entry, raw, at, r);
    return;
  }
  if (spec == nullptr) {
    size_t dot = path.find('.');
    std::string section = dot == std::string::npos ? "" : path.substr(0, dot);
    if (section_keys(section).empty())
      throw UserError(at + ": unknown key " + path + " (tables: " + join(schema_sections(), ", ") +
                      ")");
    unknown_key(at, section, path.substr(dot + 1));
  }
  const std::optional<toml::table> parsed = parse_override_value(raw);
  const toml::node* node = parsed ? parsed->get("value") : nullptr;
  if (spec->kind() == ValueKind::string && (node == nullptr || !node->is_string())) {
    apply(*spec, toml::value<std::string>(raw), at, at, r);
  } else if (node == nullptr) {
    throw UserError(at + ": " + spec->path() + " must be " + kind_phrase(spec->kind()) + ", got '" +
                    raw + "', which is not a TOML value");
  } else {
    apply(*spec, *node, at, at, r);
  }
}

void check_required(const std::string& origin, const Resolution& r) {
  std::vector<std::string> missing;
  for (const auto& spec : job_schema())
    if (spec.required() && r.given.count(spec.path()) == 0)
      missing.push_back(spec.path() + " (" + spec.doc + ")");
  if (!missing.empty())
    throw UserError(origin + ": missing required key" + (missing.size() > 1 ? "s " : " ") +
                    join(missing, ", "));
}

void check_consistency(const std::string& origin, const JobConfig& c) {
  if (c.batch.global_batch % c.batch.micro_batch != 0)
    throw UserError(origin + ": batch.global_batch (" + std::to_string(c.batch.global_batch) +
                    ") must be a multiple of batch.micro_batch (" +
                    std::to_string(c.batch.micro_batch) + ")");
  if (c.model.d_model > 0 && c.model.n_head > 0 && c.model.d_model % c.model.n_head != 0)
    throw UserError(origin + ": model.d_model (" + std::to_string(c.model.d_model) +
                    ") must be a multiple of model.n_head (" + std::to_string(c.model.n_head) +
                    ")");
}

toml::table parse_toml(const std::string& text, const std::string& origin) {
  try {
    return toml::parse(std::string_view(text), std::string_view(origin));
  } catch (const toml::parse_error& e) {
    throw UserError(where(origin, e.source()) + ": " + std::string(e.description()));
  }
}

}  // namespace

JobConfig parse_job_string(const std::string& text, const std::string& origin,
                           const std::vector<std::string>& overrides) {
  Resolution r;
  apply_file(origin, parse_toml(text, origin), r);
  for (const auto& o : overrides) apply_override(o, r);
  check_required(origin, r);
  check_consistency(origin, r.config);
  return r.config;
}

JobConfig load_job(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError("job file " + path + " cannot be read (missing or not readable)");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_job_string(text.str(), path, overrides);
}

bool operator==(const JobConfig& a, const JobConfig& b) {
  for (const auto& spec : job_schema())
    if (read_key(spec, a) != read_key(spec, b)) return false;
  return true;
}

bool operator!=(const JobConfig& a, const JobConfig& b) { return !(a == b); }

std::string to_toml(const JobConfig& config) {
  std::string out;
  std::string section;
  for (const auto& spec : job_schema()) {
    if (spec.section != section) {
      out += (section.empty() ? "[" : "\n[") + spec.section + "]\n";
      section = spec.section;
    }
    out += spec.key + " = " + format_toml_value(read_key(spec, config)) + "  # " + spec.doc + "\n";
  }
  return out;
}

int accum_steps(const JobConfig& config, int world) {
  int64_t per_step = config.batch.micro_batch * static_cast<int64_t>(world);
  if (world <= 0 || per_step <= 0 || config.batch.global_batch % per_step != 0)
    throw UserError("batch.global_batch (" + std::to_string(config.batch.global_batch) +
                    ") must be a multiple of batch.micro_batch (" +
                    std::to_string(config.batch.micro_batch) + ") times the world size (" +
                    std::to_string(world) + " ranks)");
  return static_cast<int>(config.batch.global_batch / per_step);
}

}  // namespace molt
