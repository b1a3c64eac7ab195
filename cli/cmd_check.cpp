// check: run backup/check's table for each named server and render it as
// console lines, JSON or one Nagios line.
#include <algorithm>
#include <iostream>

#include "check/check.h"
#include "cli/handlers.h"

namespace cellar::cli {

void declare_check(po::options_description& d) {
  d.add_options()("nagios", "Nagios plugin output: one summary line; exit 0 OK, 2 CRITICAL, 3 UNKNOWN");
}

int run_check(Invocation& inv) {
  bool nagios = inv.has("nagios");
  auto selected = select_servers(*inv.config, inv.get<std::vector<std::string>>("server"), true);
  if (!selected) {
    if (!nagios) return report(selected.status());
    check::NagiosReport unknown = check::nagios_unknown(selected.status().message());
    std::cout << unknown.text;
    return unknown.exit_code;
  }
  std::vector<check::ServerChecks> results;
  for (const ServerConfig* s : *selected) {
    bool seen = std::any_of(results.begin(), results.end(), [&](const auto& r) { return r.server == s->name; });
    if (!seen) results.push_back(check::check_server(*inv.config, *s));
  }
  if (nagios) {
    check::NagiosReport n = check::render_nagios(results);
    std::cout << n.text;
    return n.exit_code;
  }
  if (inv.json())
    std::cout << check::render_json(results).dump() << "\n";
  else
    std::cout << check::render_text(results);
  bool failed = std::any_of(results.begin(), results.end(), [](const auto& r) { return r.counts_as_failure(); });
  return failed ? 1 : 0;
}

}  // namespace cellar::cli
