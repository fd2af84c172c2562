// Sweep files: parsing (strict, like the job loader), expansion and the files a sweep writes.
// See sweep.h for the rules.
#include "jobs/sweep.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "io/checkpoint.h"
#include "io/dataset_info.h"
#include "io/file_ops.h"
#include "jobs/config_schema.h"
#include "jobs/memory_plan.h"
#include "jobs/model_factory.h"
#include "jobs/objective.h"
#include "kernels/error.h"
#include "kernels/sizing_backend.h"

namespace molt {
namespace fs = std::filesystem;
namespace {

// ---------------------------------------------------------------- parsing

std::string where(const std::string& origin, const toml::source_region& region) {
  if (region.begin.line == 0) return origin;
  return origin + ":" + std::to_string(region.begin.line) + ":" +
         std::to_string(region.begin.column);
}

// Reads one table's keys against a fixed key list, with the position of each for messages.
class TableReader {
 public:
  TableReader(const std::string& origin, std::string section, const toml::table& table,
              std::vector<std::string> keys)
      : origin_(origin), section_(std::move(section)), table_(table), keys_(std::move(keys)) {
    for (auto&& [key, node] : table_) {
      if (std::find(keys_.begin(), keys_.end(), std::string(key.str())) != keys_.end()) continue;
      std::string list;
      for (const auto& k : keys_) list += (list.empty() ? "" : ", ") + k;
      throw UserError(where(origin_, key.source()) + ": unknown key " + path(std::string(key.str())) +
                      " (keys" + (section_.empty() ? "" : " of [" + section_ + "]") + ": " + list +
                      ")");
    }
  }

  bool has(const std::string& key) const { return table_.contains(key); }
  const toml::node* node(const std::string& key) const { return table_.get(key); }
  std::string at(const std::string& key) const { return where(origin_, table_.get(key)->source()); }
  std::string path(const std::string& key) const {
    return section_.empty() ? key : section_ + "." + key;
  }

  std::string text(const std::string& key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    auto v = node(key)->as_string();
    if (!v) bad(key, "must be a string");
    return v->get();
  }
  double number(const std::string& key, double fallback, bool allow_zero = false) const {
    if (!has(key)) return fallback;
    return positive(key, *node(key), allow_zero);
  }
  int64_t integer(const std::string& key, int64_t fallback) const {
    if (!has(key)) return fallback;
    auto v = node(key)->as_integer();
    if (!v || v->get() <= 0) bad(key, "must be a positive integer");
    return v->get();
  }
  std::vector<double> numbers(const std::string& key) const {
    std::vector<double> out;
    if (!has(key)) return out;
    auto array = node(key)->as_array();
    if (!array || array->empty()) bad(key, "must be a non-empty array of positive numbers");
    for (const auto& item : *array) out.push_back(positive(key, item, false));
    return out;
  }
  std::vector<int64_t> integers(const std::string& key) const {
    std::vector<int64_t> out;
    for (double x : numbers(key)) {
      if (x != std::floor(x)) bad(key, "must hold integers");
      out.push_back(static_cast<int64_t>(x));
    }
    return out;
  }

  [[noreturn]] void bad(const std::string& key, const std::string& what) const {
    throw UserError(at(key) + ": " + path(key) + " " + what);
  }

 private:
  double positive(const std::string& key, const toml::node& n, bool allow_zero) const {
    double x = 0;
    if (auto f = n.as_floating_point())
      x = f->get();
    else if (auto i = n.as_integer())
      x = static_cast<double>(i->get());
    else
      throw UserError(where(origin_, n.source()) + ": " + path(key) + " must be a number");
    if (!std::isfinite(x) || x < 0 || (x == 0 && !allow_zero))
      throw UserError(where(origin_, n.source()) + ": " + path(key) + " must be " +
                      (allow_zero ? ">= 0" : "> 0") + ", got " + format_toml_value(ConfigValue{x}));
    return x;
  }

