#include "jobs/commands.h"
#include "kernels/error.h"

namespace molt {

void add_inspect_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("inspect", "Describe a token shard, dataset or checkpoint");
  cmd->callback([] { throw UserError("molt inspect: not built yet"); });
}

}  // namespace molt
