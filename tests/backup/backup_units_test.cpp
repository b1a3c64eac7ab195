// Backup building blocks without PostgreSQL: checksums, tar headers,
// manifest paths, backup names, and retention decisions (backup.info itself:
// tests/catalog/backup_info_test.cpp).
#include <catch2/catch.hpp>

#include "backup/file_pipeline.h"
#include "backup/run_backup.h"
#include "catalog/backup_info.h"
#include "catalog/catalogue.h"
#include "catalog/manifest.h"
#include "catalog/retention.h"
#include "common/codec.h"
#include "common/crc32c.h"
#include "common/crypto.h"
#include "common/fs.h"
#include "common/tar_reader.h"
#include "config/grammar.h"
#include "locks/lock_backend.h"
#include "support/cellar_env.h"
#include "support/run.h"

using namespace cellar;
using namespace cellar::catalog;
using namespace cellar::backup;

TEST_CASE("crc32c matches the Castagnoli check value and renders bytes in manifest order", "[backup]") {
  CHECK(crc32c("123456789") == 0xE3069283u);
  CHECK(crc32c("") == 0u);
  CHECK(crc32c_manifest_hex(0xE3069283u) == "839206e3");
  Crc32c c;
  std::string text(100000, 'x');
  for (size_t i = 0; i < text.size(); i += 7) c.update(std::string_view(text).substr(i, 7));
  CHECK(c.value() == crc32c(text));
}

namespace {
std::string tar_header(const std::string& name, char type, uint64_t size) {
  std::string h(512, '\0');
  h.replace(0, name.size(), name);
  std::snprintf(&h[100], 8, "%07o", 0600);
  std::snprintf(&h[124], 12, "%011llo", static_cast<unsigned long long>(size));
  std::snprintf(&h[136], 12, "%011o", 0);
  h[156] = type;
  h.replace(257, 6, std::string("ustar\0", 6));
  h.replace(148, 8, "        ");
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(&h[148], 8, "%06o", sum);
  return h;
}

struct Collect : TarHandler {
  std::vector<std::string> events;
  Status on_member(const TarMember& m) override {
    events.push_back("member " + m.name + " " + std::to_string(static_cast<int>(m.type)));
    return Status::ok();
  }
  Status on_member_data(std::string_view b) override {
    events.push_back("data " + std::string(b));
    return Status::ok();
  }
  Status on_member_end() override {
    events.push_back("end");
    return Status::ok();
  }
};
}  // namespace

TEST_CASE("the tar reader yields members whatever the chunking", "[backup]") {
  std::string archive = tar_header("base/", '5', 0) + tar_header("base/1", '0', 5) + "hello" + std::string(507, '\0') +
                        std::string(1024, '\0');
  for (size_t chunk : {size_t(1), size_t(7), size_t(512), archive.size()}) {
    Collect c;
    TarReader r(c);
    for (size_t i = 0; i < archive.size(); i += chunk) REQUIRE(r.feed(std::string_view(archive).substr(i, chunk)));
    REQUIRE(r.finish());
    // Data may arrive in pieces: merge them.
    std::vector<std::string> merged;
    for (const auto& e : c.events) {
      if (e.rfind("data ", 0) == 0 && !merged.empty() && merged.back().rfind("data ", 0) == 0)
        merged.back() += e.substr(5);
      else
        merged.push_back(e);
    }
    CHECK(merged == std::vector<std::string>{"member base 1", "end", "member base/1 0", "data hello", "end"});
  }
  Collect c;
  TarReader r(c);
  std::string bad = tar_header("x", '0', 1);
  bad[0] = 'y';  // checksum no longer matches
  CHECK_FALSE(r.feed(bad));
}

TEST_CASE("manifest paths map to data/ and to one tree per tablespace", "[backup]") {
  CHECK(stored_path_of("/b", "base/1/1259", codec::Codec::zstd) == "/b/data/base/1/1259.zst");
  CHECK(stored_path_of("/b", "pg_tblspc/16384/PG_15_1/5/6", codec::Codec::none) == "/b/16384/PG_15_1/5/6");
  CHECK(stored_path_of("/b", "global/pg_control", codec::Codec::lz4) == "/b/data/global/pg_control.lz4");
}

TEST_CASE("backup names may not look like ids or reserved words", "[backup]") {
  CHECK(validate_backup_name("nightly one"));
  for (const char* bad : {"", "20240101T000000", "latest", "last", "oldest", "first", "last-failed"})
    CHECK(validate_backup_name(bad).code() == ErrorCode::usage);
}

