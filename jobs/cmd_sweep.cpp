// `molt sweep SWEEP.toml`: expand a scaling-law grid into job files and a run list, then
// either print how to submit it to Slurm or (--local) train the runs here, one after another.
//
// --local runs each job as a child `molt train` (under `mpirun -np R` when --ranks R > 1), so
// every run is exactly what a Slurm array task would run, and a crash in one run cannot take
// the sweep's own state with it. Rerunning is safe: finished runs (summary.json with every
// step) are skipped and interrupted ones resume from their latest checkpoint.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "jobs/commands.h"
#include "jobs/sweep.h"
#include "jobs/trainer.h"
#include "kernels/error.h"

namespace molt {
namespace {

struct SweepArgs {
  std::string file;
  std::string out;
  bool local = false;
  bool dry_run = false;
  int ranks = 1;
  std::string mpirun = "mpirun";
};

std::string self_path() {
  std::error_code error;
  auto path = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::string("molt") : path.string();
}

// Runs argv as a child process and returns its exit status (128+signal when killed).
int run_child(const std::vector<std::string>& argv) {
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) throw UserError("cannot start a child process for " + argv[0]);
  if (pid == 0) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    std::fprintf(stderr, "molt sweep: cannot run %s\n", argv[0].c_str());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

// Trains the runs in order; stops at the first that does not finish and returns its status.
int train_locally(const std::vector<SweepRun>& runs, const SweepArgs& args) {
  for (const auto& run : runs) {
    if (run_finished(run.job)) {
      std::printf("molt sweep: %s finished, skipped\n", run.job.run.dir.c_str());
      continue;
    }
    std::vector<std::string> argv;
    if (args.ranks > 1) argv = {args.mpirun, "-np", std::to_string(args.ranks)};
    argv.push_back(self_path());
    argv.push_back("train");
    argv.push_back(run.job.run.dir + "/job.toml");
    std::printf("molt sweep: training %s\n", run.job.run.dir.c_str());
    const int status = run_child(argv);
    if (status != 0) {
      std::fprintf(stderr,
                   "molt sweep: %s ended with status %d; the sweep stops here (run it again to "
                   "resume)\n",
                   run.job.run.dir.c_str(), status);
      return status;
    }
  }
  return 0;
}

}  // namespace

void add_sweep_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "sweep", "Expand a scaling-law sweep into job files and a Slurm run list; --local trains it");
  auto args = std::make_shared<SweepArgs>();
  cmd->add_option("sweep", args->file, "Sweep file (TOML), e.g. jobs/examples/sweep-tiny.toml")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--out", args->out, "Sweep folder, instead of the file's `out`");
  cmd->add_flag("--local", args->local,
                "Train the runs here, one after another (finished ones are skipped)");
  cmd->add_option("--ranks", args->ranks, "With --local: ranks per run (mpirun -np R)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--mpirun", args->mpirun, "With --ranks > 1: the MPI launcher");
  cmd->add_flag("--dry-run", args->dry_run, "Print the plan; write nothing");
  cmd->callback([args] {
    SweepSpec spec = load_sweep(args->file);
    if (!args->out.empty()) spec.out = args->out;
    const SweepPlan plan = expand_sweep(spec);
    std::fputs(describe_plan(plan).c_str(), stdout);
    if (args->dry_run) return;
    write_sweep(plan);
    std::printf("molt sweep: %zu run(s)%s written to %s (runs.txt; plan.txt)\n", plan.runs.size(),
                plan.trunks.empty() ? ""
                                    : (" and " + std::to_string(plan.trunks.size()) +
                                       " WSD trunk(s) (trunks.txt)").c_str(),
                plan.out.c_str());
    if (!args->local) {
      std::printf("molt sweep: submit with  bash %s/submit.sh   or train here with --local\n",
                  plan.out.c_str());
      return;
    }
    int status = train_locally(plan.trunks, *args);
    if (status == 0) status = train_locally(plan.runs, *args);
    if (status == 0) std::printf("molt sweep: every run of %s is finished\n", plan.name.c_str());
    command_exit_status() = status;
  });
}

}  // namespace molt
