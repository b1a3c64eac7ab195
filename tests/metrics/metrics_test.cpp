// `cellar metrics` end to end: the real binary against the harness
// PostgreSQL (real backups, receive-wal started by cron, a client hold), and
// against an unreachable one; every output goes through the real `promtool
// check metrics`, and the values are compared with what the catalogue, the
// kernel and `cellar check` say on their own.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <ctime>
#include <filesystem>
#include <map>

#include "catalog/backup_info.h"
#include "check/check.h"
#include "common/fs.h"
#include "cron/cron_support.h"
#include "locks/lock_manager.h"
#include "support/cellar_env.h"
#include "support/pg_server.h"
#include "support/promtool.h"

using namespace cellar;
using namespace cellar::test;

namespace {

using Series = std::map<std::string, double>;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
    out.push_back(text.substr(start, nl - start));
  CHECK(start == text.size());  // the text ends with a newline
  return out;
}

// "name{labels} value" lines as series → value; comments are skipped. Every
// other line must parse and no series may appear twice.
Series series_of(const std::string& text) {
  Series out;
  for (const std::string& line : lines_of(text)) {
    if (line.empty() || line[0] == '#') continue;
    size_t space = line.rfind(' ');
    INFO(line);
    REQUIRE(space != std::string::npos);
    REQUIRE(out.emplace(line.substr(0, space), std::stod(line.substr(space + 1))).second);
  }
  return out;
}

double value(const Series& s, const std::string& series) {
  auto it = s.find(series);
  INFO("series " << series);
  REQUIRE(it != s.end());
  return it->second;
}

int count_prefixed(const Series& s, const std::string& prefix) {
  int n = 0;
  for (const auto& [name, v] : s) n += name.rfind(prefix, 0) == 0;
  return n;
}

RunResult metrics_of(const CellarEnv& env, const std::vector<std::string>& servers) {
  std::vector<std::string> args{"metrics"};
  args.insert(args.end(), servers.begin(), servers.end());
  RunResult r = env.run(args);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.empty());
  require_promtool_clean(r.out);
  return r;
}

std::string backup(const CellarEnv& env) {
  auto r = env.run({"backup", "main", "--wait", "--wait-timeout", "90", "--no-progress", "--immediate-checkpoint"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  REQUIRE(r.out.find(" is DONE") != std::string::npos);
  return r.out.substr(r.out.find("Backup ") + 7, 15);
}

// Files under wals/ other than xlog.db, and their bytes, as the disk says.
std::pair<int, double> wal_files_on_disk(const CellarEnv& env, const std::string& server) {
  int files = 0;
  double bytes = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(env.server_dir(server) + "/wals"))
    if (e.is_regular_file() && e.path().filename() != "xlog.db") {
      ++files;
      bytes += static_cast<double>(e.file_size());
    }
  return {files, bytes};
}

// "\tNAME: OK" / "\tNAME: FAILED (...)" lines of `cellar check` as key → 1/0.
std::map<std::string, double> check_lines(const std::string& out) {
  std::map<std::string, double> results;
  for (const std::string& line : lines_of(out)) {
    if (line.empty() || line[0] != '\t') continue;
    size_t colon = line.find(": ");
    results[check::check_key(line.substr(1, colon - 1))] = line.compare(colon + 2, 2, "OK") == 0 ? 1 : 0;
  }
  return results;
}

std::string lock_series(const std::string& kind, const std::string& lock, const std::string& holder,
                        const std::string& holder_kind) {
  return "cellar_lock_held{server=\"main\",kind=\"" + kind + "\",lock=\"" + lock + "\",host=\"" + locks::this_host() +
         "\",holder=\"" + holder + "\",holder_kind=\"" + holder_kind + "\"}";
}

}  // namespace

