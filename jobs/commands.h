// The `molt` subcommands. Each file jobs/cmd_<name>.cpp adds one subcommand to the app;
// main.cpp lists them in one place so `molt --help` shows them in a fixed order.
//
// A subcommand's callback throws molt::UserError for bad input; main turns that into one
// message and exit status 2.
#pragma once

#include <CLI/CLI.hpp>

namespace molt {

void add_prep_command(CLI::App& app);
void add_inspect_command(CLI::App& app);
void add_bench_command(CLI::App& app);

}  // namespace molt
