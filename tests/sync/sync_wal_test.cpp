// sync-wal between two cellar homes on this machine: the primary's archive
// is written by hand (no PostgreSQL needed to test the transport, the size
// checks, the catalogue and the bookmark); the passive node reaches the
// primary's cellar through primary_ssh_command = "<cellar> -c <primary.toml>".
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "common/fs.h"
#include "support/cellar_env.h"
#include "wal/xlogdb.h"

using namespace cellar;
using namespace cellar::test;

namespace {

std::string segment(int n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0000000100000000000000%02X", n);
  return buf;
}

struct Nodes {
  CellarEnv primary;
  CellarEnv passive;
  Nodes() {
    primary.add_server("main", "host=db1 user=cellar");
    passive.add_server("main", "host=unused",
                       "primary_ssh_command = \"" + std::string(CELLAR_BINARY) + " -c " + primary.config() + "\"");
  }
  std::string primary_wals() const { return primary.server_dir("main") + "/wals"; }
  std::string passive_wals() const { return passive.server_dir("main") + "/wals"; }
  // Archives a fake segment on the primary (`suffix` "" or ".zst") and catalogues it.
  void archive(int n, const std::string& suffix = "", const std::string& content = "") {
    std::string name = segment(n);
    std::string dir = primary_wals() + "/" + name.substr(0, 16);
    REQUIRE(make_dirs(dir));
    std::string data =
        content.empty() ? std::string(1000 + static_cast<size_t>(n), static_cast<char>('a' + n)) : content;
    write_text(dir + "/" + name + suffix, data);
    std::string line = wal::format_xlog_entry(
        {name, data.size(), 1795342120.0 + n, suffix.empty() ? codec::Codec::none : codec::Codec::zstd, {}});
    std::string db = primary_wals() + "/xlog.db";
    write_text(db, (path_exists(db) ? read_text(db) : std::string()) + line);
  }
  std::vector<std::string> passive_catalogue() const {
    auto db = wal::load_xlogdb(passive_wals() + "/xlog.db");
    REQUIRE(db);
    std::vector<std::string> names;
    for (const auto& e : db->entries) names.push_back(e.name);
    return names;
  }
};

}  // namespace

