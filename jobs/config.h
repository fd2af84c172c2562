// The job config: one strict TOML file per run, resolved into a plain struct.
//
// Every job (train, eval, sweep members, resumes) goes through this one loader, so a typo is
// caught the same way everywhere: unknown keys and tables, wrong types and out-of-range values
// are errors that name the file, the key and the line, never silently ignored. The keys, their
// types, defaults, ranges and docs live in one declarative table (jobs/config_schema.h); the
// parser, the `--set` overrides and the TOML writer all walk that table, so adding a key is
// one line there plus one field here.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace molt {

// A table of names → text, e.g. [eval.sets]. Names are identifiers ([A-Za-z0-9_-]+), so
// they are bare TOML keys and safe in metric names.
using StringMap = std::map<std::string, std::string>;

struct RunSection {
  std::string dir;        // run folder: run.toml, metrics.jsonl, checkpoints/
  int64_t seed = 0;       // seeds init, data order and dropout-free sampling
  std::string device;     // "cpu" | "cuda"
  std::string precision;  // "fp32" | "bf16"
  double peak_tflops = 0;  // MFU's denominator per rank; 0 = kernels::dense_peak_flops
};

struct ModelSection {
  std::string family;      // "decoder" (GPT-2) | "encdec" (T5 v1.1)
  std::string preset;      // a named size resolved by model/; "" = none
  int64_t vocab_size = 0;  // 0 = from the dataset
  int64_t n_ctx = 0;       // 0 = from the preset, else seq_len
  int64_t d_model = 0;     // 0 = from the preset
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t d_ff = 0;  // 0 = from the preset, else 4·d_model
  int64_t d_kv = 0;             // encdec head dim; 0 = from the preset, else d_model/n_head
  int64_t n_decoder_layer = 0;  // encdec decoder blocks; 0 = n_layer
  // encdec structure ladder (model/t5_config.h, docs/structure/); defaults are T5 v1.1.
  bool share_cross_attention = false;
  bool share_encoder_decoder = false;
  std::string cross_attention_source;  // "final" | "layerwise"
  std::string input_attention;         // "bidirectional" | "causal"
};

struct DataSection {
  std::string dataset;    // dataset folder (train-*.h5, val-*.h5, tokenizer.model)
  int64_t seq_len = 0;    // tokens per sequence
  std::string objective;  // "causal" | "prefix_lm" | "span_corruption"
};

struct BatchSection {
  int64_t global_batch = 0;  // sequences per optimizer step, summed over ranks
  int64_t micro_batch = 0;   // sequences per forward/backward on one rank
};

struct OptimizerSection {  // AdamW
  double lr = 0;
  double beta1 = 0;
  double beta2 = 0;
  double eps = 0;
  double weight_decay = 0;
  double grad_clip = 0;  // global-norm clip; 0 = off
};

struct ScheduleSection {
  std::string kind;  // "cosine" | "wsd" | "constant"
  int64_t warmup_steps = 0;
  double min_lr_ratio = 0;    // final lr = min_lr_ratio·lr (cosine, wsd)
  double decay_fraction = 0;  // wsd: the last fraction of steps decays linearly
  int64_t decay_steps = 0;    // wsd: decay over exactly this many last steps; 0 = use the fraction
};

struct TrainSection {
  int64_t steps = 0;       // optimizer steps
  bool recompute = false;  // activation recomputation (LanguageModel::set_recompute)
};

struct EvalSection {
  int64_t every = 0;    // steps between evals; 0 = only at the end
  int64_t batches = 0;  // validation batches per eval
  StringMap sets;       // extra validation sets: name → dataset folder (jobs/eval_sets.h)
};

struct CheckpointSection {
  int64_t every = 0;       // steps between checkpoints; 0 = only at the end
  int64_t keep_last = 0;   // newest checkpoints kept
  int64_t keep_every = 0;  // also keep steps divisible by this; 0 = none
  bool async = false;      // write from a background thread
};

struct LogSection {
  int64_t every = 0;  // steps between metrics lines
};

struct DistSection {  // data parallelism over ranks (dist/)
  double bucket_mb = 0;          // gradient bytes per all-reduce bucket, in MB (2^20 bytes)
  bool shard_optimizer = false;  // ZeRO-1: reduce-scatter grads, shard AdamW, all-gather params
  std::string backend;           // "auto" | "nccl" | "mpi" (dist/comm.h CommBackend)
  double timeout_s = 0;          // NCCL: a collective unfinished after this long ends the job
};

// Where a run sits in a sweep (`molt sweep`); copied into summary.json for `molt fit`.
struct SweepSection {
  std::string name;         // the sweep's name; "" = not part of a sweep
  double budget = 0;        // the IsoFLOP budget C this run belongs to; 0 = none
  std::string trunk;        // WSD branch: the trunk's run folder; "" = not a branch
  int64_t branch_step = 0;  // WSD branch: the trunk checkpoint step it starts from
};

struct JobConfig {
  RunSection run;
  ModelSection model;
  DataSection data;
  BatchSection batch;
  OptimizerSection optimizer;
  ScheduleSection schedule;
  TrainSection train;
  EvalSection eval;
  CheckpointSection checkpoint;
  LogSection log;
  DistSection dist;
  SweepSection sweep;
};

// Every key equal (compared key by key through the schema).
bool operator==(const JobConfig& a, const JobConfig& b);
bool operator!=(const JobConfig& a, const JobConfig& b);

// Reads a job file, applies `--set key=value` overrides (later ones win) and validates.
// Throws UserError naming the file (or the override), the key and line:column.
JobConfig load_job(const std::string& path, const std::vector<std::string>& overrides = {});

// Same as load_job for text already in memory (e.g. a checkpoint's state.toml);
// `origin` names it in error messages.
JobConfig parse_job_string(const std::string& text, const std::string& origin,
                           const std::vector<std::string>& overrides = {});

// The resolved config as TOML: every key, in schema order, with its doc as a comment.
// parse_job_string(to_toml(c), ...) == c.
std::string to_toml(const JobConfig& config);

// Micro-batches each rank runs per optimizer step: global_batch / (micro_batch·world).
// Throws UserError naming batch.global_batch, batch.micro_batch and the world size when
// that is not a positive integer.
int accum_steps(const JobConfig& config, int world);

}  // namespace molt
