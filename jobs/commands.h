// The `molt` subcommands. Each file jobs/cmd_<name>.cpp adds one subcommand to the app;
// main.cpp lists them in one place so `molt --help` shows them in a fixed order.
//
// A subcommand's callback throws molt::UserError for bad input; main turns that into one
// message and exit status 2.
#pragma once

#include <CLI/CLI.hpp>

namespace molt {

// The process exit status a subcommand asks for (0 unless it sets one).
int& command_exit_status();

void add_prep_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_sample_command(CLI::App& app);
void add_eval_command(CLI::App& app);  // `molt eval`, in cmd_eval.cpp
void add_export_command(CLI::App& app);
void add_inspect_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_fit_command(CLI::App& app);   // `molt fit`, in cmd_fit.cpp
void add_plot_command(CLI::App& app);  // `molt plot`, in cmd_plot.cpp
void add_plan_command(CLI::App& app);
void add_memory_command(CLI::App& app);  // `molt memory`, in cmd_memory.cpp
void add_sweep_command(CLI::App& app);  // `molt sweep`, in cmd_sweep.cpp
void add_bench_model_command(CLI::App& bench);  // `molt bench model`, in bench_model.cpp

}  // namespace molt
