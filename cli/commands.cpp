#include <iostream>

#include "cli/command.h"
#include "cli/handlers.h"
#include "common/redact.h"

namespace cellar::cli {

// The one table of commands. Order here is the order of `cellar --help` and
// docs/commands.md.
const std::vector<Command>& command_table() {
  using enum ServerArity;
  using enum locks::LockKind;
  static const std::vector<Command> table = {
      {"list-servers",
       "list configured servers: name, description, active",
       none,
       {},
       ConfigNeed::required,
       {},
       nullptr,
       run_list_servers},
      {"show-servers",
       "effective configuration of servers, with the source of each value",
       many,
       {},
       ConfigNeed::required,
       {},
       nullptr,
       run_show_servers},
      {"check",
       "check PostgreSQL, streaming, slot, receive-wal, WAL archive, backups and retention (--nagios for monitoring)",
       many,
       {},
       ConfigNeed::required,
       {},
       declare_check,
       run_check,
       {.server_error = check_server_error}},
      {"status",
       "PostgreSQL version, system id, current WAL, slot, receive-wal, backups and WAL archive of servers",
       many,
       {},
       ConfigNeed::required,
       {},
       nullptr,
       run_status},
      {"switch-wal",
       "close the current WAL segment (pg_switch_wal), optionally waiting until it is archived",
       one,
       {},
       ConfigNeed::required,
       {},
       declare_switch_wal,
       run_switch_wal},
      {"backup",
       "full base backup over the replication protocol (BASE_BACKUP), compressed by parallel workers",
       many,
       {},
       ConfigNeed::required,
       {backup, backup_id},
       declare_backup,
       run_backup,
       {.validate = validate_backup}},
      {"list-backups",
       "backups of servers: id, name, end time, size, WAL size, status, retention",
       many,
       {},
       ConfigNeed::required,
       {},
       nullptr,
       run_list_backups},
      {"show-backup",
       "every field of a backup's backup.info, its WAL since, and its retention status",
       one,
       {{"backup", "BACKUP", true, false}},
       ConfigNeed::required,
       {},
       nullptr,
       run_show_backup},
      {"verify-backup",
       "check every file of a backup against its manifest (sizes and CRC32C checksums)",
       one,
       {{"backup", "BACKUP", true, false}},
       ConfigNeed::required,
       {backup_id},
       nullptr,
       run_verify_backup},
      {"delete",
       "remove a backup and the WAL no backup needs any more",
       one,
       {{"backup", "BACKUP", true, false}},
       ConfigNeed::required,
       {backup_id},
       nullptr,
       run_delete},
      {"keep",
       "exempt a backup from retention (--target full|standalone), show (--status) or --release it",
       one,
       {{"backup", "BACKUP", true, false}},
       ConfigNeed::required,
       {backup_id},
       declare_keep,
       run_keep},
      {"recover",
       "restore a backup into DEST and write the recovery settings to replay WAL up to a target (PITR)",
       one,
       {{"backup", "BACKUP", true, false}, {"dest", "DEST", true, false}},
       ConfigNeed::required,
       {backup_id},
       declare_recover,
       run_recover},
      {"receive-wal",
       "stream WAL from the server's replication slot into streaming/ (foreground)",
       one,
       {},
       ConfigNeed::required,
       {receive_wal},
       declare_receive_wal,
       run_receive_wal},
      {"archive-wal",
       "move complete WAL from streaming/ and incoming/ into the archive, compressed, and record it in xlog.db",
       one,
       {},
       ConfigNeed::required,
       {archive_wal, xlogdb},
       nullptr,
       run_archive_wal},
      {"rebuild-xlogdb",
       "rebuild the server's xlog.db from the WAL files its repository holds (Barman's rebuild-xlogdb)",
       one,
       {},
       ConfigNeed::required,
       {archive_wal, xlogdb},
       nullptr,
       run_rebuild_xlogdb},
      {"get-wal",
       "write one archived WAL file, decompressed, to stdout or --output-directory (for restore_command)",
       one,
       {{"wal_name", "WAL_NAME", true, false}},
       ConfigNeed::required,
       {},
       declare_get_wal,
       run_get_wal},
      {"locks",
       "inspect the lock directory: lock files, state, owner PID and command; --clean removes free ones",
       none,
       {{"server", "SERVER", false, false}},
       ConfigNeed::optional,
       {},
       declare_locks,
       run_locks},
      {"cron",
       "maintenance of every active server: keep receive-wal running, archive WAL, settle backups, retention",
       none,
       {},
       ConfigNeed::required,
       {global_cron, cron},
       declare_cron,
       run_cron},
      {"lock",
       "run COMMAND while holding a typed lock (like flock(1)); exit 3 if busy, 1 on --timeout",
       none,
       {{"kind", "KIND", true, false}, {"server", "SERVER", false, false}, {"backup_id", "BACKUP_ID", false, false}},
       ConfigNeed::optional,
       {},
       declare_lock,
       run_lock,
       {.trailing_command = true, .lock_named_by_kind = true}},
      {"config-update",
       "apply configuration changes given as a JSON list to <home>/.cellar.auto.toml (validated first, atomic)",
       none,
       {{"json", "JSON", true, false}},
       ConfigNeed::required,
       {config_update},
       nullptr,
       run_config_update},
      {"sync-info",
       "JSON describing this node's DONE backups and WAL after LAST_WAL, for a passive node",
       one,
       {{"last_wal", "LAST_WAL", false, false}, {"last_position", "LAST_POSITION", false, false}},
       ConfigNeed::required,
       {},
       nullptr,
       run_sync_info},
      {"sync-send",
       "on the primary: write archived WAL (wal NAME...) or a DONE backup (backup ID) as a tar stream on stdout",
       one,
       {{"kind", "KIND", true, false}, {"names", "NAME", true, true}},
       ConfigNeed::required,
       {},
       nullptr,
       run_sync_send},
      {"sync-wal",
       "on a passive node: copy new WAL from the primary node (primary_ssh_command), verify sizes, catalogue it",
       one,
       {},
       ConfigNeed::required,
       {sync_wal, xlogdb},
       nullptr,
       run_sync_wal},
      {"sync-wals", "alias of sync-wal", one, {}, ConfigNeed::required, {sync_wal, xlogdb}, nullptr, run_sync_wal},
      {"sync-backup",
       "on a passive node: copy one backup from the primary node, verify it against its manifest",
       one,
       {{"backup", "BACKUP", true, false}},
       ConfigNeed::required,
       {sync_backup, backup_id},
       nullptr,
       run_sync_backup},
  };
  return table;
}

const Command* find_command(const std::string& name) {
  for (const auto& c : command_table())
    if (name == c.name) return &c;
  return nullptr;
}

std::vector<Positional> positionals_of(const Command& c) {
  std::vector<Positional> all;
  if (c.servers != ServerArity::none) all.push_back({"server", "SERVER", true, c.servers == ServerArity::many});
  all.insert(all.end(), c.positionals.begin(), c.positionals.end());
  return all;
}

std::string locks_held(const Command& c) {
  if (c.extras.lock_named_by_kind) return "the lock KIND names";
  std::string names;
  for (locks::LockKind kind : c.locks) names += (names.empty() ? "" : ", ") + std::string(locks::kind_name(kind));
  return names.empty() ? "none" : names;
}

Result<const ServerConfig*> find_configured_server(const Config& config, const std::string& name) {
  if (const ServerConfig* s = config.find_server(name)) return s;
  return Status::usage("unknown server \"" + name + "\"",
                       "run 'cellar list-servers' to see the servers of \"" + config.main_file + "\"");
}

void print_error(const Status& status) {
  if (status.is_ok()) return;
  // Messages may quote user input (a server name, a conninfo): never a password.
  std::cerr << redact_secrets(status.to_string()) << std::endl;
}

void info(const Invocation& inv, const std::string& line) {
  if (!inv.global.quiet) std::cout << line << "\n";
}

}  // namespace cellar::cli
