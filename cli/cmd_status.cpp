// status: PostgreSQL, slot, receive-wal, backups and WAL archive of servers
// (backup/status.h), as text or JSON.
#include <iostream>

#include "check/status.h"
#include "cli/handlers.h"

namespace cellar::cli {

Outcome run_status(Invocation& inv, const ServerList& servers) {
  std::vector<check::ServerStatus> statuses;
  for (const ServerConfig* s : servers) statuses.push_back(check::collect_status(*inv.config, *s));
  if (inv.json())
    std::cout << check::render_status_json(statuses).dump() << "\n";
  else
    std::cout << check::render_status_text(statuses);
  return Status::ok();
}

}  // namespace cellar::cli
