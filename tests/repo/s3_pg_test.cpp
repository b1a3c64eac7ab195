// S3 repositories end to end (SPEC §8, issue 12 item 8): a real PostgreSQL,
// a real OpenStack Swift S3 server started by the harness, the real binary.
// Backup --wait to S3, recover from it and compare the data; verify-backup
// catching a flipped byte in an object; delete and retention removing
// objects; cron archiving under pgbench load; faults injected by a proxy
// between cellar and the server (503 SlowDown, resets mid-body, 403); and
// encryption on S3.
#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <thread>

#include "catalog/manifest.h"
#include "common/fs.h"
#include "common/storage.h"
#include "incr/incremental_file.h"
#include "repo/repo_site.h"
#include "s3/s3_storage.h"
#include "support/fault_proxy.h"
#include "support/restored.h"
#include "support/s3_server.h"

using namespace cellar;
using namespace cellar::test;

namespace {

// The repository keys of a server whose objects live under cellar/main/ in
// `bucket`, reached through `endpoint` (the server, or a proxy before it).
struct S3Repo {
  TempDir keys;
  std::string bucket = shared_s3().create_bucket();
  std::string endpoint = shared_s3().endpoint();

  std::string toml(const std::string& extra = "") const {
    std::string secret = keys / "s3-secret";
    write_text(secret, "testing\n");
    ::chmod(secret.c_str(), 0600);
    return "repository = \"s3://" + bucket + "/cellar\"\ns3_endpoint = \"" + endpoint +
           "\"\ns3_uri_style = \"path\"\ns3_key_id = \"test:tester\"\ns3_secret_file = \"" + secret +
           "\"\ns3_part_size = 5\nupload_concurrency = 4\n" + extra;
  }
  // The server's repository as the driver sees it: paths under cellar/main/.
  std::unique_ptr<storage::Storage> storage() const {
    s3::Options o = shared_s3().options(bucket);
    o.prefix = "cellar/main";
    return s3::make_s3(o);
  }
  std::vector<std::string> keys_under(const std::string& dir) const {
    auto entries = storage()->list_tree(dir);
    REQUIRE(entries);
    std::vector<std::string> out;
    for (const auto& e : *entries)
      if (!e.is_dir) out.push_back(e.name);
    return out;
  }
};

std::string flip_last_bytes(storage::Storage& s, const std::string& path) {
  auto bytes = storage::read_file(s, path);
  REQUIRE(bytes);
  std::string b = *bytes;
  REQUIRE(b.size() > 4);
  b[b.size() - 2] = static_cast<char>(b[b.size() - 2] ^ 0x55);
  REQUIRE(storage::write_file(s, path, b));
  return b;
}

}  // namespace

TEST_CASE("a backup to S3 recovers to the same data and lists, verifies, rebuilds and deletes in the bucket",
          "[repo][s3][pg]") {
  S3Repo repo;
  RepoSite site("cellar_s3_full", repo.toml());
  std::string id = site.backup_done();
  std::string sums = site.load_and_sums();
  site.archive_current();
  // The layout of SPEC §3 under the prefix, and nothing of it on the local disk.
  auto files = repo.keys_under("base/" + id);
  CHECK(std::find(files.begin(), files.end(), "backup.info") != files.end());
  CHECK(std::find(files.begin(), files.end(), "backup_manifest") != files.end());
  CHECK(std::find(files.begin(), files.end(), "data/PG_VERSION.zst") != files.end());
  CHECK(storage::exists(*repo.storage(), "wals/xlog.db"));
  CHECK(storage::exists(*repo.storage(), "identity.json"));
  CHECK_FALSE(path_exists(site.env->server_dir("main") + "/base"));
  CHECK(site.run({"list-backups", "main"}).out.find(id) != std::string::npos);
  auto check = site.run({"check", "main"});
  CHECK(check.out.find("repository: OK") != std::string::npos);
  auto verify = site.run({"verify-backup", "main", id});
  INFO(verify.out << verify.err);
  CHECK(verify.exit_code == 0);
  site.recover_and_compare(id, sums);
  // xlog.db made again from the bucket's listing holds the same names.
  auto before = storage::read_file(*repo.storage(), "wals/xlog.db");
  REQUIRE(before);
  REQUIRE(repo.storage()->remove("wals/xlog.db"));
  auto rebuilt = site.run({"rebuild-xlogdb", "main"});
  INFO(rebuilt.out << rebuilt.err);
  REQUIRE(rebuilt.exit_code == 0);
  auto after = storage::read_file(*repo.storage(), "wals/xlog.db");
  REQUIRE(after);
  CHECK(std::count(after->begin(), after->end(), '\n') == std::count(before->begin(), before->end(), '\n'));
  // delete removes every object of the backup.
  auto del = site.run({"delete", "main", id});
  INFO(del.out << del.err);
  CHECK(del.exit_code == 0);
  CHECK(repo.keys_under("base/" + id).empty());
}

