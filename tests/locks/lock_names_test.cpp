// Lock file names: round trip over many server names for every kind, a list of
// near misses, agreement with the documented patterns, `cellar lock` words,
// and config validation of names that would make the grammar ambiguous.
#include "locks/lock_names.h"

#include <catch2/catch.hpp>
#include <random>
#include <regex>

#include "config/config.h"
#include "config/names.h"
#include "support/run.h"

using namespace cellar;
using namespace cellar::locks;

namespace {

const std::vector<std::string> kServers = {"main",
                                           "main-2",
                                           "pg",
                                           "a",
                                           "A",
                                           "0",
                                           "_",
                                           "db_1",
                                           "db.prod",
                                           "db-prod.example.com",
                                           "x-y-z",
                                           "pg-sync",
                                           "main-sync",
                                           "sync",
                                           "backup",
                                           "cron",
                                           "xlogdb",
                                           "wal",
                                           "receive",
                                           "config",
                                           "update",
                                           "main-backup",
                                           "main-cron",
                                           "srv-sync-backup",
                                           "srv-sync-wal",
                                           "srv-archive",
                                           "20240101T000000",
                                           "db-20240101T000000",
                                           "20240101T000000-sync-x",
                                           "db-20240101T000000-syncx",
                                           "db-20240101T000000-Sync",
                                           "main.lock",
                                           "x.lock-backup",
                                           "a..b",
                                           "a.-_b",
                                           "9lives",
                                           std::string(64, 'n'),
                                           "a" + std::string(63, '-')};

const std::vector<std::string> kBackupIds = {"20240101T000000", "19991231T235959", "00000000T000000"};

// Every (kind, server, backup id) combination of the tables.
std::vector<LockName> all_names() {
  std::vector<LockName> names;
  for (LockKind kind : all_kinds()) {
    if (is_global(kind)) {
      names.push_back({kind, "", ""});
      continue;
    }
    for (const auto& server : kServers) {
      if (!needs_backup_id(kind))
        names.push_back({kind, server, ""});
      else
        for (const auto& id : kBackupIds) names.push_back({kind, server, id});
    }
  }
  return names;
}

// The documented pattern, as an ECMAScript regex (named groups dropped).
std::regex ecma_pattern(LockKind kind) {
  std::string p = lock_file_pattern(kind);
  for (const char* group : {"(?P<server>", "(?P<backup_id>"})
    for (size_t at; (at = p.find(group)) != std::string::npos;) p.replace(at, std::string(group).size(), "(");
  return std::regex(p);
}

// What the documented pattern plus the server-name rule accept.
bool pattern_accepts(LockKind kind, const std::string& file) {
  std::smatch m;
  if (!std::regex_match(file, m, ecma_pattern(kind))) return false;
  return is_global(kind) || is_valid_server_name(m[1].str());
}

}  // namespace

TEST_CASE("every valid server name is a valid test input", "[locks]") {
  for (const auto& server : kServers) {
    INFO(server);
    CHECK(is_valid_server_name(server));
  }
}

TEST_CASE("every lock name parses back to exactly its kind and parameters", "[locks]") {
  for (const auto& name : all_names()) {
    std::string file = make_lock_file_name(name);
    INFO(file);
    auto parsed = parse_lock_file_name(file);
    REQUIRE(parsed);
    CHECK(*parsed == name);
    for (LockKind other : all_kinds()) {
      auto as = parse_lock_file_name_as(other, file);
      CHECK(as.has_value() == (other == name.kind));
      CHECK(pattern_accepts(other, file) == (other == name.kind));
    }
  }
}

TEST_CASE("lock file names are Barman's exact names", "[locks]") {
  CHECK(make_lock_file_name({LockKind::global_cron, "", ""}) == ".cron.lock");
  CHECK(make_lock_file_name({LockKind::config_update, "", ""}) == ".config-update.lock");
  CHECK(make_lock_file_name({LockKind::backup, "main", ""}) == ".main-backup.lock");
  CHECK(make_lock_file_name({LockKind::cron, "main", ""}) == ".main-cron.lock");
  CHECK(make_lock_file_name({LockKind::xlogdb, "main", ""}) == ".main-xlogdb.lock");
  CHECK(make_lock_file_name({LockKind::archive_wal, "main", ""}) == ".main-archive-wal.lock");
  CHECK(make_lock_file_name({LockKind::receive_wal, "main", ""}) == ".main-receive-wal.lock");
  CHECK(make_lock_file_name({LockKind::sync_wal, "main", ""}) == ".main-sync-wal.lock");
  CHECK(make_lock_file_name({LockKind::backup_id, "main", "20240101T000000"}) == ".main-20240101T000000.lock");
  CHECK(make_lock_file_name({LockKind::sync_backup, "main", "20240101T000000"}) ==
        ".main-20240101T000000-sync-backup.lock");
}

