// gnuplot over a pipe; see plots.h.
#include "jobs/plots.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "kernels/error.h"

namespace molt {

bool gnuplot_available() {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::stringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (!dir.empty() && access((dir + "/gnuplot").c_str(), X_OK) == 0) return true;
  }
  return false;
}

std::string gnuplot_quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("''") : std::string(1, c);
  return quoted + "'";
}

std::string png_and_svg_script(const std::string& stem, const std::string& body) {
  return "set terminal pngcairo size 1000,680 noenhanced font 'Sans,11'\n"
         "set output " +
         gnuplot_quote(stem + ".png") + "\n" + body +
         "\nset terminal svg size 1000,680 noenhanced font 'Sans,11' background '#ffffff'\n"
         "set output " +
         gnuplot_quote(stem + ".svg") + "\nreplot\nunset output\n";
}

void run_gnuplot(const std::string& script, const std::string& script_path) {
  std::ofstream(script_path) << script;
  // -persist is not wanted: no window; gnuplot reads the script from stdin.
  FILE* pipe = popen("gnuplot", "w");
  if (!pipe) throw UserError("cannot start gnuplot for " + script_path);
  std::fwrite(script.data(), 1, script.size(), pipe);
  const int status = pclose(pipe);
  if (status != 0) {
    throw UserError("gnuplot failed (status " +
                    std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : status) + ") on " +
                    script_path);
  }
}

}  // namespace molt