TEST_CASE("an incremental backup to S3 stores only what changed, verifies its chain and recovers to the same data",
          "[repo][s3][pg]") {
  S3Repo repo;
  RepoSite site("cellar_s3_incr", repo.toml());
  std::string full = site.backup_done();
  (void)site.load_and_sums();
  std::string incr = site.backup_done({"--incremental"});
  std::string sums = site.load_and_sums();
  site.archive_current();
  auto show = site.run({"show-backup", "main", incr});
  CHECK(show.out.find("  type: incremental\n") != std::string::npos);
  CHECK(show.out.find("  parent_backup_id: " + full + "\n") != std::string::npos);
  // Changed segments are INCREMENTAL objects; unchanged ones are manifest
  // entries with no object; whole files are objects as in a full backup.
  auto text = storage::read_file(*repo.storage(), "base/" + incr + "/backup_manifest");
  REQUIRE(text);
  auto manifest = catalog::parse_manifest(*text);
  REQUIRE(manifest);
  auto objects = repo.keys_under("base/" + incr);
  auto stored = [&](const std::string& path) {
    return std::find(objects.begin(), objects.end(), "data/" + path + ".zst") != objects.end();
  };
  size_t unchanged = 0, changed = 0;
  for (const auto& f : manifest->files) {
    INFO(f.path);
    CHECK(stored(f.path) == !f.unchanged_blocks);
    if (f.unchanged_blocks) ++unchanged;
    if (!f.unchanged_blocks && incr::whole_path_of(f.path)) ++changed;
  }
  CHECK(unchanged > 100);
  CHECK(changed > 0);
  auto verify = site.run({"verify-backup", "main", incr});
  INFO(verify.out << verify.err);
  CHECK(verify.exit_code == 0);
  CHECK(verify.out.find("the 1 backup(s) it builds on") != std::string::npos);
  site.recover_and_compare(incr, sums);
}

TEST_CASE("verify-backup and recover catch a flipped byte in an S3 object, plain or encrypted", "[repo][s3][pg]") {
  S3Repo repo;
  TempDir keys;
  bool encrypted = GENERATE(false, true);
  std::string extra;
  if (encrypted) {
    std::string key = keys / "key";
    write_text(key, "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100\n");
    ::chmod(key.c_str(), 0600);
    extra = "encryption = \"aes-256-gcm\"\nencryption_key_file = \"" + key + "\"\n";
  }
  RepoSite site(encrypted ? "cellar_s3_enc" : "cellar_s3_flip", repo.toml(extra));
  std::string id = site.backup_done();
  auto clean = site.run({"verify-backup", "main", id});
  INFO(clean.out << clean.err);
  REQUIRE(clean.exit_code == 0);
  const std::string victim = "base/" + id + "/data/PG_VERSION.zst";
  if (encrypted) {
    auto raw = storage::read_file(*repo.storage(), victim);
    REQUIRE(raw);
    CHECK(raw->rfind("CELLARE", 0) == 0);
  }
  flip_last_bytes(*repo.storage(), victim);
  auto bad = site.run({"verify-backup", "main", id});
  INFO(bad.out << bad.err);
  CHECK(bad.exit_code == 1);
  CHECK((bad.out + bad.err).find("PG_VERSION") != std::string::npos);
  Restored r;
  auto out = r.recover(*site.env, "main", id, {});
  INFO(out.out << out.err);
  CHECK(out.exit_code == 1);
  CHECK(out.err.find("PG_VERSION") != std::string::npos);
  CHECK_FALSE(path_exists(r.dest));  // DEST left as it was found: absent
}

