// `molt train JOB.toml`: load the job (with --set overrides) and run the trainer.
#include "jobs/commands.h"
#include "jobs/config.h"
#include "jobs/trainer.h"

namespace molt {

void add_train_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "train", "Train a model from a job file; resumes from the run folder's latest checkpoint");
  struct Args {
    std::string job;
    std::vector<std::string> overrides;
    TrainOptions options;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("job", args->job, "Job file (TOML), e.g. jobs/examples/tiny-gpt.toml")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--set", args->overrides,
                  "Override a key, type-checked like the file: --set optimizer.lr=3e-4")
      ->type_name("KEY=VALUE");
  cmd->add_flag("--fresh", args->options.fresh,
                "Refuse to resume: fail if the run folder already has checkpoints");
  cmd->add_option("--resume", args->options.resume_from,
                  "Resume from this checkpoint folder instead of the run's latest");
  cmd->add_option("--stop-at", args->options.stop_at,
                  "Checkpoint after this step and stop with status 75, as on a stop signal")
      ->check(CLI::PositiveNumber);
  cmd->callback([args] {
    JobConfig job = load_job(args->job, args->overrides);
    command_exit_status() = run_training(job, args->options);
  });
}

}  // namespace molt
