#include "jobs/commands.h"
#include "kernels/error.h"

namespace molt {

void add_prep_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("prep", "Text -> SentencePiece tokenizer -> HDF5 token shards");
  cmd->callback([] { throw UserError("molt prep: not built yet"); });
}

}  // namespace molt
