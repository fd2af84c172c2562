// The checkpoint folder protocol: tmp folder, fsync, rename, then `latest`, then pruning.
// The file encodings live in checkpoint_files.cpp.
#include "io/checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>

#include "io/checkpoint_files.h"
#include "kernels/error.h"

namespace molt::io {
namespace {

namespace fs = std::filesystem;

const std::regex kStepFolder("step_([0-9]+)");

std::string checkpoints_dir(const std::string& run_dir) {
  return (fs::path(run_dir) / "checkpoints").string();
}

// Programmer errors: the trainer must hand over a consistent buffer description.
void check_contents(const CheckpointContents& c) {
  if (c.table == nullptr || c.params == nullptr)
    throw std::invalid_argument("checkpoint contents need a table and parameters");
  size_t end = 0;
  std::vector<OptimizerShard> shards = c.optimizer;
  std::sort(shards.begin(), shards.end(),
            [](const auto& a, const auto& b) { return a.offset < b.offset; });
  for (const auto& s : shards) {
    if (s.offset != end || s.m == nullptr || s.v == nullptr)
      throw std::invalid_argument("optimizer shards must tile the parameter buffer");
    end += s.count;
  }
  if (end != table_count(*c.table))
    throw std::invalid_argument("optimizer shards must cover every parameter");
  for (const auto& entry : *c.table)
    if (entry.name.find('/') != std::string::npos)
      throw std::invalid_argument("tensor names may not contain '/': " + entry.name);
}

std::string read_text(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(what + " " + path + " is missing or unreadable");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The folder name `latest` holds, or "" when there is no `latest`.
std::string latest_name(const std::string& dir) {
  std::string path = (fs::path(dir) / "latest").string();
  if (!fs::exists(path)) return "";
  std::string text = read_text(path, "checkpoint pointer");
  std::string name = text.substr(0, text.find_first_of("\r\n"));
  if (!std::regex_match(name, kStepFolder))
    throw UserError("checkpoint pointer " + path + " is corrupt: it holds '" + name +
                    "', not a step folder name");
  return name;
}

// Renames the finished tmp folder into place. A folder of the same step (a rerun from an
// earlier checkpoint) is moved aside first and removed once the new one is in place.
void publish(const std::string& tmp, const std::string& final_dir, FileOps& ops) {
  std::string aside = final_dir + ".old";
  bool replacing = fs::exists(final_dir);
  if (replacing) {
    ops.remove_all(aside);
    ops.rename(final_dir, aside);
  }
  ops.rename(tmp, final_dir);
  if (replacing) ops.remove_all(aside);
}

void write_folder(const std::string& tmp, const CheckpointContents& c, FileOps& ops) {
  ops.create_dirs(tmp);
  std::string model = (fs::path(tmp) / "model.h5").string();
  write_model_file(model, *c.table, c.params);
  ops.sync_file(model);
  std::string optim = (fs::path(tmp) / "optim.h5").string();
  write_optimizer_file(optim, table_count(*c.table), c.optimizer);
  ops.sync_file(optim);
  ops.write_file((fs::path(tmp) / "state.toml").string(), c.state_toml);
  ops.sync_dir(tmp);
}

// Removes step folders the policy does not keep; never the one `latest` names. Also clears
// tmp folders left by a crashed write.
void prune(const std::string& run_dir, const RetentionPolicy& retention, FileOps& ops) {
  std::string dir = checkpoints_dir(run_dir);
  std::vector<int64_t> steps = checkpoint_steps(run_dir);
  std::string latest = latest_name(dir);
  size_t keep_last = static_cast<size_t>(std::max<int64_t>(1, retention.keep_last));
  for (size_t i = 0; i < steps.size(); ++i) {
    std::string name = checkpoint_folder_name(steps[i]);
    bool recent = i + keep_last >= steps.size();
    bool milestone = retention.keep_every > 0 && steps[i] % retention.keep_every == 0;
    if (!recent && !milestone && name != latest) ops.remove_all((fs::path(dir) / name).string());
  }
  for (const auto& item : fs::directory_iterator(dir)) {
    std::string name = item.path().filename().string();
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0 && item.is_directory())
      ops.remove_all(item.path().string());
  }
}

}  // namespace

std::string checkpoint_folder_name(int64_t step) {
  char name[40];
  std::snprintf(name, sizeof name, "step_%08lld", static_cast<long long>(step));
  return name;
}

std::string write_checkpoint(const std::string& run_dir, int64_t step,
                             const CheckpointContents& contents, const RetentionPolicy& retention,
                             FileOps& ops) {
  check_contents(contents);
  const std::string dir = checkpoints_dir(run_dir);
  const std::string name = checkpoint_folder_name(step);
  const std::string final_dir = (fs::path(dir) / name).string();
  const std::string tmp = final_dir + ".tmp";
  ops.create_dirs(dir);
  ops.remove_all(tmp);
  try {
    write_folder(tmp, contents, ops);
    publish(tmp, final_dir, ops);
    ops.sync_dir(dir);
  } catch (...) {
    ops.remove_all(tmp);
    throw;
  }
  try {
    write_text_atomic((fs::path(dir) / "latest").string(), name + "\n", ops);
  } catch (...) {
    if (latest_name(dir) != name) ops.remove_all(final_dir);  // never named, never kept
    throw;
  }
  prune(run_dir, retention, ops);
  return final_dir;
}

std::optional<std::string> latest_checkpoint(const std::string& run_dir) {
  std::string dir = checkpoints_dir(run_dir);
  std::string name = latest_name(dir);
  if (name.empty()) return std::nullopt;
  std::string folder = (fs::path(dir) / name).string();
  if (!fs::is_directory(folder))
    throw UserError("checkpoint pointer " + dir + "/latest names " + name +
                    ", which does not exist");
  return folder;
}

std::vector<int64_t> checkpoint_steps(const std::string& run_dir) {
  std::vector<int64_t> steps;
  std::string dir = checkpoints_dir(run_dir);
  if (!fs::is_directory(dir)) return steps;
  for (const auto& item : fs::directory_iterator(dir)) {
    std::smatch match;
    std::string name = item.path().filename().string();
    if (item.is_directory() && std::regex_match(name, match, kStepFolder))
      steps.push_back(std::stoll(match[1].str()));
  }
  std::sort(steps.begin(), steps.end());
  return steps;
}

LoadedCheckpoint read_checkpoint(const std::string& folder, const TensorTable& expected) {
  if (!fs::is_directory(folder)) throw UserError("checkpoint folder " + folder + " does not exist");
  LoadedCheckpoint loaded;
  loaded.folder = folder;
  read_model_file((fs::path(folder) / "model.h5").string(), expected, loaded.params);
  read_optimizer_file((fs::path(folder) / "optim.h5").string(), table_count(expected), loaded.m,
                      loaded.v);
  loaded.state_toml = read_text((fs::path(folder) / "state.toml").string(), "checkpoint state");
  return loaded;
}

}  // namespace molt::io
