// A checkpoint named on the command line (`molt eval`, `molt export`): either a checkpoint
// folder (RUN/checkpoints/step_XXXXXXXX) or a run folder, meaning its latest checkpoint;
// the job it was trained with comes from its state.toml.
#pragma once

#include <memory>
#include <string>

#include "jobs/config.h"
#include "kernels/backend.h"
#include "model/language_model.h"

namespace molt {

struct CheckpointSource {
  std::string folder;   // the checkpoint folder
  std::string run_dir;  // the run folder holding it (tokenizer.model, run.toml)
  JobConfig job;        // the resolved job, set to run.device "cpu", fp32
};

// Throws UserError when `path` is neither a checkpoint nor a run with one.
CheckpointSource open_checkpoint_source(const std::string& path);

// The job's model on `backend` with the checkpoint's weights. Throws UserError when the
// checkpoint does not fit the model its job describes.
std::unique_ptr<model::LanguageModel> load_checkpoint_model(const CheckpointSource& source,
                                                            kernels::Backend& backend);

}  // namespace molt
