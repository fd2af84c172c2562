// Plots through gnuplot, driven over a pipe. Every figure is written twice, PNG (to look
// at) and SVG (to put in a paper); the data go to plain text files beside the figure and
// the gnuplot script is saved too, so a figure can be restyled without rerunning molt.
//
// gnuplot is a run-time dependency only (scripts/install-deps.sh installs it). Callers
// ask gnuplot_available() first and decide what a missing gnuplot means for them.
#pragma once

#include <string>

namespace molt {

// True when an executable `gnuplot` is on PATH.
bool gnuplot_available();

// A string literal for a gnuplot script: 'text' with ' doubled.
std::string gnuplot_quote(const std::string& text);

// The script that renders `body` (set/plot commands, ending in one plot command) into
// STEM.png and then STEM.svg.
std::string png_and_svg_script(const std::string& stem, const std::string& body);

// Saves `script` as SCRIPT_PATH and pipes it into gnuplot. Throws UserError when gnuplot
// cannot be started or exits with an error, naming the script.
void run_gnuplot(const std::string& script, const std::string& script_path);

}  // namespace molt
