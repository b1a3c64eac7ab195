// metrics: Prometheus' text exposition of servers (metrics/metrics.h), for a
// node exporter's textfile collector or a scrape through a wrapper.
#include <iostream>

#include "cli/handlers.h"
#include "metrics/metrics.h"

namespace cellar::cli {

// PostgreSQL being down is a metric (cellar_postgres_up 0), not a failure:
// the exit code stays 0 so that a scrape always gets the text.
Outcome run_metrics(Invocation& inv, const ServerList& servers) {
  if (inv.json())
    return Status::usage("metrics has no JSON output", "its output is Prometheus' text format: drop --format json");
  std::cout << metrics::render(metrics::collect(*inv.config, servers)) << std::flush;
  return Status::ok();
}

}  // namespace cellar::cli
