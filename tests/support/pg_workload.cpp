#include "support/pg_workload.h"

#include <stdexcept>

#include "common/fs.h"

namespace cellar::test {

void run_pgbench(const PgServer& pg, const std::vector<std::string>& args) {
  std::vector<std::string> argv{pg_bindir() + "/pgbench",  "-h", pg.socket_dir(), "-p",
                                std::to_string(pg.port()), "-U", "postgres"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("postgres");
  auto r = run_program(argv);
  if (r.exit_code != 0) throw std::runtime_error("pgbench failed: " + r.err);
}

std::string archive_current_wal(const CellarEnv& env, const std::string& server) {
  auto sw = env.run({"switch-wal", server});
  size_t pos = sw.out.find("The WAL file ");
  if (sw.exit_code != 0 || pos == std::string::npos) throw std::runtime_error("switch-wal failed: " + sw.out + sw.err);
  std::string segment = sw.out.substr(pos + 13, 24);
  std::string wals = env.server_dir(server) + "/wals/" + segment.substr(0, 16) + "/" + segment;
  std::string found;
  bool archived = wait_until(
      [&] {
        env.run({"archive-wal", server});
        for (const std::string& p : {wals, wals + ".lz4"})
          if (path_exists(p)) found = p;
        return !found.empty();
      },
      30);
  if (!archived) throw std::runtime_error("segment " + segment + " was not archived");
  return found;
}

}  // namespace cellar::test
