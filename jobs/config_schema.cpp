// The rows of the job schema. Adding a key: a field in jobs/config.h and one row here.
#include "jobs/config_schema.h"

#include <toml++/toml.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace molt {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Typed default values; a bare `1234` would be ambiguous among the variant's alternatives.
ConfigValue integer(int64_t v) { return ConfigValue{v}; }
ConfigValue real(double v) { return ConfigValue{v}; }
ConfigValue text(const char* v) { return ConfigValue{std::string(v)}; }
ConfigValue flag(bool v) { return ConfigValue{v}; }
ConfigValue no_entries() { return ConfigValue{StringMap{}}; }
const std::optional<ConfigValue> kRequired = std::nullopt;

const Bounds kAny{};
const Bounds kNonNegative{0, false, kInf, false};
const Bounds kPositive{0, true, kInf, false};
const Bounds kUnitClosed{0, false, 1, false};     // [0, 1]
const Bounds kUnitHalfOpen{0, false, 1, true};    // [0, 1)
const Bounds kUnitOpenClosed{0, true, 1, false};  // (0, 1]

// Number as short as round-trips, for messages ("3e-04" reads worse than "0.0003").
std::string short_number(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", x);
  return buf;
}

std::vector<KeySpec> build_schema() {
  using C = JobConfig;
  return {
      {"run",
       "dir",
       [](C& c) -> FieldRef { return &c.run.dir; },
       kRequired,
       kAny,
       {},
       "run folder: run.toml, metrics.jsonl, summary.json, checkpoints/"},
      {"run",
       "seed",
       [](C& c) -> FieldRef { return &c.run.seed; },
       integer(1234),
       kNonNegative,
       {},
       "seeds initialisation and the data order"},
      {"run",
       "device",
       [](C& c) -> FieldRef { return &c.run.device; },
       text("cpu"),
       kAny,
       {"cpu", "cuda"},
       "compute backend"},
      {"run",
       "precision",
       [](C& c) -> FieldRef { return &c.run.precision; },
       text("fp32"),
       kAny,
       {"fp32", "bf16"},
       "compute precision (master weights stay fp32)"},
      {"run",
       "peak_tflops",
       [](C& c) -> FieldRef { return &c.run.peak_tflops; },
       real(0),
       kNonNegative,
       {},
       "dense peak TFLOP/s of one rank's device, for mfu; 0 = known GPUs' own (none on CPU)"},

      {"model",
       "family",
       [](C& c) -> FieldRef { return &c.model.family; },
       text("decoder"),
       kAny,
       {"decoder", "encdec"},
       "decoder = GPT-2, encdec = T5 v1.1"},
      {"model",
       "preset",
       [](C& c) -> FieldRef { return &c.model.preset; },
       text(""),
       kAny,
       {},
       "named model size resolved by the model code; \"\" = none"},
      {"model",
       "vocab_size",
       [](C& c) -> FieldRef { return &c.model.vocab_size; },
       integer(0),
       kNonNegative,
       {},
       "0 = from the dataset"},
      {"model",
       "n_ctx",
       [](C& c) -> FieldRef { return &c.model.n_ctx; },
       integer(0),
       kNonNegative,
       {},
       "context length; 0 = from the preset or data.seq_len"},
      {"model",
       "d_model",
       [](C& c) -> FieldRef { return &c.model.d_model; },
       integer(0),
       kNonNegative,
       {},
       "residual width; 0 = from the preset"},
      {"model",
       "n_layer",
       [](C& c) -> FieldRef { return &c.model.n_layer; },
       integer(0),
       kNonNegative,
       {},
       "blocks per stack; 0 = from the preset"},
      {"model",
       "n_head",
       [](C& c) -> FieldRef { return &c.model.n_head; },
       integer(0),
       kNonNegative,
       {},
       "attention heads; 0 = from the preset"},
      {"model",
       "d_ff",
       [](C& c) -> FieldRef { return &c.model.d_ff; },
       integer(0),
       kNonNegative,
       {},
       "feed-forward width; 0 = from the preset, else 4·d_model"},
      {"model",
       "d_kv",
       [](C& c) -> FieldRef { return &c.model.d_kv; },
       integer(0),
       kNonNegative,
       {},
       "encdec: width of one attention head; 0 = from the preset, else d_model/n_head"},
      {"model",
       "n_decoder_layer",
       [](C& c) -> FieldRef { return &c.model.n_decoder_layer; },
       integer(0),
       kNonNegative,
       {},
       "encdec: decoder blocks; 0 = model.n_layer (n_layer counts encoder blocks)"},
      {"model",
       "share_cross_attention",
       [](C& c) -> FieldRef { return &c.model.share_cross_attention; },
       flag(false),
       kAny,
       {},
       "encdec: no cross-attention sublayer; self-attention attends over [input; target]"},
      {"model",
       "share_encoder_decoder",
       [](C& c) -> FieldRef { return &c.model.share_encoder_decoder; },
       flag(false),
       kAny,
       {},
       "encdec: one stack of parameters for input and target"},
      {"model",
       "cross_attention_source",
       [](C& c) -> FieldRef { return &c.model.cross_attention_source; },
       text("final"),
       kAny,
       {"final", "layerwise"},
       "encdec: decoder layer i attends to the final encoder output, or to encoder layer i"},
      {"model",
       "input_attention",
       [](C& c) -> FieldRef { return &c.model.input_attention; },
       text("bidirectional"),
       kAny,
       {"bidirectional", "causal"},
       "encdec: the encoder's self-attention mask"},

      {"data",
       "dataset",
       [](C& c) -> FieldRef { return &c.data.dataset; },
       kRequired,
       kAny,
       {},
       "dataset folder made by `molt prep`"},
      {"data",
       "seq_len",
       [](C& c) -> FieldRef { return &c.data.seq_len; },
       kRequired,
       kPositive,
       {},
       "tokens per training sequence"},
      {"data",
       "objective",
       [](C& c) -> FieldRef { return &c.data.objective; },
       text("causal"),
       kAny,
       {"causal", "prefix_lm", "span_corruption"},
       "training objective"},

      {"batch",
       "global_batch",
       [](C& c) -> FieldRef { return &c.batch.global_batch; },
       kRequired,
       kPositive,
       {},
       "sequences per optimizer step, over all ranks"},
      {"batch",
       "micro_batch",
       [](C& c) -> FieldRef { return &c.batch.micro_batch; },
       kRequired,
       kPositive,
       {},
       "sequences per forward/backward on one rank"},

      {"optimizer",
       "lr",
       [](C& c) -> FieldRef { return &c.optimizer.lr; },
       real(3e-4),
       kPositive,
       {},
       "peak AdamW learning rate"},
      {"optimizer",
       "beta1",
       [](C& c) -> FieldRef { return &c.optimizer.beta1; },
       real(0.9),
       kUnitHalfOpen,
       {},
       "AdamW first-moment decay"},
      {"optimizer",
       "beta2",
       [](C& c) -> FieldRef { return &c.optimizer.beta2; },
       real(0.95),
       kUnitHalfOpen,
       {},
       "AdamW second-moment decay"},
      {"optimizer",
       "eps",
       [](C& c) -> FieldRef { return &c.optimizer.eps; },
       real(1e-8),
       kPositive,
       {},
       "AdamW denominator epsilon"},
      {"optimizer",
       "weight_decay",
       [](C& c) -> FieldRef { return &c.optimizer.weight_decay; },
       real(0.1),
       kNonNegative,
       {},
       "decoupled weight decay"},
      {"optimizer",
       "grad_clip",
       [](C& c) -> FieldRef { return &c.optimizer.grad_clip; },
       real(1.0),
       kNonNegative,
       {},
       "clip the global gradient norm to this; 0 = off"},

      {"schedule",
       "kind",
       [](C& c) -> FieldRef { return &c.schedule.kind; },
       text("cosine"),
       kAny,
       {"cosine", "wsd", "constant"},
       "learning-rate schedule after warmup"},
      {"schedule",
       "warmup_steps",
       [](C& c) -> FieldRef { return &c.schedule.warmup_steps; },
       integer(0),
       kNonNegative,
       {},
       "linear warmup steps"},
      {"schedule",
       "min_lr_ratio",
       [](C& c) -> FieldRef { return &c.schedule.min_lr_ratio; },
       real(0.1),
       kUnitClosed,
       {},
       "final lr as a fraction of optimizer.lr"},
      {"schedule",
       "decay_fraction",
       [](C& c) -> FieldRef { return &c.schedule.decay_fraction; },
       real(0.2),
       kUnitOpenClosed,
       {},
       "wsd: fraction of steps spent decaying"},
      {"schedule",
       "decay_steps",
       [](C& c) -> FieldRef { return &c.schedule.decay_steps; },
       integer(0),
       kNonNegative,
       {},
       "wsd: steps spent decaying (the last ones); 0 = decay_fraction of train.steps"},

      {"train",
       "steps",
       [](C& c) -> FieldRef { return &c.train.steps; },
       kRequired,
       kPositive,
       {},
       "optimizer steps"},
      {"train",
       "recompute",
       [](C& c) -> FieldRef { return &c.train.recompute; },
       flag(false),
       kAny,
       {},
       "keep only each block's input and recompute the rest in backward: less activation "
       "memory for one more forward pass of the blocks"},

      {"eval",
       "every",
       [](C& c) -> FieldRef { return &c.eval.every; },
       integer(0),
       kNonNegative,
       {},
       "steps between evaluations; 0 = only at the end"},
      {"eval",
       "batches",
       [](C& c) -> FieldRef { return &c.eval.batches; },
       integer(4),
       kPositive,
       {},
       "validation batches per evaluation"},
      {"eval",
       "sets",
       [](C& c) -> FieldRef { return &c.eval.sets; },
       no_entries(),
       kAny,
       {},
       "extra validation sets, name = dataset folder, each logged as val/NAME (val split, else "
       "train)"},

      {"checkpoint",
       "every",
       [](C& c) -> FieldRef { return &c.checkpoint.every; },
       integer(0),
       kNonNegative,
       {},
       "steps between checkpoints; 0 = only at the end"},
      {"checkpoint",
       "keep_last",
       [](C& c) -> FieldRef { return &c.checkpoint.keep_last; },
       integer(2),
       kPositive,
       {},
       "newest checkpoints kept"},
      {"checkpoint",
       "keep_every",
       [](C& c) -> FieldRef { return &c.checkpoint.keep_every; },
       integer(0),
       kNonNegative,
       {},
       "also keep steps divisible by this; 0 = none"},
      {"checkpoint",
       "async",
       [](C& c) -> FieldRef { return &c.checkpoint.async; },
       flag(false),
       kAny,
       {},
       "write checkpoints from a background thread"},

      {"log",
       "every",
       [](C& c) -> FieldRef { return &c.log.every; },
       integer(1),
       kPositive,
       {},
       "steps between metrics.jsonl lines"},

      {"dist",
       "bucket_mb",
       [](C& c) -> FieldRef { return &c.dist.bucket_mb; },
       real(25),
       kPositive,
       {},
       "megabytes of gradient per all-reduce bucket (started during backward)"},
      {"dist",
       "shard_optimizer",
       [](C& c) -> FieldRef { return &c.dist.shard_optimizer; },
       flag(false),
       kAny,
       {},
       "ZeRO-1: each rank keeps 1/world of the AdamW state and updates only its shard"},
      {"dist",
       "backend",
       [](C& c) -> FieldRef { return &c.dist.backend; },
       text("auto"),
       kAny,
       {"auto", "nccl", "mpi"},
       "gradient sums: auto = NCCL when every rank has its own GPU, else MPI"},
      {"dist",
       "timeout_s",
       [](C& c) -> FieldRef { return &c.dist.timeout_s; },
       real(600),
       kPositive,
       {},
       "seconds a collective (NCCL or MPI) may wait for a peer before the job is ended as "
       "hung; must exceed rank 0's longest checkpoint write unless checkpoint.async"},

      {"sweep",
       "name",
       [](C& c) -> FieldRef { return &c.sweep.name; },
       text(""),
       kAny,
       {},
       "the sweep this run belongs to (set by molt sweep); \"\" = none"},
      {"sweep",
       "budget",
       [](C& c) -> FieldRef { return &c.sweep.budget; },
       real(0),
       kNonNegative,
       {},
       "IsoFLOP budget C of this run, copied to summary.json; 0 = none"},
      {"sweep",
       "trunk",
       [](C& c) -> FieldRef { return &c.sweep.trunk; },
       text(""),
       kAny,
       {},
       "WSD branch: run folder of the constant-LR trunk it starts from; \"\" = none"},
      {"sweep",
       "branch_step",
       [](C& c) -> FieldRef { return &c.sweep.branch_step; },
       integer(0),
       kNonNegative,
       {},
       "WSD branch: the trunk checkpoint step a fresh run starts from"},
  };
}

}  // namespace

