#include "jobs/run_state.h"

#include <sstream>

#include <toml++/toml.h>

#include "kernels/error.h"

namespace molt {

std::string state_to_toml(const RunState& state, const JobConfig& job) {
  toml::table top{{"step", state.step},
                  {"tokens", state.tokens},
                  {"flops", state.flops},
                  {"wall_seconds", state.wall_seconds},
                  {"world_size", state.world_size},
                  {"molt_version", state.molt_version},
                  {"data_position", "pure function of (run.seed, step, batch.global_batch)"}};
  toml::table job_table = toml::parse(to_toml(job));
  top.insert("job", std::move(job_table));
  std::ostringstream out;
  out << "# molt resume state: written with each checkpoint\n" << top << "\n";
  return out.str();
}

RunState parse_run_state(const std::string& text, const std::string& origin, JobConfig* job) {
  toml::table top;
  try {
    top = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    throw UserError(origin + ": not a valid state file: " + std::string(e.description()));
  }
  auto need_int = [&](const char* key) {
    auto value = top[key].value<int64_t>();
    if (!value) throw UserError(origin + ": missing or non-integer '" + key + "'");
    return *value;
  };
  RunState state;
  state.step = need_int("step");
  state.tokens = need_int("tokens");
  state.world_size = need_int("world_size");
  state.flops = top["flops"].value<double>().value_or(0.0);
  state.wall_seconds = top["wall_seconds"].value<double>().value_or(0.0);
  state.molt_version = top["molt_version"].value<std::string>().value_or("");
  if (job) {
    const toml::table* job_table = top["job"].as_table();
    if (!job_table) throw UserError(origin + ": missing the [job] tables");
    std::ostringstream job_text;
    job_text << *job_table;
    *job = parse_job_string(job_text.str(), origin + " [job]");
  }
  return state;
}

}  // namespace molt