TEST_CASE("retention on S3 removes the objects of obsolete backups and the WAL only they needed", "[repo][s3][pg]") {
  S3Repo repo;
  RepoSite site("cellar_s3_ret", repo.toml("retention_policy = \"REDUNDANCY 1\"\n"));
  std::string first = site.backup_done();
  site.load_and_sums();
  site.archive_current();
  std::string second = site.backup_done();
  REQUIRE_FALSE(repo.keys_under("base/" + first).empty());
  auto cron = site.run({"cron"});
  INFO(cron.out << cron.err);
  CHECK(repo.keys_under("base/" + first).empty());
  CHECK_FALSE(repo.keys_under("base/" + second).empty());
  auto list = site.run({"list-backups", "main"});
  CHECK(list.out.find(first) == std::string::npos);
  CHECK(list.out.find(second) != std::string::npos);
}

TEST_CASE("cron archives every segment into S3 while pgbench writes, with no gap", "[repo][s3][pg]") {
  S3Repo repo;
  RepoSite site("cellar_s3_cron", repo.toml());
  std::string id = site.backup_done();
  std::thread load([&] { site.load_and_sums(); });
  for (int i = 0; i < 5; ++i) {
    auto c = site.run({"cron"});
    INFO(c.out << c.err);
    CHECK(c.exit_code == 0);
  }
  load.join();
  site.archive_current();
  auto check = site.run({"check", "main"});
  INFO(check.out);
  CHECK(check.out.find("WAL archive continuity: OK") != std::string::npos);
  auto wals = repo.keys_under("wals");
  CHECK(wals.size() >= 3);  // xlog.db and segments
  CHECK(site.run({"verify-backup", "main", id}).exit_code == 0);
}

TEST_CASE("through a proxy that answers 503 SlowDown and resets bodies, backup and recover still end well",
          "[repo][s3][pg]") {
  S3Repo repo;
  std::string host_port = shared_s3().endpoint().substr(std::string("http://").size());
  FaultProxy proxy("127.0.0.1", std::stoi(host_port.substr(host_port.find(':') + 1)));
  repo.endpoint = proxy.endpoint();
  RepoSite site("cellar_s3_faults", repo.toml("s3_retries = 8\n"));
  proxy.fail_every(5, 503, "SlowDown");
  std::string id = site.backup_done();
  std::string sums = site.load_and_sums();
  site.archive_current();
  CHECK(proxy.counters().injected > 0);
  proxy.clear();
  proxy.reset_mid_body_every(7);
  int before = proxy.counters().injected;
  site.recover_and_compare(id, sums);
  CHECK(proxy.counters().injected > before);
  proxy.clear();
  CHECK(site.run({"verify-backup", "main", id}).exit_code == 0);
}

