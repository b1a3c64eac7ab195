// The program's entry: global options, command lookup, per-command option
// parsing, config loading, logging set-up, begin/end log lines, resolving
// SERVER as the command table declares it, and reporting each handler's
// Outcome once (ERROR/DETAIL/HINT, exit code).
#pragma once

namespace cellar::cli {

int run(int argc, char** argv);

}  // namespace cellar::cli
