#include "cron/cron_support.h"

#include <signal.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <ctime>
#include <fstream>

#include "catalog/backup_info.h"
#include "common/fs.h"
#include "locks/lock_file.h"
#include "locks/lock_names.h"
#include "pg/wal_names.h"
#include "support/pg_server.h"
#include "wal/wal_store.h"
#include "wal/xlogdb.h"

namespace cellar::test {

ReceiverGuard::~ReceiverGuard() {
  for (const auto& s : servers_) {
    if (!receiver_pid(env_, s)) continue;
    env_.run({"receive-wal", "--stop", s});
    if (auto pid = receiver_pid(env_, s)) {
      ::kill(*pid, SIGKILL);
      wait_until([&] { return !receiver_pid(env_, s); }, 10);
    }
  }
  for (const auto& slot : slots_) {
    try {
      shared_pg().psql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" +
                       slot + "'");
    } catch (...) {
    }
  }
}

void fabricate_backup(const CellarEnv& env, const std::string& server, const std::string& id, const std::string& status,
                      const std::string& begin_wal, const std::string& end_wal, int64_t age_seconds,
                      const std::vector<std::pair<std::string, std::string>>& extra) {
  std::string dir = env.server_dir(server) + "/base/" + id;
  REQUIRE(make_dirs(dir + "/data"));
  catalog::BackupInfo info;
  std::time_t end = std::time(nullptr) - age_seconds;
  info.backup_id = id;
  info.server_name = server;
  REQUIRE(catalog::parse_info_field(info, "status", status));
  info.begin_wal = begin_wal;
  info.end_wal = end_wal;
  info.begin_time = catalog::Timestamp::local(end - 60);
  info.end_time = catalog::Timestamp::local(end);
  info.timeline = 1;
  info.xlog_segment_size = pg::kDefaultSegmentSize;
  info.size = 1000;
  for (const auto& [k, v] : extra) REQUIRE(catalog::parse_info_field(info, k, v));
  REQUIRE(info.unknown.empty());  // a misspelled key in `extra`
  REQUIRE(catalog::save_backup_info(dir, info));
}

void fabricate_wals(const CellarEnv& env, const std::string& server, const std::vector<std::string>& names) {
  std::string wals = wal::wals_dir(env.server_dir(server));
  std::string db;
  for (const auto& n : names) {
    std::string dir = wal::archive_dir_for(wals, n);
    REQUIRE(make_dirs(dir));
    write_text(dir + "/" + n, "wal " + n);
    db += wal::format_xlog_entry({n, 100, 1.0, codec::Codec::none, {}});
  }
  std::ofstream(wal::xlogdb_path(env.server_dir(server)), std::ios::app) << db;
}

std::vector<std::string> archived_names(const CellarEnv& env, const std::string& server) {
  std::vector<std::string> out;
  auto db = wal::load_xlogdb(wal::xlogdb_path(env.server_dir(server)));
  if (db)
    for (const auto& e : db->entries) out.push_back(e.name);
  return out;
}

std::vector<std::string> archive_gaps(const CellarEnv& env, const std::string& server, const std::string& first,
                                      const std::string& last) {
  auto names = archived_names(env, server);
  auto from = pg::parse_wal_file_name(first, pg::kDefaultSegmentSize),
       to = pg::parse_wal_file_name(last, pg::kDefaultSegmentSize);
  REQUIRE(from);
  REQUIRE(to);
  std::vector<std::string> out;
  for (pg::SegNo s = from->segno; s <= to->segno; ++s) {
    std::string name = segment(s);
    auto times = std::count(names.begin(), names.end(), name);
    if (times != 1) out.push_back(name + " archived " + std::to_string(times) + " times");
  }
  return out;
}

bool slot_active(const PgServer& pg, const std::string& slot) {
  return pg.psql("SELECT active FROM pg_replication_slots WHERE slot_name = '" + slot + "'") == "t";
}

pg::Lsn slot_restart_lsn(const PgServer& pg, const std::string& slot) {
  auto lsn = pg::parse_lsn(pg.psql("SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = '" + slot + "'"));
  INFO("slot " << slot);
  REQUIRE(lsn);
  return *lsn;
}

int count_receivers(const CellarEnv& env, const std::string& server) {
  int n = 0;
  auto pids = list_dir("/proc");
  if (!pids) return -1;
  for (const auto& p : *pids) {
    if (p.find_first_not_of("0123456789") != std::string::npos) continue;
    auto raw = read_file("/proc/" + p + "/cmdline");
    if (!raw) continue;
    std::vector<std::string> words;
    size_t start = 0;
    for (size_t z; (z = raw->find('\0', start)) != std::string::npos; start = z + 1)
      words.push_back(raw->substr(start, z - start));
    bool ours = false, receive = false;
    for (size_t i = 0; i + 1 < words.size(); ++i) {
      if (words[i] == "-c" && words[i + 1] == env.config()) ours = true;
      if (words[i] == "receive-wal" && words[i + 1] == server) receive = true;
    }
    if (ours && receive && words.back() == server) ++n;
  }
  return n;
}

bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

int count_of(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// Runs cron until `segment` is archived (cron archives what receive-wal wrote).
void cron_until_archived(const CellarEnv& env, const std::string& server, const std::string& seg) {
  bool archived = wait_until(
      [&] {
        auto r = env.run({"cron"});
        return r.exit_code == 0 && wal::is_archived(env.server_dir(server), seg);
      },
      30);
  REQUIRE(archived);
}

std::string backup_id_of(const RunResult& r) {
  size_t at = r.out.find("Backup ");
  return at == std::string::npos ? "" : r.out.substr(at + 7, 15);
}

void check_next_backup_done(const CellarEnv& env, const std::string& failed_id) {
  auto next = env.run({"backup", "main", "--no-progress", "--wait", "--wait-timeout", "120", "--immediate-checkpoint"});
  INFO(next.out << next.err);
  CHECK(next.exit_code == 0);
  auto after = list_dir(env.server_dir("main") + "/base");
  REQUIRE(after);
  REQUIRE(after->size() == 2);
  for (const auto& id : *after) {
    auto info = catalog::load_backup_info(env.server_dir("main") + "/base/" + id);
    REQUIRE(info);
    CHECK(info->status == (id == failed_id ? catalog::BackupStatus::failed : catalog::BackupStatus::done));
  }
}

std::string start_streaming(const CellarEnv& env, const std::string& server) {
  REQUIRE(env.run({"cron"}).exit_code == 0);
  REQUIRE(wait_until([&] { return receiver_pid(env, server).has_value(); }, 10));
  std::string closed = switch_segment(env, server);
  cron_until_archived(env, server, closed);
  return closed;
}

}  // namespace cellar::test
