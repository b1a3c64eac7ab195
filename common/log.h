// Log set-up (spdlog stays behind this adapter): one logger writing to stderr
// and, when configured, to a log file; every line is passed through
// redact_secrets first. SIGHUP-safe reopen for long-running processes.
#pragma once

#include <string>

#include "common/status.h"

namespace cellar::log {

enum class Level { debug, info, warning, error, off };

struct Options {
  Level stderr_level = Level::warning;  // what reaches the terminal
  Level file_level = Level::info;       // what reaches log_file
  std::string file;                     // "" = no file sink
  std::string command;                  // tag for every line, e.g. "backup"
};

Result<Level> parse_level(const std::string& name);

// Installs the logger; a log file that cannot be opened is reported, and
// logging continues to stderr only.
Status setup(const Options& options);

// A process whose stdout and stderr were pointed at a log file by whoever
// started it (the daemon's receive-wal, the daemon's own transcript) is told
// that file's path in this environment variable, so reopen() can open it
// again after logrotate moved it away.
inline constexpr const char* kOutputFileEnv = "CELLAR_OUTPUT_FILE";

// Re-opens the log file (after logrotate moved it away), and stdout and
// stderr onto $CELLAR_OUTPUT_FILE when it is set. A file that cannot be
// opened leaves the old one in place (and is reported on it).
void reopen();

void debug(const std::string& message);
void info(const std::string& message);
void warning(const std::string& message);
void error(const std::string& message);
void flush();

}  // namespace cellar::log