TEST_CASE("near misses of lock file names are rejected by every factory", "[locks]") {
  const std::vector<std::string> misses = {"",
                                           ".",
                                           ".lock",
                                           "..lock",
                                           "cron.lock",
                                           ".cron.lock.old",
                                           ".cron.lock ",
                                           " .cron.lock",
                                           ".cron.LOCK",
                                           ".Cron.lock",
                                           ".config-update.lock.tmp",
                                           "main-backup.lock",
                                           ".main-backup.lock.old",
                                           ".main-backup.lock~",
                                           ".-backup.lock",
                                           "..main-backup.lock",
                                           ".-main-backup.lock",
                                           ".main/x-backup.lock",
                                           ".ma in-backup.lock",
                                           ".all-backup.lock",
                                           ".global-cron.lock",
                                           ".cellar-xlogdb.lock",
                                           ".main-backups.lock",
                                           ".main-Backup.lock",
                                           ".main_backup.lock",
                                           ".main-archive_wal.lock",
                                           ".main-receivewal.lock",
                                           ".main-wal.lock",
                                           ".main-20240101T00000.lock",
                                           ".main-20240101T0000000.lock",
                                           ".main-20240101t000000.lock",
                                           ".main-2024010AT000000.lock",
                                           ".main-20240101X000000.lock",
                                           ".-20240101T000000.lock",
                                           ".20240101T000000.lock",
                                           ".main-20240101T000000-sync-backup.lock.old",
                                           ".main-20240101T000000-syncbackup.lock",
                                           ".main-sync-backup.lock-x",
                                           ".-20240101T000000-sync-backup.lock",
                                           "." + std::string(65, 'n') + "-cron.lock",
                                           ".main\n-cron.lock",
                                           std::string(".main\0-cron.lock", 16)};
  for (const auto& file : misses) {
    INFO(file);
    CHECK_FALSE(parse_lock_file_name(file));
    for (LockKind kind : all_kinds()) {
      CHECK_FALSE(parse_lock_file_name_as(kind, file));
      CHECK_FALSE(pattern_accepts(kind, file));
    }
  }
}

TEST_CASE("a backup lock never reads as a sync-backup lock and vice versa", "[locks]") {
  auto sync = parse_lock_file_name(".my-srv-20240101T000000-sync-backup.lock");
  REQUIRE(sync);
  CHECK(*sync == LockName{LockKind::sync_backup, "my-srv", "20240101T000000"});
  // The server name that would make this a backup lock is refused.
  CHECK_FALSE(is_valid_server_name("my-srv-20240101T000000-sync"));
  CHECK_FALSE(parse_lock_file_name_as(LockKind::backup, ".my-srv-20240101T000000-sync-backup.lock"));
}

TEST_CASE("kind words round-trip and carry the wait policy", "[locks]") {
  for (LockKind kind : all_kinds()) CHECK(parse_kind(kind_name(kind)) == kind);
  CHECK_FALSE(parse_kind("backups"));
  for (LockKind kind : all_kinds())
    CHECK(waits_by_default(kind) == (kind == LockKind::xlogdb || kind == LockKind::sync_wal));
  CHECK(is_global(LockKind::global_cron));
  CHECK(is_global(LockKind::config_update));
  CHECK_FALSE(is_global(LockKind::cron));
}

TEST_CASE("cellar lock words are validated per kind", "[locks]") {
  CHECK(make_lock_name("backup", "main", "").is_ok());
  CHECK(*make_lock_name("global-cron", "", "") == LockName{LockKind::global_cron, "", ""});
  CHECK(*make_lock_name("sync-backup", "main", "20240101T000000") ==
        LockName{LockKind::sync_backup, "main", "20240101T000000"});
  struct Bad {
    const char *kind, *server, *id, *says;
  };
  for (const Bad& bad : std::vector<Bad>{{"nope", "main", "", "unknown lock kind"},
                                         {"global-cron", "main", "", "takes no SERVER"},
                                         {"backup", "", "", "needs a SERVER"},
                                         {"backup", "all", "", "reserved"},
                                         {"backup", "../x", "", "invalid server name"},
                                         {"backup", "main", "20240101T000000", "takes no BACKUP_ID"},
                                         {"backup-id", "main", "", "needs a BACKUP_ID"},
                                         {"backup-id", "main", "2024", "invalid backup id"}}) {
    auto r = make_lock_name(bad.kind, bad.server, bad.id);
    INFO(bad.kind << " " << bad.server << " " << bad.id);
    REQUIRE_FALSE(r);
    CHECK(r.status().code() == ErrorCode::usage);
    CHECK_THAT(r.status().message(), Catch::Contains(bad.says));
  }
}

TEST_CASE("config validation rejects a server name that would make lock names ambiguous", "[locks]") {
  test::TempDir dir;
  std::string config = dir / "cellar.toml";
  test::write_text(config, "[global]\nhome = \"" + dir.path() +
                               "/home\"\n\n[servers.db-20240101T000000-sync]\n"
                               "conninfo = \"host=localhost\"\n");
  auto loaded = load_config(config);
  REQUIRE_FALSE(loaded);
  CHECK_THAT(loaded.status().to_string(), Catch::Contains("db-20240101T000000-sync"));

  auto run = test::run_cellar({"-c", config, "list-servers"});
  CHECK(run.exit_code == 2);
  CHECK_THAT(run.err, Catch::Contains("ambiguous"));
}

TEST_CASE("the lock-name factories accept exactly the server names config validation accepts", "[locks]") {
  // Random names over the interesting alphabet, plus the tables above.
  std::vector<std::string> names = kServers;
  const std::string alphabet = "ab0-._T/ syncS";
  std::mt19937 rng(4711);
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    size_t len = 1 + rng() % 12;
    for (size_t j = 0; j < len; ++j) s += alphabet[rng() % alphabet.size()];
    if (rng() % 4 == 0) s += "-20240101T000000-sync";
    names.push_back(s);
  }
  for (const char* s : {"", "all", "global", "cellar", "-x", ".x", "x-20240101T000000-sync", "a-sync", "all-x"})
    names.push_back(s);
  names.push_back(std::string(65, 'a'));
  for (const auto& name : names) {
    INFO(name);
    CHECK(parse_lock_file_name_as(LockKind::cron, "." + name + "-cron.lock").has_value() == is_valid_server_name(name));
  }
}