TEST_CASE("retention decisions", "[backup]") {
  const std::time_t day = 86400, now = 100 * day;
  // Oldest first: ids sort by time.
  std::vector<RetentionInput> backups = {
      {"20260101T000001", BackupStatus::done, now - 40 * day, ""},
      {"20260101T000002", BackupStatus::done, now - 30 * day, "standalone"},
      {"20260101T000003", BackupStatus::failed, now - 20 * day, ""},
      {"20260101T000004", BackupStatus::done, now - 10 * day, ""},
      {"20260101T000005", BackupStatus::done, now - 5 * day, ""},
      {"20260101T000006", BackupStatus::waiting_for_wals, now - 1 * day, ""},
  };
  struct Case {
    std::string policy;
    int minimum;
    std::vector<std::string> expected;  // in backups' order
  };
  std::vector<Case> cases = {
      {"", 0, {"-", "KEEP:STANDALONE", "-", "-", "-", "-"}},
      {"REDUNDANCY 2", 0, {"OBSOLETE", "KEEP:STANDALONE", "-", "VALID", "VALID", "-"}},
      {"REDUNDANCY 3", 0, {"OBSOLETE", "KEEP:STANDALONE", "-", "VALID", "VALID", "-"}},
      {"REDUNDANCY 1", 4, {"VALID", "KEEP:STANDALONE", "-", "VALID", "VALID", "-"}},
      {"RECOVERY WINDOW OF 7 DAYS", 0, {"OBSOLETE", "KEEP:STANDALONE", "-", "VALID", "VALID", "-"}},
      {"RECOVERY WINDOW OF 2 DAYS", 0, {"OBSOLETE", "KEEP:STANDALONE", "-", "OBSOLETE", "VALID", "-"}},
      // Kept backups count toward minimum_redundancy (as Barman's).
      {"RECOVERY WINDOW OF 2 DAYS", 3, {"OBSOLETE", "KEEP:STANDALONE", "-", "OBSOLETE*", "VALID", "-"}},
      {"RECOVERY WINDOW OF 2 DAYS", 4, {"OBSOLETE*", "KEEP:STANDALONE", "-", "OBSOLETE*", "VALID", "-"}},
      {"RECOVERY WINDOW OF 50 DAYS", 0, {"VALID", "KEEP:STANDALONE", "-", "VALID", "VALID", "-"}},
  };
  for (const auto& c : cases) {
    INFO(c.policy << " minimum_redundancy " << c.minimum);
    std::optional<RetentionPolicy> policy;
    if (!c.policy.empty()) {
      auto p = parse_retention_policy(c.policy);
      REQUIRE(p);
      policy = *p;
    }
    auto report = retention_report(policy, c.minimum, now, backups);
    for (size_t i = 0; i < backups.size(); ++i) {
      INFO(backups[i].id);
      CHECK(report[backups[i].id] == c.expected[i]);
    }
  }
}

TEST_CASE("retention removes an incremental chain only as a whole", "[backup]") {
  const std::time_t day = 86400, now = 100 * day;
  // f1 <- i1 <- i2, then f2 <- i3 (FAILED) and f2 <- i4 (newest).
  std::vector<RetentionInput> backups = {
      {"20260101T000001", BackupStatus::done, now - 40 * day, "", ""},
      {"20260101T000002", BackupStatus::done, now - 30 * day, "", "20260101T000001"},
      {"20260101T000003", BackupStatus::done, now - 20 * day, "", "20260101T000002"},
      {"20260101T000004", BackupStatus::done, now - 10 * day, "", ""},
      {"20260101T000005", BackupStatus::failed, now - 5 * day, "", "20260101T000004"},
      {"20260101T000006", BackupStatus::done, now - 1 * day, "", "20260101T000004"},
  };
  auto statuses = [&](const std::string& text) {
    auto policy = parse_retention_policy(text);
    REQUIRE(policy);
    auto report = retention_report(*policy, 0, now, backups);
    std::vector<std::string> out;
    for (const auto& b : backups) out.push_back(report[b.id]);
    return out;
  };
  // The newest backup (i4) needs f2; i3 FAILED protects nothing.
  CHECK(statuses("REDUNDANCY 1") ==
        std::vector<std::string>{"OBSOLETE", "OBSOLETE", "OBSOLETE", "VALID", "-", "VALID"});
  // i2 is kept, so i1 and f1 under it are too.
  CHECK(statuses("REDUNDANCY 3") == std::vector<std::string>{"VALID", "VALID", "VALID", "VALID", "-", "VALID"});
  CHECK(statuses("RECOVERY WINDOW OF 15 DAYS") ==
        std::vector<std::string>{"VALID", "VALID", "VALID", "VALID", "-", "VALID"});
  backups[2].keep = "full";  // a kept incremental keeps its chain whatever the policy
  CHECK(statuses("REDUNDANCY 1") == std::vector<std::string>{"VALID", "VALID", "KEEP:FULL", "VALID", "-", "VALID"});
}