TEST_CASE("sync-wal copies the primary's WAL, catalogues it and resumes from its bookmark", "[sync]") {
  Nodes n;
  n.archive(2);
  n.archive(3, ".zst");
  RunResult r = n.passive.run({"sync-wal", "main"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(n.passive_catalogue() == std::vector<std::string>{segment(2), segment(3)});
  std::string rel2 = "/" + segment(2).substr(0, 16) + "/" + segment(2);
  CHECK(read_text(n.passive_wals() + rel2) == read_text(n.primary_wals() + rel2));
  CHECK(read_text(n.passive_wals() + rel2 + "").size() == 1002);
  CHECK(path_exists(n.passive_wals() + "/" + segment(3).substr(0, 16) + "/" + segment(3) + ".zst"));
  CHECK(read_text(n.passive_wals() + "/sync-wals.info").rfind(segment(3) + "\t", 0) == 0);
  // The passive node's get-wal serves the copy.
  RunResult got = n.passive.run({"get-wal", "main", segment(2)});
  CHECK(got.exit_code == 0);
  CHECK(got.out.size() == 1002);

  // Only the new WAL next time; the alias sync-wals does the same; nothing to do is fine.
  n.archive(4);
  r = n.passive.run({"sync-wals", "main"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("1 WAL file(s)") != std::string::npos);
  CHECK(n.passive_catalogue() == std::vector<std::string>{segment(2), segment(3), segment(4)});
  r = n.passive.run({"sync-wal", "main"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("0 WAL file(s)") != std::string::npos);
  CHECK(n.passive_catalogue().size() == 3);
}

TEST_CASE("sync-wal refuses a file whose size differs from the primary's catalogue", "[sync]") {
  Nodes n;
  n.archive(2);
  // Tamper with the stored file after it was catalogued.
  std::string path = n.primary_wals() + "/" + segment(2).substr(0, 16) + "/" + segment(2);
  write_text(path, "short");
  RunResult r = n.passive.run({"sync-wal", "main"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("size mismatch") != std::string::npos);
  CHECK(n.passive_catalogue().empty());
  CHECK_FALSE(path_exists(n.passive_wals() + "/" + segment(2).substr(0, 16) + "/" + segment(2)));
  CHECK_FALSE(path_exists(n.passive_wals() + "/sync-wals.info"));
}

TEST_CASE("sync-wal resynchronises fully when its bookmark is outside the primary's catalogue", "[sync]") {
  Nodes n;
  n.archive(2);
  REQUIRE(n.passive.run({"sync-wal", "main"}).exit_code == 0);
  // The primary's catalogue was rebuilt and no longer holds the bookmark.
  ::unlink((n.primary_wals() + "/xlog.db").c_str());
  n.archive(5);
  n.archive(6);
  RunResult r = n.passive.run({"sync-wal", "main"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(n.passive_catalogue() == std::vector<std::string>{segment(2), segment(5), segment(6)});
}

TEST_CASE("sync-wal is refused for a server that is not passive, and fails when the primary is unreachable", "[sync]") {
  Nodes n;
  RunResult r = n.primary.run({"sync-wal", "main"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("not passive") != std::string::npos);
  CellarEnv broken;
  broken.add_server("main", "host=unused", "primary_ssh_command = \"false\"");
  r = broken.run({"sync-wal", "main"});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("primary") != std::string::npos);
}

TEST_CASE("sync-send refuses names that are not archived WAL files", "[sync]") {
  Nodes n;
  n.archive(2);
  CHECK(n.primary.run({"sync-send", "main", "wal", "../../etc/passwd"}).exit_code == 2);
  CHECK(n.primary.run({"sync-send", "main", "wal", segment(9)}).exit_code == 1);
  CHECK(n.primary.run({"sync-send", "main", "backup", "20261122T100810"}).exit_code == 1);  // no such DONE backup
  CHECK(n.primary.run({"sync-send", "main", "backup", "../x"}).exit_code == 2);
  CHECK(n.primary.run({"sync-send", "main", "tablespace", "x"}).exit_code == 2);
  RunResult r = n.primary.run({"sync-send", "main", "wal", segment(2)});
  CHECK(r.exit_code == 0);
  CHECK(r.out.size() == 512 + 1024 + 1024);  // header, 1002 bytes padded to 1024, end blocks
}

TEST_CASE("sync-wal into an encrypted repository stores ciphertext and catalogues it as encrypted", "[sync]") {
  CellarEnv primary;
  CellarEnv passive;
  TempDir keys;
  const std::string key_file = keys / "repo.key";
  write_text(key_file, std::string(64, 'a') + "\n");
  REQUIRE(::chmod(key_file.c_str(), 0600) == 0);
  primary.add_server("main", "host=db1 user=cellar");
  passive.add_server("main", "host=unused",
                     "primary_ssh_command = \"" + std::string(CELLAR_BINARY) + " -c " + primary.config() +
                         "\"\nencryption = \"aes-256-gcm\"\nencryption_key_file = \"" + key_file + "\"");
  const std::string name = segment(5);
  const std::string rel = "/wals/" + name.substr(0, 16) + "/" + name;
  const std::string data(3000, 'w');
  REQUIRE(make_dirs(dirname_of(primary.server_dir("main") + rel)));
  write_text(primary.server_dir("main") + rel, data);
  write_text(primary.server_dir("main") + "/wals/xlog.db",
             wal::format_xlog_entry({name, data.size(), 1795342120.0, codec::Codec::none, {}}));
  RunResult r = passive.run({"sync-wal", "main"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  auto db = wal::load_xlogdb(passive.server_dir("main") + "/wals/xlog.db");
  REQUIRE(db);
  REQUIRE(db->entries.size() == 1);
  CHECK_FALSE(db->entries[0].encryption.empty());
  CHECK(read_text(passive.server_dir("main") + rel) != data);  // ciphertext at rest
  RunResult got = passive.run({"get-wal", "main", name});
  CHECK(got.exit_code == 0);
  CHECK(got.out == data);
}
