// `molt sweep`: a scaling-law grid as job files.
//
// A sweep file names a base job, a grid of model shapes and a list of budgets; expansion turns
// it into one fully resolved job per run. Shapes are explicit or come from target sizes N
// (non-embedding) through a shape rule: d_model/n_layer ≈ aspect_ratio, d_model a multiple of
// head_dim, n_head = d_model/head_dim; the achieved N is what is reported and fitted.
// Budgets are token counts D (every shape × every D) or compute budgets C (IsoFLOP: for each
// C, D = C / flops_per_token(shape), using the trainer's own FLOP accounting), and a run's
// optimizer steps are D / (global_batch·tokens per sequence), rounded. Rounding moves a run's
// C by at most half a step: |C_run/C - 1| ≤ 0.5/steps ≤ 0.5/min_steps. Runs with fewer than
// min_steps steps, or whose D/N lies outside grid.tokens_per_param, are skipped and listed.
//
// Warmup-stable-decay branches (Hägele et al. 2024), when the file has [wsd]: each shape gets
// one constant-rate trunk, and every (shape, budget) run becomes a cooldown branch started
// from the trunk's checkpoint at step s and decayed linearly over its last k steps
// (k ≈ cooldown_fraction·T, s = T - k). Branch points are snapped to multiples of one
// checkpoint spacing q per trunk, chosen so a trunk keeps at most max_checkpoints of them
// (checkpoint.keep_every = q); k absorbs the snap, so T (hence D and C) is unchanged.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "jobs/config.h"

namespace molt {

// One model shape of the grid; lr and global_batch 0 = from the rule or the base job.
struct SweepShape {
  int64_t d_model = 0, n_layer = 0, n_head = 0, d_ff = 0;
  double lr = 0;
  int64_t global_batch = 0;
};

// The sweep file, checked but not expanded. Paths are as written (relative to the current
// folder, like run.dir in a job file).
struct SweepSpec {
  std::string origin;  // the sweep file, for messages
  std::string name;    // default: the file's stem
  std::string base;    // base job file
  std::string out;     // sweep folder
  std::vector<std::string> base_overrides;  // [set] as `section.key=value` overrides

  std::vector<SweepShape> models;  // explicit shapes, or
  std::vector<double> sizes;       // target non-embedding N with the shape rule
  std::vector<double> size_lr;            // optional, parallel to sizes
  std::vector<int64_t> size_global_batch; // optional, parallel to sizes
  double aspect_ratio = 0;         // d_model / n_layer
  int64_t head_dim = 0;

  std::vector<double> tokens;  // D budgets, or
  std::vector<double> flops;   // C budgets (IsoFLOP)
  int64_t min_steps = 10;
  // Optional window on D/N (N non-embedding): IsoFLOP corners far from any optimum (a tiny
  // model on a huge budget, a huge one on a few steps) are skipped and listed. 0 = no bound.
  double min_tokens_per_param = 0, max_tokens_per_param = 0;

  // lr = lr_base·(N/lr_at_params)^-lr_exponent when lr_base > 0.
  double lr_base = 0, lr_at_params = 0, lr_exponent = 0;

  bool wsd = false;
  double cooldown_fraction = 0.2;
  int64_t max_checkpoints = 32;
};

// Reads and checks a sweep file: unknown keys and tables, wrong types and bad values are
// UserErrors naming the file, the key and line:column.
SweepSpec load_sweep(const std::string& path);
SweepSpec parse_sweep_string(const std::string& text, const std::string& origin);

enum class SweepRunKind { run, trunk, branch };

struct SweepRun {
  std::string name;  // folder name under runs/ (trunks/ for trunks)
  SweepRunKind kind = SweepRunKind::run;
  JobConfig job;     // fully resolved, run.dir set
  int64_t params_total = 0, params_nonembed = 0;
  double flops_per_token = 0;
  double tokens = 0;  // D the run will have seen
  double flops = 0;   // C, as the trainer counts it
  double budget = 0;  // the C (or D) it was made for
  size_t memory_bytes = 0;  // one rank's device memory, as `molt memory` counts it (no ZeRO-1)
};

struct SweepPlan {
  std::string name;
  std::string out;
  std::vector<SweepRun> trunks;  // WSD only; train these first
  std::vector<SweepRun> runs;    // the fit points (plain runs or branches)
  std::vector<std::string> notes;  // skipped points and achieved sizes, for the user
};

// Expands the grid against the base job. The vocabulary is the base job's model.vocab_size,
// else the dataset's (so the dataset must exist unless the vocabulary is given).
SweepPlan expand_sweep(const SweepSpec& spec);

// Writes OUT/{runs,trunks}/NAME/job.toml, OUT/runs.txt (and trunks.txt), OUT/submit.sh and
// OUT/plan.txt. A job file that would change under a run that has already started is a
// UserError (a new sweep folder is the honest way to change a started run).
void write_sweep(const SweepPlan& plan);

// The plan as a table, one line per run, plus the notes.
std::string describe_plan(const SweepPlan& plan);

// True when RUN/summary.json exists and records train.steps steps.
bool run_finished(const JobConfig& job);

}  // namespace molt