TEST_CASE("the file pipeline compresses in parallel, checksums and bounds its queues", "[backup]") {
  test::TempDir dir;
  PipelineOptions po;
  po.jobs = 3;
  po.codec = codec::Codec::zstd;
  po.chunk_size = 1000;
  FilePipeline p(po);
  std::vector<std::string> contents;
  for (int i = 0; i < 20; ++i) {
    std::string content(static_cast<size_t>(i) * 777, static_cast<char>('a' + i % 26));
    contents.push_back(content);
    REQUIRE(p.begin_file("f" + std::to_string(i), dir / ("f" + std::to_string(i))));
    for (size_t off = 0; off < content.size(); off += 300) REQUIRE(p.write(std::string_view(content).substr(off, 300)));
    REQUIRE(p.end_file());
  }
  auto out = p.finish();
  REQUIRE(out);
  REQUIRE(out->size() == 20);
  for (const auto& f : *out) {
    size_t i = std::stoul(f.manifest_path.substr(1));
    CHECK(f.size == contents[i].size());
    CHECK(f.crc == crc32c(contents[i]));
    auto stored = read_file(f.stored_path);
    REQUIRE(stored);
    CHECK(f.stored_path == dir / (f.manifest_path + ".zst"));
    CHECK(*codec::decompress_buffer(*stored, codec::Codec::zstd) == contents[i]);
  }
}

TEST_CASE("backup commands reject bad usage with exit 2 before touching PostgreSQL", "[backup]") {
  test::CellarEnv env;
  env.add_server("main", "host=/nonexistent-socket-dir port=1");
  for (const char* cmd : {"backup", "list-backups", "show-backup", "verify-backup", "delete", "keep"}) {
    auto help = env.run({cmd, "--help"});
    INFO(cmd << ": " << help.err);
    CHECK(help.exit_code == 0);
    CHECK(env.run({cmd, "--no-such-option"}).exit_code == 2);
  }
  CHECK(env.run({"backup", "main", "--compression", "brotli"}).exit_code == 2);
  CHECK(env.run({"backup", "main", "--name", "latest"}).exit_code == 2);
  CHECK(env.run({"backup", "main", "--jobs", "0"}).exit_code == 2);
  CHECK(env.run({"backup", "nosuch"}).exit_code == 2);
  auto list = env.run({"list-backups", "main"});
  CHECK(list.exit_code == 0);
  CHECK(list.out.empty());
  CHECK(env.run({"-f", "json", "list-backups", "all"}).out == "[]\n");
  auto show = env.run({"show-backup", "main", "latest"});
  CHECK(show.exit_code == 2);
  CHECK(show.err.find("unknown backup 'latest' for server 'main'") != std::string::npos);
  CHECK(env.run({"keep", "main", "latest"}).exit_code == 2);
  auto unreachable = env.run({"backup", "main", "--no-progress"});
  CHECK(unreachable.exit_code == 1);
  CHECK(unreachable.err.find("could not connect") != std::string::npos);
}

namespace {
// A server dir holding one WAITING_FOR_WALS backup needing segments 2..4.
std::string waiting_backup(const test::TempDir& dir) {
  std::string backup_dir = dir / "main/base/20260101T000000";
  REQUIRE(make_dirs(backup_dir));
  BackupInfo info;
  info.backup_id = "20260101T000000";
  info.status = BackupStatus::waiting_for_wals;
  info.begin_wal = "000000010000000000000002";
  info.end_wal = "000000010000000000000004";
  info.xlog_segment_size = 16 * 1024 * 1024;
  REQUIRE(save_backup_info(backup_dir, info));
  return backup_dir;
}
void archive(const test::TempDir& dir, const std::string& segment) {
  REQUIRE(make_dirs(dir / "main/wals/0000000100000000"));
  test::write_text(dir / ("main/wals/0000000100000000/" + segment + ".zst"), "x");
}
}  // namespace

TEST_CASE("check_backup_wals: DONE once begin..end are archived, FAILED when one is missing for good", "[backup]") {
  test::TempDir dir;
  std::string backup_dir = waiting_backup(dir);
  auto lock = locks::BackupIdLock::acquire(locks::file_lock_manager(dir.path()), "main", "20260101T000000");
  REQUIRE(lock);
  archive(dir, "000000010000000000000002");
  CHECK(*check_backup_wals(*lock, dir / "main", backup_dir) == BackupStatus::waiting_for_wals);
  archive(dir, "000000010000000000000003");
  archive(dir, "000000010000000000000004");
  CHECK(*check_backup_wals(*lock, dir / "main", backup_dir) == BackupStatus::done);
  CHECK(load_backup_info(backup_dir)->status == BackupStatus::done);

  test::TempDir gap;
  std::string gap_dir = waiting_backup(gap);
  auto gap_lock = locks::BackupIdLock::acquire(locks::file_lock_manager(gap.path()), "main", "20260101T000000");
  REQUIRE(gap_lock);
  archive(gap, "000000010000000000000002");
  archive(gap, "000000010000000000000004");
  CHECK(*check_backup_wals(*gap_lock, gap / "main", gap_dir) == BackupStatus::failed);
  CHECK(load_backup_info(gap_dir)->error.find("000000010000000000000003") != std::string::npos);
}