  const std::string& origin_;
  std::string section_;
  const toml::table& table_;
  std::vector<std::string> keys_;
};

const toml::table& section_table(const std::string& origin, const toml::table& root,
                                 const std::string& name) {
  static const toml::table empty;
  const toml::node* node = root.get(name);
  if (node == nullptr) return empty;
  if (!node->is_table())
    throw UserError(where(origin, node->source()) + ": " + name + " must be a table [" + name + "]");
  return *node->as_table();
}

// [set]: job keys as tables ([set.data] dataset = "..."), each turned into a `--set` override
// so the base job's own loader type-checks it. Unknown keys are caught here, with their line.
std::vector<std::string> read_overrides(const std::string& origin, const toml::table& set) {
  std::vector<std::string> overrides;
  for (auto&& [section, node] : set) {
    const std::string name(section.str());
    if (section_keys(name).empty() || !node.is_table())
      throw UserError(where(origin, section.source()) + ": [set] holds job tables; " + name +
                      " is not one");
    for (auto&& [key, value] : *node.as_table()) {
      const std::string path = name + "." + std::string(key.str());
      if (find_key_spec(path) == nullptr)
        throw UserError(where(origin, key.source()) + ": unknown job key set." + path);
      std::ostringstream text;
      value.visit([&text](const auto& typed) { text << typed; });  // as TOML source
      overrides.push_back(path + "=" + text.str());
    }
  }
  return overrides;
}

void read_models(const std::string& origin, const TableReader& grid, SweepSpec& spec) {
  if (!grid.has("models")) return;
  auto array = grid.node("models")->as_array();
  if (!array || array->empty()) grid.bad("models", "must be a non-empty array of tables");
  for (const auto& item : *array) {
    auto table = item.as_table();
    if (!table)
      throw UserError(where(origin, item.source()) +
                      ": grid.models entries are tables {d_model, n_layer, n_head, ...}");
    TableReader model(origin, "grid.models", *table,
                      {"d_model", "n_layer", "n_head", "d_ff", "lr", "global_batch"});
    SweepShape shape;
    for (const char* key : {"d_model", "n_layer", "n_head"})
      if (!model.has(key))
        throw UserError(where(origin, item.source()) + ": grid.models entry lacks " + key);
    shape.d_model = model.integer("d_model", 0);
    shape.n_layer = model.integer("n_layer", 0);
    shape.n_head = model.integer("n_head", 0);
    shape.d_ff = model.integer("d_ff", 0);
    shape.lr = model.number("lr", 0);
    shape.global_batch = model.integer("global_batch", 0);
    if (shape.d_model % shape.n_head != 0)
      throw UserError(where(origin, item.source()) + ": d_model (" +
                      std::to_string(shape.d_model) + ") must be a multiple of n_head (" +
                      std::to_string(shape.n_head) + ")");
    spec.models.push_back(shape);
  }
}

void read_grid(const std::string& origin, const toml::table& root, SweepSpec& spec) {
  const toml::node* node = root.get("grid");
  if (node == nullptr) throw UserError(origin + ": missing table [grid]");
  TableReader grid(origin, "grid", section_table(origin, root, "grid"),
                   {"models", "sizes", "aspect_ratio", "head_dim", "lr", "global_batch", "tokens",
                    "flops", "min_steps", "tokens_per_param"});
  read_models(origin, grid, spec);
  spec.sizes = grid.numbers("sizes");
  spec.size_lr = grid.numbers("lr");
  spec.size_global_batch = grid.integers("global_batch");
  spec.aspect_ratio = grid.number("aspect_ratio", 0);
  spec.head_dim = grid.integer("head_dim", 0);
  spec.tokens = grid.numbers("tokens");
  spec.flops = grid.numbers("flops");
  spec.min_steps = grid.integer("min_steps", spec.min_steps);
  const std::vector<double> window = grid.numbers("tokens_per_param");
  if (grid.has("tokens_per_param")) {
    if (window.size() != 2 || !(window[0] >= 0) || !(window[1] > window[0]))
      grid.bad("tokens_per_param", "must be [low, high] with 0 <= low < high (D / N_nonembed)");
    spec.min_tokens_per_param = window[0];
    spec.max_tokens_per_param = window[1];
  }

  const std::string at = where(origin, node->source());
  if (spec.models.empty() == spec.sizes.empty())
    throw UserError(at + ": [grid] needs exactly one of models (explicit shapes) or sizes "
                         "(target N with aspect_ratio and head_dim)");
  if (!spec.sizes.empty() && (spec.aspect_ratio == 0 || spec.head_dim == 0))
    throw UserError(at + ": grid.sizes needs grid.aspect_ratio (d_model/n_layer) and "
                         "grid.head_dim");
  if (spec.sizes.empty() && (grid.has("aspect_ratio") || grid.has("head_dim")))
    throw UserError(at + ": grid.aspect_ratio and grid.head_dim shape grid.sizes, not models");
  if (spec.sizes.empty() && (grid.has("lr") || grid.has("global_batch")))
    throw UserError(at + ": grid.lr and grid.global_batch go with grid.sizes; explicit models "
                         "carry their own lr and global_batch");
  if (!spec.size_lr.empty() && spec.size_lr.size() != spec.sizes.size())
    grid.bad("lr", "must have one entry per grid.sizes entry");
  if (!spec.size_global_batch.empty() && spec.size_global_batch.size() != spec.sizes.size())
    grid.bad("global_batch", "must have one entry per grid.sizes entry");
  if (spec.tokens.empty() == spec.flops.empty())
    throw UserError(at + ": [grid] needs exactly one of tokens (D budgets) or flops (C budgets, "
                         "IsoFLOP)");
}

void read_lr(const std::string& origin, const toml::table& root, SweepSpec& spec) {
  if (!root.contains("lr")) return;
  TableReader lr(origin, "lr", section_table(origin, root, "lr"), {"base", "at_params", "exponent"});
  for (const char* key : {"base", "at_params", "exponent"})
    if (!lr.has(key))
      throw UserError(where(origin, root.get("lr")->source()) + ": [lr] needs lr." + key +
                      " (lr = base·(N/at_params)^-exponent)");
  spec.lr_base = lr.number("base", 0);
  spec.lr_at_params = lr.number("at_params", 0);
  spec.lr_exponent = lr.number("exponent", 0, true);
}

void read_wsd(const std::string& origin, const toml::table& root, SweepSpec& spec) {
  if (!root.contains("wsd")) return;
  TableReader wsd(origin, "wsd", section_table(origin, root, "wsd"),
                  {"cooldown_fraction", "max_checkpoints"});
  spec.wsd = true;
  spec.cooldown_fraction = wsd.number("cooldown_fraction", spec.cooldown_fraction);
  if (spec.cooldown_fraction >= 1) wsd.bad("cooldown_fraction", "must be in (0, 1)");
  spec.max_checkpoints = wsd.integer("max_checkpoints", spec.max_checkpoints);
}

}  // namespace

SweepSpec parse_sweep_string(const std::string& text, const std::string& origin) {
  toml::table root;
  try {
    root = toml::parse(std::string_view(text), std::string_view(origin));
  } catch (const toml::parse_error& e) {
    throw UserError(where(origin, e.source()) + ": " + std::string(e.description()));
  }
  SweepSpec spec;
  spec.origin = origin;
  TableReader top(origin, "", root, {"name", "base", "out", "set", "grid", "lr", "wsd"});
  for (const char* key : {"base", "out"})
    if (!top.has(key)) throw UserError(origin + ": missing required key " + key);
  spec.name = top.text("name", fs::path(origin).stem().string());
  spec.base = top.text("base", "");
  spec.out = top.text("out", "");
  if (spec.name.empty() || spec.name.find_first_of(" \t/") != std::string::npos)
    top.bad("name", "must be a non-empty word without spaces or '/'");
  if (spec.out.find_first_of(" \t") != std::string::npos)
    top.bad("out", "must have no spaces (run lists split on whitespace)");
  spec.base_overrides = read_overrides(origin, section_table(origin, root, "set"));
  read_grid(origin, root, spec);
  read_lr(origin, root, spec);
  read_wsd(origin, root, spec);
  return spec;
}

SweepSpec load_sweep(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError("sweep file " + path + " cannot be read (missing or not readable)");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_sweep_string(text.str(), path);
}

// ---------------------------------------------------------------- expansion
namespace {

struct ShapeCosts {
  int64_t params_total = 0, params_nonembed = 0;
  double flops_per_token = 0;   // the trainer's accounting: per new dataset token
  int64_t tokens_per_sequence = 0;
};

// Builds the model (parameters allocated, never touched) to read its own counts, so a sweep
// uses exactly the N and C the trainer will report.
ShapeCosts shape_costs(const JobConfig& job, int64_t vocab, kernels::Backend& backend) {
  auto model = make_model(job, vocab, backend);
  const ExampleShape example = example_shape(job);
  ShapeCosts costs;
  const model::ParameterCounts counts = model->parameter_counts();
  costs.params_total = counts.total;
  costs.params_nonembed = counts.non_embedding;
  costs.tokens_per_sequence = example.window_tokens - 1;
  costs.flops_per_token =
      model->training_flops_per_example(example.input_tokens, example.target_tokens) /
      double(costs.tokens_per_sequence);
  return costs;
}

void set_shape(JobConfig& job, const SweepShape& shape) {
  job.model.preset = "";
  job.model.d_model = shape.d_model;
  job.model.n_layer = shape.n_layer;
  job.model.n_head = shape.n_head;
  job.model.d_ff = shape.d_ff;
  job.model.d_kv = 0;
}

// The shape rule: the n_layer whose d_model = head_dim·round(aspect·n_layer/head_dim) gives
// the non-embedding N nearest the target (in log).
SweepShape shape_for_size(const SweepSpec& spec, double target, const JobConfig& base,
                          int64_t vocab, kernels::Backend& backend) {
  SweepShape best;
  double best_error = INFINITY;
  for (int64_t layers = 1; layers <= 256; ++layers) {
    SweepShape shape;
    shape.n_layer = layers;
    shape.d_model = std::max<int64_t>(
        spec.head_dim, std::llround(spec.aspect_ratio * double(layers) / double(spec.head_dim)) *
                           spec.head_dim);
    shape.n_head = shape.d_model / spec.head_dim;
    // The encoder-decoder has no default feed-forward width: T5 v1.1's gated FFN is about
    // 8/3·d_model wide (base: 768 → 2048), rounded to whole heads.
    if (base.model.family == "encdec")
      shape.d_ff = std::max<int64_t>(spec.head_dim, std::llround(8.0 / 3.0 * double(shape.d_model) /
                                                                 double(spec.head_dim)) *
                                                        spec.head_dim);
    JobConfig job = base;
    set_shape(job, shape);
    const double n = double(shape_costs(job, vocab, backend).params_nonembed);
    const double error = std::fabs(std::log(n / target));
    if (error < best_error) best_error = error, best = shape;
    if (n > 4 * target) break;
  }
  return best;
}

// "2e6", "1.5e13", "5e4": short and safe in folder names.
std::string compact(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", x);
  std::string s = buf;
  size_t e = s.find('e');
  if (e == std::string::npos) return s;
  std::string mantissa = s.substr(0, e), exponent = s.substr(e + 1);
  if (!exponent.empty() && exponent[0] == '+') exponent.erase(0, 1);
  bool negative = !exponent.empty() && exponent[0] == '-';
  if (negative) exponent.erase(0, 1);
  exponent.erase(0, std::min(exponent.find_first_not_of('0'), exponent.size() - 1));
  return mantissa + "e" + (negative ? "-" : "") + exponent;
}

struct SizedShape {
  SweepShape shape;
  std::string tag;  // "d64-l2"
  JobConfig job;    // base with shape, lr and batch
  ShapeCosts costs;
  size_t memory_bytes = 0;  // one rank's device memory (jobs/memory_plan.h), no ZeRO-1
};

std::vector<SizedShape> resolve_shapes(const SweepSpec& spec, const JobConfig& base, int64_t vocab,
                                       kernels::Backend& backend, std::vector<std::string>& notes) {
  std::vector<SweepShape> shapes = spec.models;
  for (size_t i = 0; i < spec.sizes.size(); ++i) {
    SweepShape shape = shape_for_size(spec, spec.sizes[i], base, vocab, backend);
    if (!spec.size_lr.empty()) shape.lr = spec.size_lr[i];
    if (!spec.size_global_batch.empty()) shape.global_batch = spec.size_global_batch[i];
    shapes.push_back(shape);
  }
  std::vector<SizedShape> sized;
  std::set<std::string> tags;
  for (size_t i = 0; i < shapes.size(); ++i) {
    SizedShape s;
    s.shape = shapes[i];
    s.tag = "d" + std::to_string(s.shape.d_model) + "-l" + std::to_string(s.shape.n_layer);
    if (!tags.insert(s.tag).second) {
      if (i >= spec.models.size()) {  // two targets rounded to one shape: train it once
        notes.push_back("size target " + compact(spec.sizes[i - spec.models.size()]) +
                        " gives " + s.tag + " again; dropped (use a smaller aspect_ratio or "
                        "head_dim for finer sizes)");
        continue;
      }
      s.tag += "-" + std::to_string(i);
    }
    s.job = base;
    set_shape(s.job, s.shape);
    s.costs = shape_costs(s.job, vocab, backend);
    if (s.shape.global_batch > 0) {
      s.job.batch.global_batch = s.shape.global_batch;
      s.job.batch.micro_batch = std::gcd(base.batch.micro_batch, s.shape.global_batch);
    }
    if (s.shape.lr > 0) {
      s.job.optimizer.lr = s.shape.lr;
    } else if (spec.lr_base > 0) {
      s.job.optimizer.lr = spec.lr_base * std::pow(double(s.costs.params_nonembed) /
                                                       spec.lr_at_params, -spec.lr_exponent);
    }
    s.memory_bytes = plan_memory(s.job, vocab, 1, s.job.train.recompute).total();
    if (!spec.sizes.empty()) {
      const double target = spec.sizes[i - spec.models.size()];
      char line[160];
      std::snprintf(line, sizeof line, "size %s: target N %.4g, achieved N_nonembed %lld (%+.1f%%)",
                    s.tag.c_str(), target, static_cast<long long>(s.costs.params_nonembed),
                    100.0 * (double(s.costs.params_nonembed) / target - 1));
      notes.push_back(line);
    }
    sized.push_back(std::move(s));
  }
  return sized;
}

SweepRun make_run(const SweepSpec& spec, const SizedShape& s, const std::string& folder,
                  const std::string& name, int64_t steps) {
  SweepRun run;
  run.name = name;
  run.job = s.job;
  run.job.run.dir = (fs::path(spec.out) / folder / name).string();
  run.job.train.steps = steps;
  run.job.sweep.name = spec.name;
  run.params_total = s.costs.params_total;
  run.params_nonembed = s.costs.params_nonembed;
  run.flops_per_token = s.costs.flops_per_token;
  run.memory_bytes = s.memory_bytes;
  run.tokens = double(steps) * double(s.job.batch.global_batch) *
               double(s.costs.tokens_per_sequence);
  run.flops = run.tokens * s.costs.flops_per_token;
  return run;
}

// Snaps WSD branch points to one checkpoint spacing per trunk and builds trunk + branches.
void add_wsd_runs(const SweepSpec& spec, const SizedShape& s,
                  const std::vector<std::pair<double, int64_t>>& points, SweepPlan& plan) {
  const int64_t warmup = s.job.schedule.warmup_steps;
  std::vector<std::pair<double, int64_t>> kept;
  std::vector<int64_t> ideal;
  for (const auto& [budget, steps] : points) {
    const int64_t cooldown = std::max<int64_t>(1, std::llround(spec.cooldown_fraction * steps));
    if (steps - cooldown < std::max<int64_t>(1, warmup)) {
      plan.notes.push_back("skipped " + s.tag + " at " + compact(budget) +
                           ": its branch point would fall inside warmup");
      continue;
    }
    kept.push_back({budget, steps});
    ideal.push_back(steps - cooldown);
  }
  if (kept.empty()) return;
  const int64_t longest = *std::max_element(ideal.begin(), ideal.end());
  int64_t spacing = 0;
  for (int64_t s_i : ideal) spacing = std::gcd(spacing, s_i);
  if (spacing * spec.max_checkpoints < longest)
    spacing = (longest + spec.max_checkpoints - 1) / spec.max_checkpoints;

  std::vector<SweepRun> branches;
  int64_t trunk_steps = 0;
  for (size_t i = 0; i < kept.size(); ++i) {
    const auto [budget, steps] = kept[i];
    int64_t branch = std::llround(double(ideal[i]) / double(spacing)) * spacing;
    while (branch >= steps) branch -= spacing;
    if (branch < std::max<int64_t>(spacing, warmup)) branch += spacing;
    if (branch >= steps || branch < std::max<int64_t>(1, warmup)) {
      plan.notes.push_back("skipped " + s.tag + " at " + compact(budget) +
                           ": no checkpoint step fits between warmup and its end");
      continue;
    }
    const std::string tag = (spec.flops.empty() ? "D" : "C") + compact(budget);
    SweepRun run = make_run(spec, s, "runs", s.tag + "-" + tag, steps);
    run.kind = SweepRunKind::branch;
    run.budget = budget;
    run.job.schedule.kind = "wsd";
    run.job.schedule.decay_steps = steps - branch;
    if (!spec.flops.empty()) run.job.sweep.budget = budget;
    run.job.sweep.branch_step = branch;
    trunk_steps = std::max(trunk_steps, branch);
    branches.push_back(std::move(run));
  }
  if (branches.empty()) return;
  SweepRun trunk = make_run(spec, s, "trunks", s.tag, trunk_steps);
  trunk.kind = SweepRunKind::trunk;
  trunk.job.schedule.kind = "constant";
  trunk.job.checkpoint.every =
      s.job.checkpoint.every > 0 ? std::gcd(s.job.checkpoint.every, spacing) : spacing;
  trunk.job.checkpoint.keep_every = spacing;
  for (auto& branch : branches) {
    branch.job.sweep.trunk = trunk.job.run.dir;
    plan.runs.push_back(std::move(branch));
  }
  plan.trunks.push_back(std::move(trunk));
}

}  // namespace

SweepPlan expand_sweep(const SweepSpec& spec) {
  JobConfig base;
  try {
    base = load_job(spec.base, spec.base_overrides);
  } catch (const UserError& e) {
    throw UserError(spec.origin + ": base job with [set]: " + e.what());
  }
  int64_t vocab = base.model.vocab_size;
  if (vocab == 0) vocab = io::read_dataset(base.data.dataset).vocab_size;
  // Shapes are costed on the sizing backend: models are built to be counted, never run.
  auto backend = kernels::make_sizing_backend(kernels::DType::kF32);

  SweepPlan plan;
  plan.name = spec.name;
  plan.out = spec.out;
  const bool isoflop = !spec.flops.empty();
  const std::vector<double>& budgets = isoflop ? spec.flops : spec.tokens;
  for (const SizedShape& s : resolve_shapes(spec, base, vocab, *backend, plan.notes)) {
    const double tokens_per_step =
        double(s.job.batch.global_batch) * double(s.costs.tokens_per_sequence);
    std::vector<std::pair<double, int64_t>> points;  // (budget, steps)
    for (double budget : budgets) {
      const double tokens = isoflop ? budget / s.costs.flops_per_token : budget;
      const int64_t steps = std::llround(tokens / tokens_per_step);
      const std::string point = s.tag + " at " + (isoflop ? "C=" : "D=") + compact(budget);
      if (steps < spec.min_steps) {
        plan.notes.push_back("skipped " + point + ": " + std::to_string(steps) +
                             " steps < grid.min_steps " + std::to_string(spec.min_steps));
        continue;
      }
      const double per_param = tokens / double(s.costs.params_nonembed);
      if (spec.max_tokens_per_param > 0 && (per_param < spec.min_tokens_per_param ||
                                            per_param > spec.max_tokens_per_param)) {
        plan.notes.push_back("skipped " + point + ": D/N " + compact(per_param) +
                             " outside grid.tokens_per_param [" +
                             compact(spec.min_tokens_per_param) + ", " +
                             compact(spec.max_tokens_per_param) + "]");
        continue;
      }
      points.push_back({budget, steps});
    }
    if (spec.wsd) {
      add_wsd_runs(spec, s, points, plan);
      continue;
    }
    for (const auto& [budget, steps] : points) {
      SweepRun run = make_run(spec, s, "runs",
                              s.tag + "-" + (isoflop ? "C" : "D") + compact(budget), steps);
      run.budget = budget;
      if (isoflop) run.job.sweep.budget = budget;
      plan.runs.push_back(std::move(run));
    }
  }
  if (plan.runs.empty())
    throw UserError(spec.origin + ": the grid has no run with at least grid.min_steps (" +
                    std::to_string(spec.min_steps) + ") steps" +
                    (spec.max_tokens_per_param > 0 ? " and D/N inside grid.tokens_per_param" : ""));
  return plan;
}

// ---------------------------------------------------------------- files
namespace {

std::string job_path(const SweepRun& run) { return run.job.run.dir + "/job.toml"; }

std::string run_list(const std::vector<SweepRun>& runs, const std::string& what) {
  std::string out = "# " + what + ": one `molt train` argument line per run (molt sweep)\n";
  for (const auto& run : runs) out += job_path(run) + "\n";
  return out;
}

std::string submit_script(const SweepPlan& plan) {
  const std::string runs = plan.out + "/runs.txt", trunks = plan.out + "/trunks.txt";
  std::string s =
      "#!/usr/bin/env bash\n"
      "# Submits sweep " + plan.name + " as Slurm job arrays (slurm/sweep-array.sbatch), from\n"
      "# the folder `molt sweep` ran in. Resubmitting is safe: finished runs end at once and\n"
      "# interrupted ones resume from their checkpoints.\n"
      "set -euo pipefail\n"
      "slurm=${MOLT_SLURM_DIR:-slurm}\n"
      "export MOLT_SLURM_DIR=$slurm\n";
  const std::string array = "sbatch --parsable --array=0-";
  if (plan.trunks.empty()) {
    s += array + std::to_string(plan.runs.size() - 1) + " \"$slurm/sweep-array.sbatch\" " + runs +
         "\n";
    return s;
  }
  s += "# WSD: the constant-rate trunks first; the cooldown branches start from their checkpoints.\n";
  s += "trunks=$(" + array + std::to_string(plan.trunks.size() - 1) +
       " \"$slurm/sweep-array.sbatch\" " + trunks + ")\n";
  s += array + std::to_string(plan.runs.size() - 1) +
       " --dependency=afterok:$trunks \"$slurm/sweep-array.sbatch\" " + runs + "\n";
  return s;
}

void write_job(const SweepRun& run) {
  const std::string path = job_path(run);
  const std::string text =
      "# Written by `molt sweep` (sweep " + run.job.sweep.name + "); edit the sweep file, not this.\n" +
      to_toml(run.job);
  if (fs::exists(path)) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream old;
    old << in.rdbuf();
    if (old.str() == text) return;
    if (!io::checkpoint_steps(run.job.run.dir).empty() || fs::exists(run.job.run.dir + "/summary.json"))
      throw UserError("run " + run.job.run.dir +
                      " has already started with another job; the sweep file changed it. Use a "
                      "new sweep folder (out) or remove that run");
  }
  fs::create_directories(run.job.run.dir);
  io::write_text_atomic(path, text);
}

}  // namespace

