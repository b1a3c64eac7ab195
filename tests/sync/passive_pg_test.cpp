// A primary and a passive node on one machine (two homes, two configs, one
// PostgreSQL): after a backup and more WAL on the primary, the passive cron
// `cellar cron` pass (run_passive_sync) brings both over; the copy verifies, and `recover`
// from the passive node starts a server holding the primary's data. A file
// tampered with on the primary is caught on the passive side.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <memory>

#include "common/fs.h"
#include "locks/lock_file.h"
#include "locks/lock_names.h"
#include "pg/connection.h"
#include "support/cellar_env.h"
#include "support/pg_server.h"
#include "sync/sync.h"

using namespace cellar;
using namespace cellar::test;

namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

struct Primary {
  std::unique_ptr<PgServer> pg = PgServer::start();
  CellarEnv env;
  Child receiver;
  Primary() {
    pg->psql("CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g");
    pg->psql("ALTER SYSTEM SET archive_command = 'true'");
    env.add_server("main", pg->conninfo(), "slot_name = \"cellar_sync\"");
    auto slot = env.run({"receive-wal", "--create-slot", "main"});
    INFO(slot.err);
    REQUIRE(slot.exit_code == 0);
    receiver = env.spawn_cellar({"receive-wal", "main"});
    std::string lock = env.home() + "/" + locks::make_lock_file_name({locks::LockKind::receive_wal, "main", ""});
    REQUIRE(wait_until([&] { return locks::LockFile(lock).owner_pid().has_value(); }, 20));
  }
  ~Primary() {
    if (receiver.pid() > 0) env.run({"receive-wal", "--stop", "main"});
  }
  std::string backup() const {
    auto r = env.run({"backup", "main", "--wait", "--wait-timeout", "90", "--no-progress", "--immediate-checkpoint"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    return r.out.substr(r.out.find("Backup ") + 7, 15);
  }
  // Closes the current segment and archives it.
  void archive_current() const {
    auto sw = env.run({"switch-wal", "main"});
    size_t pos = sw.out.find("The WAL file ");
    REQUIRE(pos != std::string::npos);
    std::string segment = sw.out.substr(pos + 13, 24);
    std::string path = env.server_dir("main") + "/wals/" + segment.substr(0, 16) + "/" + segment;
    REQUIRE(wait_until(
        [&] {
          env.run({"archive-wal", "main"});
          return path_exists(path);
        },
        60));
  }
};

struct Passive {
  CellarEnv env;
  explicit Passive(const Primary& p) {
    env.add_server("main", "host=unused",
                   "primary_ssh_command = \"" + std::string(CELLAR_BINARY) + " -c " + p.env.config() + "\"");
  }
  // One run of the passive node's `cellar cron`; returns what it printed.
  std::vector<std::string> cron_step() const {
    auto r = env.run({"cron"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    std::vector<std::string> lines;
    for (size_t pos = 0; pos < r.out.size();) {
      size_t nl = r.out.find('\n', pos);
      lines.push_back(r.out.substr(pos, nl - pos));
      pos = nl == std::string::npos ? r.out.size() : nl + 1;
    }
    return lines;
  }
};

}  // namespace

TEST_CASE("a passive node syncs backup and WAL from the primary, verifies them, and recovers the data", "[sync][pg]") {
  Primary primary;
  const std::string id = primary.backup();
  primary.pg->psql("INSERT INTO t SELECT generate_series(1001, 1500)");
  primary.archive_current();

  Passive passive(primary);
  auto lines = passive.cron_step();
  std::string all;
  for (const auto& l : lines) all += l + "\n";
  INFO(all);
  auto list = passive.env.run({"-f", "json", "list-backups", "main"});
  INFO(list.out << list.err);
  CHECK(list.out.find(id) != std::string::npos);
  CHECK(list.out.find("\"DONE\"") != std::string::npos);
  CHECK(passive.env.run({"verify-backup", "main", id}).exit_code == 0);
  // A second pass has nothing to do.
  auto again = passive.cron_step();
  CHECK(std::find(again.begin(), again.end(), "0 WAL file(s) synchronised for server \"main\"") != again.end());

  SECTION("recover from the passive node holds the primary's data") {
    TempDir tmp;
    ::chmod(tmp.path().c_str(), 0755);
    std::string dest = tmp / "data", sock = tmp / "sock";
    REQUIRE(make_dirs(sock));
    auto r = passive.env.run({"recover", "main", id, dest, "--no-progress"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    write_text(dest + "/postgresql.auto.conf", read_text(dest + "/postgresql.auto.conf") +
                                                   "port = 5432\nlisten_addresses = ''\nunix_socket_directories = '" +
                                                   sock + "'\n");
    chown_to_postgres(tmp.path());
    auto started =
        run_as_postgres({pg_bindir() + "/pg_ctl", "start", "-D", dest, "-l", sock + "/pg.log", "-w", "-t", "120"});
    INFO(started.err << (path_exists(sock + "/pg.log") ? read_text(sock + "/pg.log") : ""));
    REQUIRE(started.exit_code == 0);
    std::string conninfo = "host=" + sock + " port=5432 user=postgres dbname=postgres";
    auto count = [&]() -> std::string {
      auto conn = pg::Connection::open(conninfo, pg::ConnectionKind::normal, "cellar_tests");
      if (!conn) return "";
      auto v =
          conn->query_value("SELECT CASE WHEN pg_is_in_recovery() THEN 'recovering' ELSE count(*)::text END FROM t");
      return v ? *v : "";
    };
    bool promoted = wait_until(
        [&] {
          std::string c = count();
          return !c.empty() && c != "recovering";
        },
        90);
    std::string rows = count();
    run_as_postgres({pg_bindir() + "/pg_ctl", "stop", "-D", dest, "-m", "immediate", "-w"});
    REQUIRE(promoted);
    CHECK(trim(rows) == "1500");
  }

  SECTION("a file tampered with on the primary is caught: the copy is FAILED, never DONE") {
    std::string file = primary.env.server_dir("main") + "/base/" + id + "/data/PG_VERSION";
    std::string original = read_text(file);
    std::string bad = original;
    bad[0] = static_cast<char>(bad[0] ^ 0x01);
    write_text(file, bad);
    Passive second(primary);
    auto r = second.env.run({"sync-backup", "main", id});
    write_text(file, original);
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("PG_VERSION") != std::string::npos);
    auto info = read_text(second.env.server_dir("main") + "/base/" + id + "/backup.info");
    CHECK(info.find("status=FAILED") != std::string::npos);
    CHECK(info.find("error=failure syncing server main backup " + id) != std::string::npos);
  }
}
