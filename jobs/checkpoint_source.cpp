#include "jobs/checkpoint_source.h"

#include <filesystem>
#include <fstream>

#include "io/checkpoint.h"
#include "jobs/model_factory.h"
#include "jobs/run_state.h"
#include "kernels/error.h"

namespace molt {
namespace fs = std::filesystem;

CheckpointSource open_checkpoint_source(const std::string& path) {
  CheckpointSource source;
  if (fs::exists(path + "/state.toml")) {
    source.folder = path;
  } else if (auto latest = io::latest_checkpoint(path)) {
    source.folder = *latest;
  } else {
    throw UserError(path + " is neither a checkpoint folder nor a run with checkpoints");
  }
  fs::path folder(source.folder);
  if (!folder.has_filename()) folder = folder.parent_path();  // "step_00000010/"
  source.run_dir = folder.parent_path().parent_path().string();
  const std::string state_path = source.folder + "/state.toml";
  std::ifstream in(state_path);
  if (!in) throw UserError("cannot read " + state_path);
  const std::string text(std::istreambuf_iterator<char>(in), {});
  parse_run_state(text, state_path, &source.job);
  source.job.run.device = "cpu";
  source.job.run.precision = "fp32";
  return source;
}

std::unique_ptr<model::LanguageModel> load_checkpoint_model(const CheckpointSource& source,
                                                            kernels::Backend& backend) {
  auto model = make_model(source.job, source.job.model.vocab_size, backend);
  io::LoadedCheckpoint checkpoint = io::read_checkpoint(source.folder, model->table());
  backend.upload(model->params(), checkpoint.params.data());
  if (model->compute_params().data != model->params().data) {
    backend.copy(model->compute_params(), model->params());
  }
  return model;
}

}  // namespace molt