bool Bounds::contains(double x) const {
  bool above = lo_open ? x > lo : x >= lo;
  bool below = hi_open ? x < hi : x <= hi;
  return above && below;
}

bool Bounds::unbounded() const { return lo == -kInf && hi == kInf; }

std::string Bounds::describe() const {
  if (hi == kInf) return (lo_open ? "> " : ">= ") + short_number(lo);
  if (lo == -kInf) return (hi_open ? "< " : "<= ") + short_number(hi);
  return std::string("in ") + (lo_open ? "(" : "[") + short_number(lo) + ", " + short_number(hi) +
         (hi_open ? ")" : "]");
}

ValueKind KeySpec::kind() const {
  JobConfig probe;
  return static_cast<ValueKind>(field(probe).index());
}

const std::vector<KeySpec>& job_schema() {
  static const std::vector<KeySpec> schema = build_schema();
  return schema;
}

const KeySpec* find_key_spec(const std::string& path) {
  for (const auto& spec : job_schema())
    if (spec.path() == path) return &spec;
  return nullptr;
}

const KeySpec* find_map_entry_spec(const std::string& path, std::string* name) {
  for (const auto& spec : job_schema()) {
    const std::string prefix = spec.path() + ".";
    if (spec.kind() == ValueKind::string_map && path.size() > prefix.size() &&
        path.compare(0, prefix.size(), prefix) == 0) {
      *name = path.substr(prefix.size());
      return &spec;
    }
  }
  return nullptr;
}

