// The job schema: one row per key, the single source of truth for the job file.
//
// A row says where the value lives in JobConfig, its default (or that it is required), the
// values it may take and a one-line doc. The parser, the `--set` overrides, the required-key
// check, equality and the TOML writer all walk this table, so they cannot drift apart.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "jobs/config.h"

namespace molt {

// Where a key's value lives; the alternative also gives the key's type.
using FieldRef = std::variant<int64_t*, double*, bool*, std::string*, StringMap*>;
using ConfigValue = std::variant<int64_t, double, bool, std::string, StringMap>;

// string_map: a sub-table of identifier names → strings ([eval.sets]); each entry is also
// reachable as "section.key.NAME" (`--set eval.sets.NAME=PATH`).
enum class ValueKind { integer, floating, boolean, string, string_map };  // order of FieldRef

// Allowed numeric interval; open ends exclude the bound.
struct Bounds {
  double lo = -std::numeric_limits<double>::infinity();
  bool lo_open = false;
  double hi = std::numeric_limits<double>::infinity();
  bool hi_open = false;
  bool contains(double x) const;
  bool unbounded() const;
  std::string describe() const;  // "> 0", ">= 0", "in [0, 1)"
};

struct KeySpec {
  std::string section;
  std::string key;
  FieldRef (*field)(JobConfig&);
  std::optional<ConfigValue> default_value;  // nullopt: the key is required
  Bounds bounds;                             // numeric keys only
  std::vector<std::string> allowed;          // string keys only; empty = any string
  std::string doc;

  std::string path() const { return section + "." + key; }
  ValueKind kind() const;
  bool required() const { return !default_value.has_value(); }
};

// Every key, in the order the TOML writer prints them.
const std::vector<KeySpec>& job_schema();

// The row for "section.key", or nullptr.
const KeySpec* find_key_spec(const std::string& path);

// The string-map row that "section.key.NAME" is an entry of, with NAME; nullptr if none.
const KeySpec* find_map_entry_spec(const std::string& path, std::string* name);

// Whether `name` may name a string-map entry: [A-Za-z0-9_-]+.
bool valid_entry_name(const std::string& name);

// Section names in schema order, and the keys of one section.
std::vector<std::string> schema_sections();
std::vector<std::string> section_keys(const std::string& section);

// A config holding every default (required keys left empty / zero).
JobConfig default_job_config();

// Reads or writes one key of a config through its schema row.
ConfigValue read_key(const KeySpec& spec, const JobConfig& config);
void write_key(const KeySpec& spec, const ConfigValue& value, JobConfig& config);

// The value as TOML source text; floats in the shortest form that reads back bit-exact.
std::string format_toml_value(const ConfigValue& value);

}  // namespace molt
