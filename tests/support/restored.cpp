#include "support/restored.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "common/fs.h"
#include "pg/connection.h"
#include "support/pg_server.h"

namespace cellar::test {

const char* const kPgbenchChecksums =
    "SELECT (SELECT md5(string_agg(t::text, ',' ORDER BY t.aid)) FROM pgbench_accounts t) || ' ' ||"
    " (SELECT md5(string_agg(t::text, ',' ORDER BY t.bid)) FROM pgbench_branches t) || ' ' ||"
    " (SELECT md5(string_agg(t::text, ',' ORDER BY t.tid)) FROM pgbench_tellers t) || ' ' ||"
    " (SELECT coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), 'empty') FROM pgbench_history t)";

Restored::Restored() {
  ::chmod(tmp.path().c_str(), 0755);  // PostgreSQL's account must traverse it
  REQUIRE(make_dirs(sock));
}

Restored::~Restored() {
  if (started) run_as_postgres({pg_bindir() + "/pg_ctl", "stop", "-D", dest, "-m", "immediate", "-w"});
}

std::string Restored::log() const { return path_exists(sock + "/pg.log") ? read_text(sock + "/pg.log") : ""; }

RunResult Restored::recover(const CellarEnv& env, const std::string& server, const std::string& backup,
                            const std::vector<std::string>& extra) const {
  std::vector<std::string> args{"recover", server, backup, dest, "--no-progress"};
  args.insert(args.end(), extra.begin(), extra.end());
  return env.run(args);
}

void Restored::start() {
  std::string conf = read_text(dest + "/postgresql.auto.conf");
  write_text(dest + "/postgresql.auto.conf",
             conf + "port = 5432\nlisten_addresses = ''\nunix_socket_directories = '" + sock + "'\n");
  chown_to_postgres(tmp.path());
  auto r = run_as_postgres({pg_bindir() + "/pg_ctl", "start", "-D", dest, "-l", sock + "/pg.log", "-w", "-t", "120"});
  started = true;
  INFO(r.out << r.err << log());
  REQUIRE(r.exit_code == 0);
}

std::string Restored::query(const std::string& sql) const {
  auto conn = pg::Connection::open(conninfo(), pg::ConnectionKind::normal, "cellar_tests");
  if (!conn) return "ERROR " + conn.status().message();
  auto v = conn->query_value(sql);
  return v ? *v : "ERROR " + v.status().message();
}

std::string Restored::promoted_sums() const {
  bool done = wait_until([&] { return query("SELECT pg_is_in_recovery()") == "f"; }, 90);
  INFO(log());
  REQUIRE(done);
  return query(kPgbenchChecksums);
}

}  // namespace cellar::test
