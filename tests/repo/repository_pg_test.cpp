// Repositories that are not the default (SPEC §8) against a real PostgreSQL,
// driving the real binary: a repository on another path (a shared
// filesystem's layout), and encryption at rest, each through backup, verify,
// recover (started and compared with the data at the target) and delete.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "common/fs.h"
#include "repo/repo_site.h"
#include "support/restored.h"

using namespace cellar;
using namespace cellar::test;

namespace {

std::string key_file(const TempDir& dir, const char* name, mode_t mode) {
  std::string path = dir / name;
  write_text(path, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n");
  ::chmod(path.c_str(), mode);
  return path;
}

}  // namespace

TEST_CASE("a repository on another path holds base/ and wals/ while the spool stays under home", "[repo][pg]") {
  TempDir shared;
  RepoSite site("cellar_repo_path", "repository = \"" + shared.path() + "/nfs\"\n");
  std::string id = site.backup_done();
  std::string sums = site.load_and_sums();
  site.archive_current();
  const std::string repo = shared / "nfs/main";
  CHECK(path_exists(repo + "/base/" + id + "/backup.info"));
  CHECK(path_exists(repo + "/base/" + id + "/backup_manifest"));
  CHECK(path_exists(repo + "/wals/xlog.db"));
  CHECK(path_exists(repo + "/identity.json"));
  CHECK_FALSE(path_exists(site.env->server_dir("main") + "/base"));
  CHECK_FALSE(path_exists(site.env->server_dir("main") + "/wals"));
  CHECK(path_exists(site.env->server_dir("main") + "/streaming"));
  auto list = site.run({"list-backups", "main"});
  CHECK(list.out.find(id) != std::string::npos);
  auto verify = site.run({"verify-backup", "main", id});
  INFO(verify.out << verify.err);
  CHECK(verify.exit_code == 0);
  auto check = site.run({"check", "main"});
  CHECK(check.out.find("repository: OK") != std::string::npos);
  site.recover_and_compare(id, sums);
  // rebuild-xlogdb makes the same catalogue again from the listing.
  std::string before = read_text(repo + "/wals/xlog.db");
  REQUIRE(::unlink((repo + "/wals/xlog.db").c_str()) == 0);
  auto rebuilt = site.run({"rebuild-xlogdb", "main"});
  INFO(rebuilt.out << rebuilt.err);
  REQUIRE(rebuilt.exit_code == 0);
  std::string after = read_text(repo + "/wals/xlog.db");
  auto names = [](const std::string& db) {
    std::vector<std::string> out;
    for (size_t at = 0; at < db.size();) {
      size_t nl = db.find('\n', at);
      out.push_back(db.substr(at, db.find('\t', at) - at));
      at = nl + 1;
    }
    return out;
  };
  CHECK(names(after) == names(before));
  auto del = site.run({"delete", "main", id});
  INFO(del.out << del.err);
  CHECK(del.exit_code == 0);
  CHECK_FALSE(path_exists(repo + "/base/" + id));
}

TEST_CASE("an encrypted repository stores no readable data, restores it, and catches an altered byte", "[repo][pg]") {
  TempDir keys;
  std::string key = key_file(keys, "key", 0600);
  RepoSite site("cellar_repo_enc", "encryption = \"aes-256-gcm\"\nencryption_key_file = \"" + key + "\"\n");
  std::string id = site.backup_done();
  std::string sums = site.load_and_sums();
  site.archive_current();
  const std::string dir = site.env->server_dir("main") + "/base/" + id;
  CHECK(read_text(dir + "/data/PG_VERSION.zst").rfind("CELLARE", 0) == 0);
  CHECK(read_text(dir + "/backup_manifest").rfind("CELLARE", 0) == 0);
  CHECK(read_text(dir + "/backup.info").find("status=DONE") != std::string::npos);
  auto verify = site.run({"verify-backup", "main", id});
  INFO(verify.out << verify.err);
  CHECK(verify.exit_code == 0);
  site.recover_and_compare(id, sums);
  // One flipped byte in a stored file: verify-backup names it.
  std::string victim = dir + "/data/PG_VERSION.zst";
  std::string bytes = read_text(victim);
  bytes[bytes.size() - 3] = static_cast<char>(bytes[bytes.size() - 3] ^ 0x40);
  write_text(victim, bytes);
  auto bad = site.run({"verify-backup", "main", id});
  INFO(bad.out << bad.err);
  CHECK(bad.exit_code == 1);
  CHECK((bad.out + bad.err).find("PG_VERSION") != std::string::npos);
}

TEST_CASE("encryption without a usable key file is a configuration error", "[repo]") {
  TempDir keys;
  CellarEnv env;
  SECTION("no key file") { env.add_server("main", "host=/nonexistent", "encryption = \"aes-256-gcm\"\n"); }
  SECTION("a key file others can read") {
    env.add_server("main", "host=/nonexistent",
                   "encryption = \"aes-256-gcm\"\nencryption_key_file = \"" + key_file(keys, "k", 0644) + "\"\n");
  }
  SECTION("an unknown repository shape") { env.add_server("main", "host=/nonexistent", "repository = \"ftp://x\"\n"); }
  SECTION("an S3 repository without credentials") {
    env.add_server("main", "host=/nonexistent", "repository = \"s3://bucket-one\"\n");
  }
  auto r = env.run({"list-backups", "main"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.err.rfind("ERROR: ", 0) == 0);
  CHECK(r.err.find("0011223344") == std::string::npos);
}
