#include <iostream>

#include "cli/command.h"
#include "cli/handlers.h"

namespace cellar::cli {

// The one table of commands. Order here is the order of `cellar --help` and
// docs/commands.md.
const std::vector<Command>& command_table() {
  static const std::vector<Command> table = {
      {"list-servers", "list configured servers: name, description, active", {}, ConfigNeed::required, {}, nullptr,
       run_list_servers},
      {"show-servers", "effective configuration of servers, with the source of each value",
       {{"server", "SERVER", true, true}}, ConfigNeed::required, {}, nullptr, run_show_servers},
  };
  return table;
}

const Command* find_command(const std::string& name) {
  for (const auto& c : command_table())
    if (name == c.name) return &c;
  return nullptr;
}

int report(const Status& status) {
  if (status.is_ok()) return 0;
  std::cerr << status.to_string() << std::endl;
  return exit_code_of(status.code());
}

void info(const Invocation& inv, const std::string& line) {
  if (!inv.global.quiet) std::cout << line << "\n";
}

Result<std::vector<const ServerConfig*>> select_servers(const Config& config, const std::vector<std::string>& names,
                                                        bool allow_all) {
  std::vector<const ServerConfig*> out;
  for (const auto& n : names) {
    if (n == "all") {
      if (!allow_all)
        return Status::usage("\"all\" cannot be used here", "name one server");
      for (const auto& s : config.servers) out.push_back(&s);
      continue;
    }
    const ServerConfig* s = config.find_server(n);
    if (!s)
      return Status::usage("unknown server \"" + n + "\"",
                           "run 'cellar list-servers' to see the servers of \"" + config.main_file + "\"");
    out.push_back(s);
  }
  return out;
}

}  // namespace cellar::cli