TEST_CASE("metrics of a streaming server pass promtool and agree with its backups, archive, locks and checks",
          "[metrics]") {
  PgServer& pg = shared_pg();
  CellarEnv env;
  env.add_server("main", pg.conninfo(), "create_slot = \"auto\"\nslot_name = \"metrics_slot\"");
  ReceiverGuard guard(env, {"main"}, pg.conninfo(), {"metrics_slot"});
  start_streaming(env, "main");
  backup(env);
  const std::string last = backup(env);
  auto info = catalog::load_backup_info(env.server_dir("main") + "/base/" + last);
  REQUIRE(info);
  REQUIRE(info->size);
  const pid_t receiver = *receiver_pid(env, "main");
  REQUIRE(env.run({"hold", "backup", "main", "--client", "dba", "--reason", "metrics test"}).exit_code == 0);

  Series s = series_of(metrics_of(env, {"main"}).out);
  CHECK(value(s, "cellar_postgres_up{server=\"main\"}") == 1);
  CHECK(value(s, "cellar_backups{server=\"main\",status=\"DONE\"}") == 2);
  CHECK(value(s, "cellar_backups{server=\"main\",status=\"FAILED\"}") == 0);
  CHECK(value(s, "cellar_backups{server=\"main\",status=\"WAITING_FOR_WALS\"}") == 0);
  CHECK(value(s, "cellar_last_backup_size_bytes{server=\"main\"}") == static_cast<double>(*info->size));
  CHECK(*info->size > 0);
  double age = value(s, "cellar_last_backup_age_seconds{server=\"main\"}");
  CHECK(age >= 0);
  CHECK(age < 300);
  auto [files, bytes] = wal_files_on_disk(env, "main");
  CHECK(files >= 3);  // the switched segment and each backup's WAL
  CHECK(value(s, "cellar_wal_archive_files{server=\"main\"}") == files);
  CHECK(value(s, "cellar_wal_archive_size_bytes{server=\"main\"}") == bytes);
  double wal_age = value(s, "cellar_wal_last_archived_age_seconds{server=\"main\"}");
  CHECK(wal_age >= 0);
  CHECK(wal_age < 300);
  CHECK(value(s, "cellar_receive_wal_up{server=\"main\"}") == 1);
  CHECK(value(s, "cellar_receive_wal_lag_bytes{server=\"main\"}") >= 0);
  CHECK(value(s, lock_series("receive-wal", "main-receive-wal", std::to_string(receiver), "process")) == 1);
  CHECK(value(s, lock_series("backup", "main-backup", "dba", "client")) == 1);
  CHECK(value(s, "cellar_scrape_errors{server=\"main\"}") == 0);

  // Each check as `cellar check` prints it, and no other.
  RunResult check = env.run({"check", "main"});
  auto checks = check_lines(check.out);
  CHECK(checks.count("postgresql") == 1);
  CHECK(count_prefixed(s, "cellar_check_ok{") == static_cast<int>(checks.size()));
  for (const auto& [key, ok] : checks) {
    INFO("check " << key << "\n" << check.out);
    CHECK(value(s, "cellar_check_ok{server=\"main\",check=\"" + key + "\"}") == ok);
  }

  // Once released, the hold's series is gone; the receiver's stays.
  REQUIRE(env.run({"release", "backup", "main", "--client", "dba"}).exit_code == 0);
  Series after = series_of(metrics_of(env, {}).out);
  CHECK(after.count(lock_series("backup", "main-backup", "dba", "client")) == 0);
  CHECK(value(after, lock_series("receive-wal", "main-receive-wal", std::to_string(receiver), "process")) == 1);
  CHECK(count_prefixed(after, "cellar_lock_held{") == 1);
}

