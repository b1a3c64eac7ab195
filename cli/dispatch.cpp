#include "cli/dispatch.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <iostream>

#include "cli/command.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/redact.h"
#include "repo/repository.h"

namespace cellar::cli {
namespace {

// Prints what a handler (or dispatch itself) hands back and returns its exit code.
int finish(const Outcome& outcome) {
  print_error(outcome.error());
  return outcome.exit_code();
}

po::options_description global_options() {
  po::options_description d("Global options");
  d.add_options()("config,c", po::value<std::string>(),
                  "configuration file (default: $CELLAR_CONFIG, then /etc/cellar/cellar.toml)")(
      "format,f", po::value<std::string>(), "output format: text or json")("quiet,q", "print only errors")(
      "debug,d", "print debug messages")("help,h", "show help");
  return d;
}

std::string usage_line(const Command& c) {
  std::string u = std::string("cellar ") + c.name;
  for (const auto& p : positionals_of(c)) {
    std::string m = p.metavar;
    if (p.repeated) m += "...";
    u += p.required ? " " + m : " [" + m + "]";
  }
  u += " [OPTIONS]";
  if (c.extras.trailing_command) u += " -- COMMAND [ARGS]";
  return u;
}

void print_program_help() {
  std::cout << "cellar " CELLAR_VERSION " - PostgreSQL backup and WAL-archive manager\n\n"
            << "Usage: cellar [GLOBAL OPTIONS] COMMAND [ARGS]\n\nCommands:\n";
  for (const auto& c : command_table()) {
    std::string name = c.name;
    name.resize(std::max<size_t>(name.size() + 2, 16), ' ');
    std::cout << "  " << name << c.summary << "\n";
  }
  std::cout << "\n"
            << global_options() << "  --version             print the version\n\n"
            << "Run 'cellar COMMAND --help' for a command's arguments and options.\n"
            << "Exit codes: 0 success, 1 failed, 2 usage or configuration error, 3 busy (a lock is held).\n";
}

void print_command_help(const Command& c) {
  std::cout << "Usage: " << usage_line(c) << "\n\n" << c.summary << "\n";
  po::options_description own("Options");
  if (c.declare) c.declare(own);
  if (!own.options().empty()) std::cout << "\n" << own;
  std::cout << "\n" << global_options();
  std::cout << "\nLocks held: " << locks_held(c) << "\n";
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

int unknown_command(const std::string& word) {
  const Command* best = nullptr;
  size_t best_d = 99;
  for (const auto& c : command_table()) {
    size_t d = edit_distance(word, c.name);
    if (d < best_d) {
      best_d = d;
      best = &c;
    }
  }
  std::string hint = "run 'cellar --help' for the list of commands";
  for (const auto& c : command_table())
    if (!best_d || std::string(c.name).rfind(word, 0) == 0) {
      best = &c;
      best_d = 0;
      break;
    }
  if (best && best_d <= std::max<size_t>(2, word.size() / 3))
    hint = std::string("did you mean \"") + best->name + "\"?";
  return finish(Status::usage("unknown command \"" + word + "\"", hint));
}

bool takes_value(const std::string& tok) {
  return tok == "-c" || tok == "--config" || tok == "-f" || tok == "--format";
}

Status apply_globals(const po::variables_map& vm, GlobalOptions& g) {
  if (vm.count("config")) g.config_path = vm["config"].as<std::string>();
  if (vm.count("format")) {
    std::string f = vm["format"].as<std::string>();
    if (f == "json")
      g.format = Format::json;
    else if (f == "text")
      g.format = Format::text;
    else
      return Status::usage("invalid format \"" + f + "\"", "use --format text or --format json");
  }
  if (vm.count("quiet")) g.quiet = true;
  if (vm.count("debug")) g.debug = true;
  return Status::ok();
}

Status check_home(const Config& config) {
  struct stat sb {};
  if (::stat(config.home().c_str(), &sb) == 0) {
    if (sb.st_mode & S_IWOTH)
      return Status::usage("home directory \"" + config.home() + "\" is world-writable",
                           "run 'chmod o-w " + config.home() + "'; cellar refuses to keep backups there");
    return Status::ok();
  }
  return make_dirs(config.home(), 0700);
}

void setup_logging(const GlobalOptions& g, const Config* config, const std::string& command) {
  log::Options o;
  o.command = command;
  o.stderr_level = g.debug ? log::Level::debug : (g.quiet ? log::Level::error : log::Level::warning);
  if (config) {
    o.file = config->log_file();
    if (auto level = log::parse_level(config->log_level())) o.file_level = *level;
    if (g.debug) o.file_level = log::Level::debug;
    if (!o.file.empty() && !path_exists(dirname_of(o.file))) o.file.clear();
  }
  Status st = log::setup(o);
  if (!st) log::warning(st.message() + "; logging to stderr only");
}

std::string joined(int argc, char** argv, int from) {
  std::string s;
  for (int i = from; i < argc; ++i) s += (s.empty() ? "" : " ") + std::string(argv[i]);
  return redact_secrets(s);
}

// The servers SERVER names (SPEC §1, §4.2): `all`, for SERVER* only, means
// every active server; a server named explicitly counts even when inactive.
// A command that allows no SERVER (all_without_server) takes that as `all`.
Result<ServerList> resolve_servers(const Command& c, const Invocation& inv) {
  const bool many = c.servers == ServerArity::many;
  std::vector<std::string> names{"all"};
  if (inv.has("server"))
    names = many ? inv.get<std::vector<std::string>>("server") : std::vector<std::string>{inv.str("server")};
  ServerList out;
  for (const auto& name : names) {
    if (name == "all") {
      if (!many) return Status::usage("\"all\" cannot be used here", "name one server");
      for (const auto& s : inv.config->servers)
        if (s.active()) out.push_back(&s);
      continue;
    }
    auto s = find_configured_server(*inv.config, name);
    if (!s) return s.status();
    out.push_back(*s);
  }
  return out;
}

// Each server in turn, like `backup main standby`: a failure is reported and
// the next server still runs; the exit code is the worst one.
int run_each(RunEach run, Invocation& inv, const ServerList& servers) {
  int worst = 0;
  for (const ServerConfig* s : servers) worst = std::max(worst, finish(run(inv, *s)));
  return worst;
}

// Resolves SERVER as the table declares, validates the options, calls the
// handler in its declared shape and reports what it returns.
int run_handler(const Command& c, Invocation& inv) {
  if (const auto* plain = std::get_if<RunPlain>(&c.run)) return finish((*plain)(inv));
  auto servers = resolve_servers(c, inv);
  if (!servers)
    return finish(c.extras.server_error ? c.extras.server_error(inv, servers.status()) : Outcome(servers.status()));
  if (c.extras.validate)
    if (Status st = c.extras.validate(inv); !st) return finish(st);
  if (const auto* list = std::get_if<RunList>(&c.run)) return finish((*list)(inv, *servers));
  return run_each(std::get<RunEach>(c.run), inv, *servers);
}

int run_command(const Command& c, const GlobalOptions& pre, int argc, char** argv, int first) {
  // Split "-- COMMAND [ARGS]" off for commands that run another program.
  std::vector<std::string> words(argv + first, argv + argc), trailing;
  if (c.extras.trailing_command) {
    auto dash = std::find(words.begin(), words.end(), "--");
    if (dash != words.end()) {
      trailing.assign(dash + 1, words.end());
      words.erase(dash, words.end());
    }
  }
  po::options_description visible;
  po::options_description own("Options");
  if (c.declare) c.declare(own);
  visible.add(own).add(global_options());
  po::options_description hidden;
  po::positional_options_description pos;
  const std::vector<Positional> positionals = positionals_of(c);
  for (const auto& p : positionals) {
    if (p.repeated)
      hidden.add_options()(p.name, po::value<std::vector<std::string>>());
    else
      hidden.add_options()(p.name, po::value<std::string>());
    pos.add(p.name, p.repeated ? -1 : 1);
  }
  po::options_description all;
  all.add(visible).add(hidden);
  po::variables_map vm;
  GlobalOptions g = pre;
  try {
    po::store(po::command_line_parser(words).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return finish(
        Status::usage(std::string(c.name) + ": " + e.what(), std::string("run 'cellar ") + c.name + " --help'"));
  }
  if (vm.count("help")) {
    print_command_help(c);
    return 0;
  }
  if (Status st = apply_globals(vm, g); !st) return finish(st);
  for (const auto& p : positionals)
    if (p.required && !vm.count(p.name))
      return finish(Status::usage(std::string(c.name) + ": missing argument " + p.metavar, "usage: " + usage_line(c)));
  if (c.extras.trailing_command && trailing.empty())
    return finish(Status::usage(std::string(c.name) + ": missing \"-- COMMAND\"", "usage: " + usage_line(c)));

  std::optional<Config> config;
  if (c.config != ConfigNeed::none) {
    std::string path = default_config_path(g.config_path);
    const char* env = std::getenv("CELLAR_CONFIG");  // "" counts as unset, as in default_config_path
    bool explicit_path = !g.config_path.empty() || (env && *env);
    if (c.config == ConfigNeed::required || explicit_path || path_exists(path)) {
      auto loaded = load_config(path);
      if (!loaded) return finish(loaded.status());
      if (Status st = check_home(*loaded); !st) return finish(st);
      // Each server's base/, wals/ and identity.json live in its repository.
      if (Status st = repo::mount_repositories(*loaded); !st) return finish(st);
      config = std::move(*loaded);
    }
  }
  setup_logging(g, config ? &*config : nullptr, c.name);
  // The whole command line (global options too) and the file it resolved to.
  log::info("begin: cellar " + joined(argc, argv, 1) +
            (config ? " (config \"" + config->main_file + "\")" : std::string()));
  auto start = std::chrono::steady_clock::now();
  Invocation inv{g, vm, config ? &*config : nullptr, trailing};
  int code = run_handler(c, inv);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", secs);
  log::info(std::string("end: ") + c.name + " exit " + std::to_string(code) + " after " + buf + " s");
  log::flush();
  return code;
}

}  // namespace

int run(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  ::umask(077);  // catalogue files 0600, directories 0700 (SPEC §7)
  GlobalOptions g;
  int i = 1;
  std::vector<std::string> pre;
  bool want_version = false;
  while (i < argc) {
    std::string tok = argv[i];
    if (tok == "--version") {
      want_version = true;
      ++i;
      continue;
    }
    if (tok.empty() || tok[0] != '-') break;
    pre.push_back(tok);
    if (takes_value(tok) && i + 1 < argc) pre.push_back(argv[++i]);
    ++i;
  }
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(pre).options(global_options()).run(), vm);
  } catch (const po::error& e) {
    return finish(Status::usage(e.what(), "run 'cellar --help'"));
  }
  if (Status st = apply_globals(vm, g); !st) return finish(st);
  if (want_version) {
    std::cout << "cellar " CELLAR_VERSION "\n";
    return 0;
  }
  if (i >= argc) {
    if (vm.count("help")) {
      print_program_help();
      return 0;
    }
    return finish(Status::usage("no command given", "run 'cellar --help' for the list of commands"));
  }
  const Command* c = find_command(argv[i]);
  if (!c) return unknown_command(argv[i]);
  if (vm.count("help")) {
    print_command_help(*c);
    return 0;
  }
  return run_command(*c, g, argc, argv, i + 1);
}

}  // namespace cellar::cli
