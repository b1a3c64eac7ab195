// The program's entry: global options, command lookup, per-command option
// parsing, config loading, logging set-up, begin/end log lines, exit codes.
#pragma once

namespace cellar::cli {

int run(int argc, char** argv);

}  // namespace cellar::cli
