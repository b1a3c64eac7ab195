// The command table's types (ninja ChooseTool, pgBackRest config.yaml): every
// command is declared once with its name, summary, arguments, options, what it
// needs and the locks it takes. Help, dispatch, "did you mean" and
// docs/commands.md all come from the table in commands.cpp. Handlers live in
// cmd_*.cpp: parse, call one module entry point, render.
#pragma once

#include <boost/program_options.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "config/config.h"
#include "locks/lock_names.h"

namespace cellar::cli {

namespace po = boost::program_options;

enum class Format { text, json };

struct GlobalOptions {
  std::string config_path;  // as given, "" = default
  Format format = Format::text;
  bool quiet = false;
  bool debug = false;
};

enum class ConfigNeed { none, optional, required };

// What a handler gets: the parsed options and, when the command needs it, the
// loaded configuration.
struct Invocation {
  const GlobalOptions& global;
  const po::variables_map& vm;
  const Config* config;  // null unless the command declared a config need and it loaded
  std::vector<std::string> trailing;  // words after "--" (for `lock`)

  bool json() const { return global.format == Format::json; }
  bool has(const char* option) const { return vm.count(option) > 0; }
  template <typename T>
  T get(const char* option) const { return vm[option].as<T>(); }
  std::string str(const char* option, const std::string& fallback = "") const {
    return vm.count(option) ? vm[option].as<std::string>() : fallback;
  }
};

struct Positional {
  const char* name;      // option name the value lands in
  const char* metavar;   // shown in usage, e.g. "SERVER"
  bool required;
  bool repeated;         // takes all remaining words
};

struct Command {
  const char* name;
  const char* summary;
  std::vector<Positional> positionals;
  ConfigNeed config;
  std::vector<locks::LockKind> locks;         // lock kinds held, in the order taken (help and docs)
  void (*declare)(po::options_description&);  // command-specific options; may be null
  int (*run)(Invocation&);                      // returns the process exit code
  bool takes_trailing_command = false;          // accepts "-- COMMAND [ARGS]"
  bool lock_named_by_kind = false;              // holds the lock its KIND argument names (`lock`)
};

const std::vector<Command>& command_table();
const Command* find_command(const std::string& name);
// "backup, backup-id", "the lock KIND names" or "none": the Locks line of help.
std::string locks_held(const Command& c);

// Prints `status` as ERROR/HINT lines on stderr and returns its exit code.
int report(const Status& status);
// Prints an informational line on stdout unless --quiet.
void info(const Invocation& inv, const std::string& line);

// Resolves SERVER (or `all`, where allowed) to configured servers; unknown
// names and misuse of `all` are usage errors.
Result<std::vector<const ServerConfig*>> select_servers(const Config& config, const std::vector<std::string>& names,
                                                        bool allow_all);

}  // namespace cellar::cli