void write_sweep(const SweepPlan& plan) {
  fs::create_directories(plan.out);
  for (const auto& run : plan.trunks) write_job(run);
  for (const auto& run : plan.runs) write_job(run);
  io::write_text_atomic(plan.out + "/runs.txt", run_list(plan.runs, "runs of sweep " + plan.name));
  if (!plan.trunks.empty())
    io::write_text_atomic(plan.out + "/trunks.txt",
                          run_list(plan.trunks, "WSD trunks of sweep " + plan.name));
  io::write_text_atomic(plan.out + "/submit.sh", submit_script(plan));
  fs::permissions(plan.out + "/submit.sh", fs::perms::owner_exec | fs::perms::group_exec,
                  fs::perm_options::add);
  io::write_text_atomic(plan.out + "/plan.txt", describe_plan(plan));
}

std::string describe_plan(const SweepPlan& plan) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-8s %-24s %12s %10s %10s %10s %8s %10s %6s %10s\n", "kind",
                "name", "N_nonembed", "N", "D", "C", "steps", "lr", "batch", "GiB/rank");
  out += line;
  auto add = [&](const SweepRun& r) {
    const char* kind = r.kind == SweepRunKind::trunk    ? "trunk"
                       : r.kind == SweepRunKind::branch ? "branch"
                                                        : "run";
    std::snprintf(line, sizeof line,
                  "%-8s %-24s %12lld %10lld %10.4g %10.4g %8lld %10.3g %6lld %10.3g", kind,
                  r.name.c_str(), static_cast<long long>(r.params_nonembed),
                  static_cast<long long>(r.params_total), r.tokens, r.flops,
                  static_cast<long long>(r.job.train.steps), r.job.optimizer.lr,
                  static_cast<long long>(r.job.batch.global_batch),
                  double(r.memory_bytes) / double(1 << 30));
    out += line;
    if (r.kind == SweepRunKind::branch)
      out += "  from step " + std::to_string(r.job.sweep.branch_step) + ", cooldown " +
             std::to_string(r.job.schedule.decay_steps);
    out += "\n";
  };
  for (const auto& r : plan.trunks) add(r);
  for (const auto& r : plan.runs) add(r);
  for (const auto& note : plan.notes) out += "note: " + note + "\n";
  return out;
}

bool run_finished(const JobConfig& job) {
  const std::string path = job.run.dir + "/summary.json";
  std::ifstream in(path);
  if (!in) return false;
  try {
    nlohmann::json summary = nlohmann::json::parse(in);
    return summary.value("steps", int64_t{-1}) == job.train.steps;
  } catch (const nlohmann::json::exception&) {
    return false;  // a torn or foreign file: the run goes again and rewrites it
  }
}

}  // namespace molt