TEST_CASE("an S3 server that denies access fails the backup once, with bucket, status and code, and no secret",
          "[repo][s3][pg]") {
  S3Repo repo;
  std::string host_port = shared_s3().endpoint().substr(std::string("http://").size());
  FaultProxy proxy("127.0.0.1", std::stoi(host_port.substr(host_port.find(':') + 1)));
  repo.endpoint = proxy.endpoint();
  RepoSite site("cellar_s3_denied", repo.toml());
  proxy.fail_next(1000000, 403, "AccessDenied");
  auto r = site.run({"backup", "main", "--wait", "--wait-timeout", "30", "--no-progress", "--immediate-checkpoint"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("ERROR: ") != std::string::npos);
  CHECK(r.err.find(repo.bucket) != std::string::npos);
  CHECK(r.err.find("403") != std::string::npos);
  CHECK(r.err.find("AccessDenied") != std::string::npos);
  CHECK(r.err.find("testing") == std::string::npos);
  CHECK(r.err.find("Signature") == std::string::npos);
  auto check = site.run({"check", "main"});
  CHECK(check.out.find("repository: FAILED") != std::string::npos);
  proxy.clear();
  // Once access is back nothing claims to be DONE that is not.
  auto list = site.run({"list-backups", "main"});
  CHECK(list.out.find("DONE") == std::string::npos);
}

TEST_CASE("a passive node with primary_repository syncs from the primary's bucket, with no ssh, and recovers",
          "[repo][s3][pg][sync]") {
  S3Repo repo;
  RepoSite site("cellar_s3_passive", repo.toml());
  std::string id = site.backup_done();
  std::string sums = site.load_and_sums();
  site.archive_current();

  // The passive node: the same bucket as its primary_repository, its own
  // repository on its local disk, no primary_ssh_command.
  std::string keys = repo.toml();
  keys.replace(keys.find("repository = "), std::string("repository = ").size(), "primary_repository = ");
  CellarEnv passive;
  passive.add_server("main", "host=unused", keys);
  auto cron = passive.run({"cron"});
  INFO(cron.out << cron.err);
  REQUIRE(cron.exit_code == 0);
  CHECK(cron.out.find("backup " + id + " of server \"main\" synchronised") != std::string::npos);
  auto list = passive.run({"-f", "json", "list-backups", "main"});
  INFO(list.out << list.err);
  CHECK(list.out.find(id) != std::string::npos);
  CHECK(list.out.find("\"DONE\"") != std::string::npos);
  // A copy on the passive node's own disk, and the mount point stays a mount point.
  CHECK(path_exists(passive.server_dir("main") + "/base/" + id + "/backup_manifest"));
  CHECK(path_exists(passive.server_dir("main") + "/wals/xlog.db"));
  CHECK_FALSE(path_exists(passive.server_dir("main") + "/primary-repository"));
  CHECK(passive.run({"verify-backup", "main", id}).exit_code == 0);
  auto again = passive.run({"cron"});
  CHECK(again.out.find("0 WAL file(s) synchronised for server \"main\"") != std::string::npos);
  CHECK(passive.run({"check", "main"}).out.find("primary repository: OK") != std::string::npos);

  Restored restored;
  auto out = restored.recover(passive, "main", id, {});
  INFO(out.out << out.err);
  REQUIRE(out.exit_code == 0);
  restored.start();
  CHECK(restored.promoted_sums() == sums);

  {  // an object flipped in the primary's bucket fails the copy, never DONE
    CellarEnv second;
    second.add_server("main", "host=unused", keys);
    flip_last_bytes(*repo.storage(), "base/" + id + "/data/global/pg_control.zst");
    auto r = second.run({"sync-backup", "main", id});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("pg_control") != std::string::npos);
    auto info = read_text(second.server_dir("main") + "/base/" + id + "/backup.info");
    CHECK(info.find("status=FAILED") != std::string::npos);
  }
  {  // a primary_repository bucket that does not exist: one ERROR with bucket, status and code, no secret
    std::string wrong = keys;
    wrong.replace(wrong.find(repo.bucket), repo.bucket.size(), "no-such-bucket-" + repo.bucket.substr(0, 8));
    CellarEnv lost;
    lost.add_server("main", "host=unused", wrong);
    auto r = lost.run({"sync-wal", "main"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("ERROR: ") != std::string::npos);
    CHECK(r.err.find("no-such-bucket-") != std::string::npos);
    CHECK(r.err.find("404") != std::string::npos);
    CHECK(r.err.find("testing") == std::string::npos);
    auto check = lost.run({"check", "main"});
    CHECK(check.out.find("primary repository: FAILED") != std::string::npos);
    CHECK(check.out.find("testing") == std::string::npos);
  }
  {  // the right bucket, a mistyped prefix: an error, never "0 WAL file(s) synchronised"
    std::string wrong = keys;
    wrong.replace(wrong.find(repo.bucket + "/cellar"), repo.bucket.size() + 7, repo.bucket + "/cellra");
    CellarEnv typo;
    typo.add_server("main", "host=unused", wrong);
    auto r = typo.run({"sync-wal", "main"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("holds no repository of that server") != std::string::npos);
    CHECK(r.out.find("synchronised") == std::string::npos);
  }
}
