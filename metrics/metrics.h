// `cellar metrics` (SPEC §10): what cellar knows about its servers as
// Prometheus metric families, and their text exposition (format 0.0.4).
//
// What it owns: the metric names, their help, types and labels (they are an
// API: dashboards and alert rules name them; docs/metrics.md lists each one),
// and the rendering. What it does not own: learning the facts — the status
// collector (check/status.h), the checks (check/check.h) and the lock manager
// (locks/lock_backend.h) do that, and collect() only translates what they
// answer. Serving the text over HTTP is the daemon's, which appends its own
// families to the ones collected here and renders them together.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "config/config.h"

namespace cellar::metrics {

// One series of a family: its labels (name, value), in output order.
struct Sample {
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};

struct Family {
  std::string name;  // e.g. "cellar_backups"; [a-zA-Z_:][a-zA-Z0-9_:]*
  std::string help;
  std::string type;  // "gauge" or "counter"
  std::vector<Sample> samples;
};

// Everything cellar knows about `servers`, in a fixed family order, families
// without a sample left out. Never fails as a whole: what cannot be learnt
// (PostgreSQL down, a catalogue unreadable, the lock backend unreachable) is
// left out and said by a gauge: cellar_postgres_up 0, cellar_scrape_errors.
// Connects to each server's PostgreSQL (normal and replication connections,
// as `cellar check` does); takes no lock.
std::vector<Family> collect(const Config& config, const std::vector<const ServerConfig*>& servers);

// The text exposition format 0.0.4: per family "# HELP" and "# TYPE" once,
// then its samples; families in the given order. Label values are escaped
// (\\, \", \n), help text too (\\, \n). Precondition: valid metric and label
// names (they are not checked).
std::string render(const std::vector<Family>& families);

}  // namespace cellar::metrics
