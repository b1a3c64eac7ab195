// The backup side of cron (barman-behaviour.md §3, §9), built on the public
// API of catalogue.h, retention.h and delete_backup.h: settle backups whose
// WAL has arrived, mark FAILED the STARTED backups nobody is writing any
// more, enforce the retention policy, and decide when backup_schedule wants
// a new backup. Each step takes the locks it needs itself, never waits for
// one, and says what it did through `say`; a busy lock is a skip, not an
// error. What it does not do: run a backup (cron starts `cellar backup`).
#pragma once

#include <ctime>
#include <functional>
#include <optional>
#include <string>

#include "catalog/catalogue.h"
#include "common/status.h"
#include "config/config.h"
#include "config/grammar.h"

namespace cellar::cron {

using SayFn = std::function<void(const std::string&)>;

// WAITING_FOR_WALS → DONE once every segment begin_wal..end_wal is archived,
// or FAILED naming the first missing one. A backup whose id lock is busy is
// left for the next pass.
Status settle_waiting_backups(const Config& config, const ServerConfig& server, const SayFn& say);

// STARTED backups whose backup-id lock is free (their process died) become
// FAILED on disk. Skipped while a backup of the server runs (its lock busy).
Status fail_dead_backups(const Config& config, const ServerConfig& server, const SayFn& say);

// Deletes the OBSOLETE backups of the retention policy, oldest first, with
// the WAL no remaining backup needs. A backup whose id lock is busy is
// skipped with a warning. Nothing to do without a policy.
Status enforce_retention(const Config& config, const ServerConfig& server, const SayFn& say);

// Is a backup due at `now` under backup_schedule (parsed by the
// configuration), given when the newest backup (of any status) began?
// Interval: none yet, or the interval since it. Daily: none began since
// the latest HH:MM at or before now (so a missed slot is caught up once).
bool backup_due(const Schedule& schedule, std::optional<std::time_t> last_begin, std::time_t now);

// When the newest backup of the catalogue began (from begin_time, else its id).
std::optional<std::time_t> last_backup_begin(const catalog::Catalogue& catalogue);

}  // namespace cellar::cron