TEST_CASE("metrics of a server whose PostgreSQL is unreachable exit 0, say so and still report the catalogue",
          "[metrics]") {
  CellarEnv env;
  env.add_server("main", "host=/nonexistent port=1 user=postgres");
  fabricate_wals(env, "main", {segment(1), segment(2)});  // 100 bytes each in xlog.db, time 1 (1970)
  fabricate_backup(env, "main", "20260101T000000", "DONE", segment(1), segment(1), 7200);
  fabricate_backup(env, "main", "20260102T000000", "FAILED", segment(1), segment(1), 5000);
  fabricate_backup(env, "main", "20260103T000000", "DONE", segment(2), segment(2), 3600, {{"size", "123456789012"}});
  const double now = static_cast<double>(std::time(nullptr));

  Series s = series_of(metrics_of(env, {"main"}).out);
  CHECK(value(s, "cellar_postgres_up{server=\"main\"}") == 0);
  CHECK(value(s, "cellar_check_ok{server=\"main\",check=\"postgresql\"}") == 0);
  CHECK(value(s, "cellar_receive_wal_up{server=\"main\"}") == 0);
  CHECK(s.count("cellar_receive_wal_lag_bytes{server=\"main\"}") == 0);
  CHECK(value(s, "cellar_backups{server=\"main\",status=\"DONE\"}") == 2);
  CHECK(value(s, "cellar_backups{server=\"main\",status=\"FAILED\"}") == 1);
  CHECK(value(s, "cellar_backups{server=\"main\",status=\"STARTED\"}") == 0);
  CHECK(value(s, "cellar_last_backup_size_bytes{server=\"main\"}") == 123456789012.0);
  double age = value(s, "cellar_last_backup_age_seconds{server=\"main\"}");
  CHECK(age >= 3600);
  CHECK(age < 3660);
  CHECK(value(s, "cellar_wal_archive_files{server=\"main\"}") == 2);
  CHECK(value(s, "cellar_wal_archive_size_bytes{server=\"main\"}") == 200);
  double wal_age = value(s, "cellar_wal_last_archived_age_seconds{server=\"main\"}");
  CHECK(wal_age >= now - 1 - 5);
  CHECK(wal_age <= now - 1 + 60);
  CHECK(count_prefixed(s, "cellar_lock_held{") == 0);
  CHECK(value(s, "cellar_scrape_errors{server=\"main\"}") == 0);
}

TEST_CASE("metrics leave out what they cannot read and count it in cellar_scrape_errors", "[metrics]") {
  CellarEnv env;
  env.add_server("main", "host=/nonexistent port=1 user=postgres");
  env.add_server("other", "host=/nonexistent port=1 user=postgres");
  fabricate_backup(env, "main", "20260101T000000", "DONE", segment(1), segment(1));
  REQUIRE(make_dirs(env.server_dir("main") + "/wals"));
  write_text(env.server_dir("main") + "/wals/xlog.db", "this is not an xlog.db line\n");

  Series s = series_of(metrics_of(env, {"main", "other"}).out);
  CHECK(value(s, "cellar_scrape_errors{server=\"main\"}") == 1);
  CHECK(value(s, "cellar_scrape_errors{server=\"other\"}") == 0);
  CHECK(s.count("cellar_wal_archive_files{server=\"main\"}") == 0);
  CHECK(s.count("cellar_wal_archive_size_bytes{server=\"main\"}") == 0);
  CHECK(value(s, "cellar_wal_archive_files{server=\"other\"}") == 0);
  CHECK(value(s, "cellar_backups{server=\"main\",status=\"DONE\"}") == 1);  // the catalogue still read
}

TEST_CASE("metrics without SERVER cover every active server, and an unknown server exits 2", "[metrics]") {
  CellarEnv env;
  env.add_server("main", "host=/nonexistent port=1 user=postgres");
  env.add_server("standby", "host=/nonexistent port=1 user=postgres");
  env.add_server("old", "host=/nonexistent port=1 user=postgres", "active = false");

  Series all = series_of(metrics_of(env, {}).out);
  CHECK(value(all, "cellar_postgres_up{server=\"main\"}") == 0);
  CHECK(value(all, "cellar_postgres_up{server=\"standby\"}") == 0);
  CHECK(all.count("cellar_postgres_up{server=\"old\"}") == 0);
  Series old = series_of(metrics_of(env, {"old"}).out);  // named, an inactive server counts
  CHECK(value(old, "cellar_postgres_up{server=\"old\"}") == 0);
  // Named twice, or inside `all`: each series once (series_of REQUIREs it).
  Series twice = series_of(metrics_of(env, {"main", "all", "main"}).out);
  CHECK(value(twice, "cellar_postgres_up{server=\"main\"}") == 0);
  CHECK(value(twice, "cellar_postgres_up{server=\"standby\"}") == 0);

  RunResult unknown = env.run({"metrics", "nosuch"});
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.out.empty());
  RunResult json = env.run({"-f", "json", "metrics"});
  CHECK(json.exit_code == 2);
  CHECK(json.out.empty());
  CHECK(json.err.find("ERROR: metrics has no JSON output") == 0);
}