bool valid_entry_name(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  return true;
}

std::vector<std::string> schema_sections() {
  std::vector<std::string> sections;
  for (const auto& spec : job_schema())
    if (sections.empty() || sections.back() != spec.section) sections.push_back(spec.section);
  return sections;
}

std::vector<std::string> section_keys(const std::string& section) {
  std::vector<std::string> keys;
  for (const auto& spec : job_schema())
    if (spec.section == section) keys.push_back(spec.key);
  return keys;
}

JobConfig default_job_config() {
  JobConfig config;
  for (const auto& spec : job_schema())
    if (spec.default_value) write_key(spec, *spec.default_value, config);
  return config;
}

ConfigValue read_key(const KeySpec& spec, const JobConfig& config) {
  // The schema's accessors take a mutable config; reading through them changes nothing.
  FieldRef field = spec.field(const_cast<JobConfig&>(config));
  return std::visit([](auto* p) { return ConfigValue{*p}; }, field);
}

void write_key(const KeySpec& spec, const ConfigValue& value, JobConfig& config) {
  FieldRef field = spec.field(config);
  if (field.index() != value.index())
    throw std::logic_error("config value of the wrong kind for " + spec.path());
  std::visit([&value](auto* p) { *p = std::get<std::remove_reference_t<decltype(*p)>>(value); },
             field);
}

namespace {

// Shortest decimal that parses back to the same double, with a '.' or exponent so TOML
// reads it as a float (1.0, not 1). toml++ prints 17 digits, which reads badly in run.toml.
std::string format_float(double x) {
  char buf[40];
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, x);
    if (std::strtod(buf, nullptr) == x) break;
  }
  std::string s = buf;
  if (s.find_first_of(".eni") == std::string::npos) s += ".0";
  return s;
}

}  // namespace

std::string format_toml_value(const ConfigValue& value) {
  if (auto* i = std::get_if<int64_t>(&value)) return std::to_string(*i);
  if (auto* d = std::get_if<double>(&value)) return format_float(*d);
  if (auto* b = std::get_if<bool>(&value)) return *b ? "true" : "false";
  if (auto* map = std::get_if<StringMap>(&value)) {  // an inline table; names are bare keys
    std::string out;
    for (const auto& [name, text] : *map)
      out += (out.empty() ? "{ " : ", ") + name + " = " + format_toml_value(ConfigValue{text});
    return out.empty() ? "{}" : out + " }";
  }
  std::ostringstream out;  // toml++ quotes and escapes strings
  out << toml::value<std::string>(std::get<std::string>(value));
  return out.str();
}

}  // namespace molt
