// Shared pieces of the [cron], [check] and [status] tests: who holds a
// server's receive-wal lock, a guard that stops detached receivers (cron
// starts them in their own session, so PR_SET_PDEATHSIG cannot reap them),
// and fabricated catalogue content (backups, archived WAL).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "support/cellar_env.h"
#include "wal/wal_fixture.h"  // segment(): the name of a segment of timeline 1

namespace cellar::test {

class PgServer;

// Stops the receivers of `servers` (receive-wal --stop, then SIGKILL if that
// failed) and drops their slots on `slot_conninfo`'s server, even when the
// test failed. Declare it after the CellarEnv, so it runs first.
class ReceiverGuard {
 public:
  ReceiverGuard(const CellarEnv& env, std::vector<std::string> servers, std::string conninfo = "",
                std::vector<std::string> slots = {})
      : env_(env), servers_(std::move(servers)), conninfo_(std::move(conninfo)), slots_(std::move(slots)) {}
  ~ReceiverGuard();
  ReceiverGuard(const ReceiverGuard&) = delete;
  ReceiverGuard& operator=(const ReceiverGuard&) = delete;

 private:
  const CellarEnv& env_;
  std::vector<std::string> servers_;
  std::string conninfo_;
  std::vector<std::string> slots_;
};

// base/<id>/backup.info with `status`, begin/end WAL on timeline 1 and
// `extra` fields ("key", "value"); end_time is `age_seconds` ago.
void fabricate_backup(const CellarEnv& env, const std::string& server, const std::string& id, const std::string& status,
                      const std::string& begin_wal, const std::string& end_wal, int64_t age_seconds = 3600,
                      const std::vector<std::pair<std::string, std::string>>& extra = {});

// Stores `names` in wals/ (a few bytes each) and lists them in xlog.db.
void fabricate_wals(const CellarEnv& env, const std::string& server, const std::vector<std::string>& names);

// The segments xlog.db lists.
std::vector<std::string> archived_names(const CellarEnv& env, const std::string& server);

// What keeps xlog.db from listing every segment of timeline 1 from `first`
// to `last` (names) exactly once: one "NAME archived N times" per segment
// that is not listed once. Empty for an archive without gap or duplicate.
std::vector<std::string> archive_gaps(const CellarEnv& env, const std::string& server, const std::string& first,
                                      const std::string& last);

// True once replication slot `slot` exists on `pg` and a walsender streams
// from it (a receive-wal that connected has decided where it starts).
bool slot_active(const PgServer& pg, const std::string& slot);

// The restart_lsn of `slot` on `pg`: the flush position its client last
// reported. REQUIREs that the slot exists and has one.
pg::Lsn slot_restart_lsn(const PgServer& pg, const std::string& slot);

// Processes whose command line is "... receive-wal SERVER" with this env's config.
int count_receivers(const CellarEnv& env, const std::string& server);

bool contains(const std::string& text, const std::string& needle);
int count_of(const std::string& text, const std::string& needle);

// The id in a `cellar backup` run's "Backup <id> ..." line, or "".
std::string backup_id_of(const RunResult& r);

// After a FAILED backup `failed_id` of server main: the next `backup --wait`
// exits 0, and base/ then holds just the two, `failed_id` still FAILED and
// the new one DONE.
void check_next_backup_done(const CellarEnv& env, const std::string& failed_id);

// Runs cron until `segment` is archived (cron archives what receive-wal wrote).
void cron_until_archived(const CellarEnv& env, const std::string& server, const std::string& segment);

// A streaming server as a healthy installation has it: cron starts its
// receive-wal, then one segment is switched and archived. Returns that
// segment. Declare a ReceiverGuard first.
std::string start_streaming(const CellarEnv& env, const std::string& server);

}  // namespace cellar::test
