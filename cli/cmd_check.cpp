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

// check --nagios: a SERVER that does not resolve is UNKNOWN, on stdout.
Outcome check_server_error(Invocation& inv, const Status& error) {
  if (!inv.has("nagios")) return error;
  check::NagiosReport unknown = check::nagios_unknown(error.message());
  std::cout << unknown.text;
  return Outcome::exit(unknown.exit_code);
}

Outcome run_check(Invocation& inv, const ServerList& servers) {
  std::vector<check::ServerChecks> results;
  for (const ServerConfig* s : servers) {
    bool seen = std::any_of(results.begin(), results.end(), [&](const auto& r) { return r.server == s->name; });
    if (!seen) results.push_back(check::check_server(*inv.config, *s));
  }
  if (inv.has("nagios")) {
    check::NagiosReport n = check::render_nagios(results);
    std::cout << n.text;
    return Outcome::exit(n.exit_code);
  }
  if (inv.json())
    std::cout << check::render_json(results).dump() << "\n";
  else
    std::cout << check::render_text(results);
  bool failed = std::any_of(results.begin(), results.end(), [](const auto& r) { return r.counts_as_failure(); });
  // Each failure is already on stdout as "NAME: FAILED (hint)": no ERROR line.
  return Outcome::exit(failed ? 1 : 0);
}

}  // namespace cellar::cli
