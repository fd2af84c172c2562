// `molt plan`: scaling on paper. From one measured single-rank step time, the gradient bytes
// and an assumed bus bandwidth, predicts the step time and scaling efficiency of data
// parallelism at 8..1024 GPUs.
//
// Assumptions (printed with the table, so a reader of the output knows them):
//  * Weak scaling: every GPU keeps the same micro-batch, so compute per step stays the
//    measured single-rank step time S; the global batch grows with W.
//  * Ring all-reduce of B bytes at bus bandwidth β, in buckets of b bytes (k = ⌈B/b⌉), each
//    ring step paying a latency α:
//        T_comm = 2·(W−1)/W · B/β + k · 2·(W−1) · α
//  * Overlap: bucket sums start while backward still runs. Backward is a fraction f of the
//    step (≈ 2/3: twice the forward FLOPs), and the last bucket can only start when backward
//    ends, so the exposed communication is
//        T_exposed = max(T_comm / k, T_comm − f·S·(k−1)/k)
//    and the step takes S + T_exposed; efficiency = S / (S + T_exposed).
//  * ZeRO-1 moves the same bytes (reduce-scatter + all-gather = one all-reduce). The
//    reduce-scatter half (T_comm/2) overlaps backward like the all-reduce, but the all-gather
//    half can only follow the optimizer step: S + T_exposed(T_comm/2) + T_comm/2.
//  * Not modelled: stragglers, congestion, data loading, the optimizer step, and NCCL's
//    tree algorithms (whose latency grows as log W rather than W).
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "jobs/commands.h"
#include "kernels/error.h"

namespace molt {
namespace {

struct PlanInputs {
  double params = 0;
  double step_seconds = 0;
  double bandwidth_gbs = 0;  // GB/s = 1e9 bytes/s
  double grad_bytes = 4;     // bytes per reduced gradient element
  double bucket_mb = 25;
  double latency_us = 5;
  double backward_fraction = 2.0 / 3.0;
  std::vector<int> worlds{8, 16, 32, 64, 128, 256, 512, 1024};
};

struct PlanRow {
  int world = 0;
  double comm_seconds = 0, step_seconds = 0, efficiency = 0, zero1_efficiency = 0;
};

PlanRow plan_row(const PlanInputs& in, int world) {
  const double bytes = in.params * in.grad_bytes;
  const double bucket_bytes = in.bucket_mb * double(1 << 20);
  const double buckets = std::max(1.0, std::ceil(bytes / bucket_bytes));
  const double w = world;
  PlanRow row;
  row.world = world;
  row.comm_seconds = 2 * (w - 1) / w * bytes / (in.bandwidth_gbs * 1e9) +
                     buckets * 2 * (w - 1) * in.latency_us * 1e-6;
  const double hidden_under = in.backward_fraction * in.step_seconds * (buckets - 1) / buckets;
  auto exposed = [&](double comm_seconds) {
    return std::max(comm_seconds / buckets, comm_seconds - hidden_under);
  };
  row.step_seconds = in.step_seconds + exposed(row.comm_seconds);
  row.efficiency = in.step_seconds / row.step_seconds;
  const double half = row.comm_seconds / 2;  // reduce-scatter overlapped, all-gather not
  row.zero1_efficiency = in.step_seconds / (in.step_seconds + exposed(half) + half);
  return row;
}

void print_plan(const PlanInputs& in) {
  if (in.params <= 0 || in.step_seconds <= 0 || in.bandwidth_gbs <= 0 || in.grad_bytes <= 0 ||
      in.bucket_mb <= 0 || in.latency_us < 0 || in.backward_fraction < 0 ||
      in.backward_fraction > 1) {
    throw UserError("molt plan: --params, --step-seconds, --bandwidth-gbs, --grad-bytes and "
                    "--bucket-mb must be > 0, --latency-us >= 0, --backward-fraction in [0, 1]");
  }
  const double bytes = in.params * in.grad_bytes;
  std::printf("molt plan: %.4g parameters x %g bytes = %.4g MB of gradients per step, "
              "buckets of %g MB\n",
              in.params, in.grad_bytes, bytes / 1e6, in.bucket_mb);
  std::printf("  measured single-rank step %.4g s (backward %.0f%% of it), bus bandwidth %g GB/s, "
              "latency %g us per ring step\n",
              in.step_seconds, 100 * in.backward_fraction, in.bandwidth_gbs, in.latency_us);
  std::printf("  assumptions: weak scaling (same micro-batch per GPU), ring all-reduce "
              "2(W-1)/W*bytes/bandwidth + buckets*2(W-1)*latency,\n"
              "  overlapped with backward except the last bucket; ZeRO-1: the reduce-scatter "
              "half overlaps, the all-gather half follows the optimizer step\n\n");
  std::printf("%8s %12s %12s %12s %12s\n", "GPUs", "comm_s", "step_s", "efficiency",
              "zero1_eff");
  for (int world : in.worlds) {
    const PlanRow row = plan_row(in, world);
    std::printf("%8d %12.4g %12.4g %11.1f%% %11.1f%%\n", row.world, row.comm_seconds,
                row.step_seconds, 100 * row.efficiency, 100 * row.zero1_efficiency);
  }
}

}  // namespace

void add_plan_command(CLI::App& app) {
  auto inputs = std::make_shared<PlanInputs>();
  CLI::App* cmd = app.add_subcommand(
      "plan", "Predict data-parallel step time and scaling efficiency at 8-1024 GPUs from a "
              "measured single-rank step time");
  cmd->add_option("--params", inputs->params, "Parameters (gradient elements reduced per step)")
      ->required();
  cmd->add_option("--step-seconds", inputs->step_seconds, "Measured single-rank step time")
      ->required();
  cmd->add_option("--bandwidth-gbs", inputs->bandwidth_gbs, "Assumed bus bandwidth, GB/s")
      ->required();
  cmd->add_option("--grad-bytes", inputs->grad_bytes, "Bytes per reduced gradient element")
      ->capture_default_str();
  cmd->add_option("--bucket-mb", inputs->bucket_mb, "All-reduce bucket size, MB")
      ->capture_default_str();
  cmd->add_option("--latency-us", inputs->latency_us, "Latency of one ring step, microseconds")
      ->capture_default_str();
  cmd->add_option("--backward-fraction", inputs->backward_fraction,
                  "Fraction of the step spent in backward (where buckets overlap)")
      ->capture_default_str();
  cmd->add_option("--worlds", inputs->worlds, "GPU counts to predict, e.g. 8,64,512")
      ->delimiter(',')
      ->capture_default_str();
  cmd->callback([inputs] { print_plan(*inputs); });
}

}  // namespace molt
