// Entry point of the `molt` binary: one program, many subcommands (see README).
#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>

#include "dist/comm.h"
#include "jobs/commands.h"
#include "kernels/device_info.h"
#include "kernels/error.h"

int main(int argc, char** argv) {
  CLI::App app{"molt: data-parallel pretraining of GPT-2 and T5 v1.1 models, built to measure "
               "scaling laws"};
  app.set_version_flag("--version", std::string("molt ") + MOLT_VERSION + " (" +
                                        molt::kernels::build_description() + ")");
  app.require_subcommand(1);
  molt::add_prep_command(app);
  molt::add_train_command(app);
  molt::add_sample_command(app);
  molt::add_eval_command(app);
  molt::add_export_command(app);
  molt::add_inspect_command(app);
  molt::add_bench_command(app);
  molt::add_fit_command(app);
  molt::add_plot_command(app);
  molt::add_plan_command(app);
  molt::add_memory_command(app);
  molt::add_sweep_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints CLI11's message, which names the flag
    return molt::kUserErrorExit;
  } catch (const molt::UserError& e) {
    std::fprintf(stderr, "molt: error: %s\n", e.what());
    molt::dist::abort_job_if_distributed(molt::kUserErrorExit);  // no rank waits forever
    return molt::kUserErrorExit;
  } catch (const molt::dist::CommFault& e) {  // a peer failed or stalled before training
    std::fprintf(stderr, "molt: error: %s\n", e.what());
    molt::dist::abort_job_if_distributed(1);
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "molt: internal error: %s\n", e.what());
    molt::dist::abort_job_if_distributed(1);
    return 1;
  }
  return molt::command_exit_status();
}

int& molt::command_exit_status() {
  static int status = 0;
  return status;
}
