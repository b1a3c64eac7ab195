// The command table's types (ninja ChooseTool, pgBackRest config.yaml): every
// command is declared once with its name, summary, the servers it takes, its
// other arguments, options, what it needs and the lock kinds it holds.
// Help, dispatch, server resolution, "did you mean" and docs/commands.md all
// come from the table in commands.cpp. Handlers live in cmd_*.cpp: parse,
// call one module entry point, render, and return an Outcome that dispatch
// reports once.
#pragma once

#include <boost/program_options.hpp>
#include <string>
#include <variant>
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

// The servers a command names first on its command line (SPEC §1). Dispatch
// resolves them before the handler runs: an unknown server, or `all` where
// only one server is allowed, is a usage error (exit 2).
enum class ServerArity {
  none,  // no SERVER, or one the handler reads itself (`locks [SERVER]`, `lock KIND [SERVER]`)
  one,   // SERVER: exactly one configured server
  many,  // SERVER*: one or more, `all` meaning every active server (SPEC §4.2)
};

using ServerList = std::vector<const ServerConfig*>;

// What a handler gets: the parsed options and, when the command needs it, the
// loaded configuration.
struct Invocation {
  const GlobalOptions& global;
  const po::variables_map& vm;
  const Config* config;               // null unless the command declared a config need and it loaded
  std::vector<std::string> trailing;  // words after "--" (for `lock`)

  bool json() const { return global.format == Format::json; }
  bool has(const char* option) const { return vm.count(option) > 0; }
  template <typename T>
  T get(const char* option) const {
    return vm[option].as<T>();
  }
  std::string str(const char* option, const std::string& fallback = "") const {
    return vm.count(option) ? vm[option].as<std::string>() : fallback;
  }
};

// What a handler hands back. Mostly a Status: dispatch prints it once
// (ERROR/DETAIL/HINT on stderr) and exits with its code (SPEC §2). A command
// that renders its own verdict gives the exit code itself: check (1 when a
// check failed, the Nagios codes), lock (COMMAND's status, plus the error of
// running it, if any).
class Outcome {
 public:
  Outcome(Status status) : error_(std::move(status)), exit_code_(exit_code_of(error_.code())) {}
  static Outcome exit(int code, Status error = Status::ok()) {
    Outcome o(std::move(error));
    o.exit_code_ = code;
    return o;
  }
  const Status& error() const { return error_; }
  int exit_code() const { return exit_code_; }

 private:
  Status error_;
  int exit_code_;
};

// A handler, in the shape its command's ServerArity asks for.
using RunPlain = Outcome (*)(Invocation&);                      // ServerArity::none
using RunEach = Outcome (*)(Invocation&, const ServerConfig&);  // one, or many: once per server, in order
using RunList = Outcome (*)(Invocation&, const ServerList&);    // many: the whole list at once
using Handler = std::variant<RunPlain, RunEach, RunList>;

struct Positional {
  const char* name;     // option name the value lands in
  const char* metavar;  // shown in usage, e.g. "SERVER"
  bool required;
  bool repeated;  // takes all remaining words
};

// What few commands need; defaults for the others.
struct Extras {
  bool trailing_command = false;    // accepts "-- COMMAND [ARGS]" (`lock`)
  bool lock_named_by_kind = false;  // holds the lock its KIND argument names (`lock`)
  // Renders a SERVER that does not resolve instead of dispatch's usage error
  // (check --nagios: UNKNOWN); null for the others.
  Outcome (*server_error)(Invocation&, const Status&) = nullptr;
  // Validates the options once, after SERVER resolved and before the handler
  // runs for any server (backup: even when `all` names no active server).
  Status (*validate)(const Invocation&) = nullptr;
  // SERVER* may be left out, and then means `all` (`metrics`: a scrape names
  // no server). Only for ServerArity::many.
  bool all_without_server = false;
};

struct Command {
  const char* name;
  const char* summary;
  ServerArity servers;                  // the SERVER argument, before `positionals`
  std::vector<Positional> positionals;  // the arguments after SERVER
  ConfigNeed config;
  std::vector<locks::LockKind> locks;         // lock kinds held, in the order taken (help and docs)
  void (*declare)(po::options_description&);  // command-specific options; may be null
  Handler run;
  Extras extras = {};
};

const std::vector<Command>& command_table();
const Command* find_command(const std::string& name);

// Every positional argument of `c`, SERVER (from its arity) first.
std::vector<Positional> positionals_of(const Command& c);
// "backup, backup-id", "the lock KIND names" or "none": the Locks line of help.
std::string locks_held(const Command& c);

// The configured server `name`, or the usage error of an unknown one (exit 2).
Result<const ServerConfig*> find_configured_server(const Config& config, const std::string& name);

// Prints `status` as ERROR/DETAIL/HINT lines on stderr, secrets masked.
// Dispatch does this for the Outcome of every handler; a handler calls it
// only for errors it reports and then moves past (cron's steps).
void print_error(const Status& status);
// Prints an informational line on stdout unless --quiet.
void info(const Invocation& inv, const std::string& line);

}  // namespace cellar::cli
