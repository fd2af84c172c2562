// Contract of jobs/sweep.h: sweep files are strict, and expansion gives the sizes, budgets
// and WSD branch points the file asks for.
#include "jobs/sweep.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "kernels/error.h"

namespace molt {
namespace {

// A file in the temporary folder that belongs to this process: ctest runs each test case as
// its own process, in parallel, and one writing a shared path while another reads it would
// hand the reader a torn file.
// Removed when the process ends.
std::string own_temp_path(const std::string& name) {
  struct Files {
    std::vector<std::string> paths;
    ~Files() {
      for (const std::string& path : paths) std::filesystem::remove(path);
    }
  };
  static Files files;
  files.paths.push_back((std::filesystem::temp_directory_path() /
                         ("molt-sweep-test-" + std::to_string(getpid()) + "-" + name))
                            .string());
  return files.paths.back();
}

// A base job that needs no dataset (the vocabulary is given).
std::string base_job() {
  static const std::string path = [] {
    std::string p = own_temp_path("base.toml");
    std::ofstream(p) << "[run]\ndir = \"unused\"\n[model]\nvocab_size = 512\nd_model = 64\n"
                        "n_layer = 2\nn_head = 4\nd_ff = 256\n[data]\ndataset = \"none\"\n"
                        "seq_len = 32\n[batch]\nglobal_batch = 8\nmicro_batch = 4\n"
                        "[schedule]\nwarmup_steps = 2\n[train]\nsteps = 1\n";
    return p;
  }();
  return path;
}

std::string sweep(const std::string& grid, const std::string& extra = "") {
  return "base = \"" + base_job() + "\"\nout = \"sw\"\n" + extra + "[grid]\n" + grid;
}

std::string error_of(const std::string& text) {
  try {
    expand_sweep(parse_sweep_string(text, "s.toml"));
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

TEST(SweepPlan, ExplicitGridIsEveryShapeTimesEveryTokenBudget) {
  SweepPlan plan = expand_sweep(parse_sweep_string(
      sweep("models = [{d_model = 32, n_layer = 1, n_head = 2, lr = 2e-3}, "
            "{d_model = 64, n_layer = 2, n_head = 4, global_batch = 16}]\n"
            "tokens = [25600, 51200]\n"),
      "s.toml"));
  ASSERT_EQ(plan.runs.size(), 4u);
  EXPECT_TRUE(plan.trunks.empty());
  EXPECT_EQ(plan.runs[0].name, "d32-l1-D2.56e4");
  EXPECT_EQ(plan.runs[0].job.run.dir, "sw/runs/d32-l1-D2.56e4");
  EXPECT_EQ(plan.runs[0].job.train.steps, 100);  // 25600 / (8·32)
  EXPECT_DOUBLE_EQ(plan.runs[0].job.optimizer.lr, 2e-3);
  EXPECT_EQ(plan.runs[0].job.model.d_ff, 0);  // 4·d_model, not the base's 256
  EXPECT_EQ(plan.runs[3].job.batch.global_batch, 16);
  EXPECT_EQ(plan.runs[3].job.train.steps, 100);  // 51200 / (16·32)
  EXPECT_EQ(plan.runs[3].job.sweep.name, "s");
  EXPECT_EQ(plan.runs[3].job.sweep.budget, 0);  // token budgets are not IsoFLOP tags
}

TEST(SweepPlan, SizeRuleKeepsAspectAndHeadSizeAndReportsAchievedN) {
  SweepPlan plan = expand_sweep(parse_sweep_string(
      sweep("sizes = [8e4, 4e5]\naspect_ratio = 16\nhead_dim = 16\ntokens = [1e5]\n",
            "[lr]\nbase = 1e-3\nat_params = 5e4\nexponent = 0.5\n"),
      "s.toml"));
  ASSERT_EQ(plan.runs.size(), 2u);
  for (const auto& run : plan.runs) {
    EXPECT_EQ(run.job.model.d_model % 16, 0);
    EXPECT_EQ(run.job.model.n_head, run.job.model.d_model / 16);
    double aspect = double(run.job.model.d_model) / double(run.job.model.n_layer);
    EXPECT_NEAR(aspect, 16, 4) << run.name;
  }
  EXPECT_NEAR(std::log(plan.runs[0].params_nonembed / 8e4), 0, std::log(1.5));
  EXPECT_NEAR(std::log(plan.runs[1].params_nonembed / 4e5), 0, std::log(1.5));
  EXPECT_NEAR(plan.runs[1].job.optimizer.lr,
              1e-3 * std::pow(plan.runs[1].params_nonembed / 5e4, -0.5), 1e-12);
  EXPECT_EQ(plan.notes.size(), 2u);  // the achieved sizes
}

TEST(SweepPlan, IsoFlopRunsMeetTheirBudgetWithinHalfAStep) {
  SweepPlan plan = expand_sweep(parse_sweep_string(
      sweep("models = [{d_model = 16, n_layer = 1, n_head = 2}, {d_model = 32, n_layer = 2, "
            "n_head = 2}, {d_model = 64, n_layer = 4, n_head = 4}]\nflops = [1e9, 3e9]\n"
            "min_steps = 20\n"),
      "s.toml"));
  ASSERT_FALSE(plan.runs.empty());
  for (const auto& run : plan.runs) {
    EXPECT_GE(run.job.train.steps, 20);
    EXPECT_LE(std::fabs(run.flops / run.budget - 1), 0.5 / run.job.train.steps) << run.name;
    EXPECT_EQ(run.job.sweep.budget, run.budget);
  }
  // Small budgets leave too few steps for the largest model: skipped and noted, not run.
  EXPECT_LT(plan.runs.size(), 6u);
  EXPECT_FALSE(plan.notes.empty());
}

TEST(SweepPlan, TokensPerParamWindowSkipsIsoFlopCornersAndListsThem) {
  const std::string grid =
      "models = [{d_model = 16, n_layer = 1, n_head = 2}, {d_model = 64, n_layer = 4, "
      "n_head = 4}]\nflops = [1e9, 1e10]\nmin_steps = 1\n";
  SweepPlan all = expand_sweep(parse_sweep_string(sweep(grid), "s.toml"));
  ASSERT_EQ(all.runs.size(), 4u);
  std::vector<double> ratios;
  for (const auto& run : all.runs) ratios.push_back(run.tokens / double(run.params_nonembed));
  std::sort(ratios.begin(), ratios.end());
  // A window around the two middle ratios drops the smallest and the largest D/N.
  const double low = std::sqrt(ratios[0] * ratios[1]), high = std::sqrt(ratios[2] * ratios[3]);
  SweepPlan window = expand_sweep(parse_sweep_string(
      sweep(grid + "tokens_per_param = [" + std::to_string(low) + ", " + std::to_string(high) +
            "]\n"),
      "s.toml"));
  ASSERT_EQ(window.runs.size(), 2u);
  for (const auto& run : window.runs) {
    const double ratio = run.tokens / double(run.params_nonembed);
    EXPECT_GE(ratio, low) << run.name;
    EXPECT_LE(ratio, high) << run.name;
  }
  int listed = 0;
  for (const auto& note : window.notes) listed += note.find("outside grid.tokens_per_param") != std::string::npos;
  EXPECT_EQ(listed, 2);
  EXPECT_NE(error_of(sweep(grid + "tokens_per_param = [5, 1]\n")).find("s.toml:7:20: grid.tokens_per_param"),
            std::string::npos)
      << error_of(sweep(grid + "tokens_per_param = [5, 1]\n"));
  EXPECT_NE(error_of(sweep(grid + "tokens_per_param = [1e9, 2e9]\n")).find("inside grid.tokens_per_param"),
            std::string::npos);
}

TEST(SweepPlan, EncdecSizesGetAGatedFeedForwardWidth) {
  const std::string path = own_temp_path("encdec.toml");
  std::ifstream decoder(base_job());
  std::string text((std::istreambuf_iterator<char>(decoder)), std::istreambuf_iterator<char>());
  text.replace(text.find("[model]\n"), 8, "[model]\nfamily = \"encdec\"\n");
  text.replace(text.find("[data]\n"), 7, "[data]\nobjective = \"prefix_lm\"\n");
  std::ofstream(path) << text;
  SweepPlan plan = expand_sweep(parse_sweep_string(
      "base = \"" + path + "\"\nout = \"sw\"\n[grid]\nsizes = [3e5]\naspect_ratio = 32\n"
      "head_dim = 16\ntokens = [1e5]\n",
      "s.toml"));
  ASSERT_EQ(plan.runs.size(), 1u);
  const auto& model = plan.runs[0].job.model;
  EXPECT_EQ(model.family, "encdec");
  EXPECT_EQ(model.d_ff % 16, 0);
  EXPECT_NEAR(double(model.d_ff) / double(model.d_model), 8.0 / 3.0, 0.5);
  EXPECT_NEAR(std::log(plan.runs[0].params_nonembed / 3e5), 0, std::log(2.0));
}

TEST(SweepPlan, WsdBranchesStartFromKeptTrunkCheckpoints) {
  SweepPlan plan = expand_sweep(parse_sweep_string(
      sweep("models = [{d_model = 32, n_layer = 1, n_head = 2}]\n"
            "tokens = [25600, 51200, 102400]\n",
            "[wsd]\ncooldown_fraction = 0.2\nmax_checkpoints = 4\n"),
      "s.toml"));
  ASSERT_EQ(plan.trunks.size(), 1u);
  ASSERT_EQ(plan.runs.size(), 3u);
  const JobConfig& trunk = plan.trunks[0].job;
  EXPECT_EQ(trunk.schedule.kind, "constant");
  int64_t longest = 0;
  for (const auto& run : plan.runs) {
    const JobConfig& job = run.job;
    EXPECT_EQ(job.schedule.kind, "wsd");
    EXPECT_EQ(job.sweep.trunk, trunk.run.dir);
    EXPECT_EQ(job.sweep.branch_step + job.schedule.decay_steps, job.train.steps);
    EXPECT_EQ(job.sweep.branch_step % trunk.checkpoint.keep_every, 0);
    EXPECT_EQ(job.sweep.branch_step % trunk.checkpoint.every, 0);
    EXPECT_NEAR(double(job.schedule.decay_steps) / double(job.train.steps), 0.2, 0.1);
    longest = std::max(longest, job.sweep.branch_step);
  }
  EXPECT_EQ(trunk.train.steps, longest);
  EXPECT_LE(trunk.train.steps / trunk.checkpoint.keep_every, 4);
}

TEST(SweepFile, UnknownKeysAndBadValuesNameFileKeyAndLine) {
  const std::string grid = "models = [{d_model = 32, n_layer = 1, n_head = 2}]\ntokens = [1e5]\n";
  EXPECT_NE(error_of(sweep(grid + "tokenz = [1]\n")).find("s.toml:6:1: unknown key grid.tokenz"),
            std::string::npos)
      << error_of(sweep(grid + "tokenz = [1]\n"));
  EXPECT_NE(error_of("base = \"b\"\nout = \"o\"\nouts = 1\n[grid]\n").find("s.toml:3:1: unknown key outs"),
            std::string::npos);
  EXPECT_NE(error_of(sweep("models = [{d_model = 32, n_layer = 1, n_head = 3}]\ntokens = [1e5]\n"))
                .find("multiple of n_head"),
            std::string::npos);
  EXPECT_NE(error_of(sweep("models = [{d_model = 32, n_layer = 1, n_head = 2, width = 3}]\n"
                           "tokens = [1e5]\n"))
                .find("unknown key grid.models.width"),
            std::string::npos);
  EXPECT_NE(error_of(sweep(grid + "min_steps = -3\n")).find("s.toml:6:13: grid.min_steps must be a "
                                                            "positive integer"),
            std::string::npos)
      << error_of(sweep(grid + "min_steps = -3\n"));
  EXPECT_NE(error_of(sweep("models = [{d_model = 32, n_layer = 1, n_head = 2}]\ntokens = [0]\n"))
                .find("grid.tokens must be > 0"),
            std::string::npos);
  EXPECT_NE(error_of(sweep(grid + "flops = [1e12]\n")).find("exactly one of tokens"),
            std::string::npos);
  EXPECT_NE(error_of(sweep("sizes = [1e5]\ntokens = [1e5]\n")).find("aspect_ratio"),
            std::string::npos);
  EXPECT_NE(error_of(sweep(grid, "[set.optimizer]\nlrr = 1\n")).find("s.toml:4:1: unknown job key "
                                                                    "set.optimizer.lrr"),
            std::string::npos)
      << error_of(sweep(grid, "[set.optimizer]\nlrr = 1\n"));
  EXPECT_NE(error_of(sweep(grid, "[set.optimizer]\nlr = \"fast\"\n")).find("optimizer.lr must be"),
            std::string::npos);
  EXPECT_NE(error_of(sweep(grid, "[wsd]\ncooldown_fraction = 1.5\n")).find("wsd.cooldown_fraction"),
            std::string::npos);
  EXPECT_NE(error_of(sweep(grid + "flops = [")).find("s.toml:6"), std::string::npos);
}

}  // namespace
}  // namespace molt
