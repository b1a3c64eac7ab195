// The S3 driver against a real Swift S3 server (support/s3_server.h), one
// fresh bucket per test.
#include "s3/s3_storage.h"

#include <catch2/catch.hpp>
#include <ctime>

#include "s3/bucket.h"
#include "s3/client.h"
#include "support/s3_server.h"

using namespace cellar;
using namespace cellar::test;

namespace {

// Bytes whose position shows in their value, so a dropped or repeated
// block fails the comparison.
std::string pattern(size_t n, unsigned seed = 1) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<char>((i * 31 + seed + i / 4099) % 251);
  return out;
}

// The ETag S3 gives the object: "<md5>-<parts>" after a multipart upload.
std::string etag_of(const s3::Options& o, const std::string& path) {
  s3::Client client(o);
  auto r = client.call(s3::Call("HEAD", client.key_of(path), "could not stat"));
  REQUIRE(r.is_ok());
  return r->header("etag");
}

Status write_in_pieces(storage::Storage& s, const std::string& path, const std::string& data, size_t piece) {
  auto w = s.open_write(path);
  if (!w) return w.status();
  for (size_t i = 0; i < data.size(); i += piece)
    if (Status st = (*w)->write(std::string_view(data).substr(i, piece)); !st) return st;
  return (*w)->commit();
}

}  // namespace

TEST_CASE("a small object is one PUT that reads back whole with its size and time", "[s3]") {
  auto s = s3::make_s3(test_s3_options());
  REQUIRE(storage::write_file(*s, "base/x/backup.info", "status=DONE\n").is_ok());
  auto back = storage::read_file(*s, "base/x/backup.info");
  REQUIRE(back.is_ok());
  CHECK(*back == "status=DONE\n");
  auto e = s->info("base/x/backup.info");
  REQUIRE(e.is_ok());
  REQUIRE(e->has_value());
  CHECK((*e)->name == "backup.info");
  CHECK((*e)->size == 12);
  CHECK_FALSE((*e)->is_dir);
  CHECK(std::abs((*e)->mtime - std::time(nullptr)) < 120);
  REQUIRE(storage::write_file(*s, "empty", "").is_ok());
  CHECK(storage::read_file(*s, "empty").value() == "");
}

TEST_CASE("nothing is visible under the key before commit, and a commit replaces the object", "[s3]") {
  auto s = s3::make_s3(test_s3_options());
  auto w = s->open_write("f");
  REQUIRE(w.is_ok());
  REQUIRE((*w)->write("new").is_ok());
  CHECK_FALSE(storage::exists(*s, "f"));
  CHECK(s->list("").value().empty());
  REQUIRE((*w)->commit().is_ok());
  CHECK((*w)->written() == 3);
  CHECK_FALSE((*w)->write("more").is_ok());
  REQUIRE(storage::write_file(*s, "f", "newer").is_ok());
  CHECK(storage::read_file(*s, "f").value() == "newer");
}

TEST_CASE("an object of several parts round-trips through a concurrent multipart upload", "[s3]") {
  s3::Options o = test_s3_options();
  o.upload_concurrency = 3;
  o.read_chunk = 3 << 20;
  auto s = s3::make_s3(o);
  const std::string data = pattern((23 << 20) + 12345);
  REQUIRE(write_in_pieces(*s, "big", data, (1 << 20) + 7).is_ok());
  CHECK(etag_of(o, "big").find("-5") != std::string::npos);
  auto back = storage::read_file(*s, "big");
  REQUIRE(back.is_ok());
  CHECK(back->size() == data.size());
  CHECK(*back == data);
  CHECK(s->info("big").value()->size == data.size());
  CHECK(s3::pending_uploads(o).value().empty());
}

TEST_CASE("an object of exactly part_size bytes stays a single PUT", "[s3]") {
  s3::Options o = test_s3_options();
  auto s = s3::make_s3(o);
  const std::string data = pattern(o.part_size, 7);
  REQUIRE(write_in_pieces(*s, "exact", data, 1 << 20).is_ok());
  CHECK(etag_of(o, "exact").find('-') == std::string::npos);
  CHECK(storage::read_file(*s, "exact").value() == data);
}

TEST_CASE("ranged reads give exactly the bytes asked for, across chunk edges and past the end", "[s3]") {
  s3::Options o = test_s3_options();
  o.read_chunk = 64 << 10;
  o.read_ahead = 3;
  auto s = s3::make_s3(o);
  const std::string data = pattern((1 << 20) + 333, 3);
  REQUIRE(storage::write_file(*s, "r", data).is_ok());
  CHECK(storage::read_file(*s, "r", 0, 10).value() == data.substr(0, 10));
  CHECK(storage::read_file(*s, "r", (64 << 10) - 6, 20).value() == data.substr((64 << 10) - 6, 20));
  CHECK(storage::read_file(*s, "r", 100, 300000).value() == data.substr(100, 300000));
  CHECK(storage::read_file(*s, "r", data.size() - 5).value() == data.substr(data.size() - 5));
  CHECK(storage::read_file(*s, "r", data.size()).value() == "");
  CHECK(storage::read_file(*s, "r", data.size() + 10, 5).value() == "");
  CHECK(storage::read_file(*s, "r", 7, 0).value() == "");
}

TEST_CASE("an abandoned or destroyed writer leaves no object and no pending multipart upload", "[s3]") {
  s3::Options o = test_s3_options();
  auto s = s3::make_s3(o);
  const std::string data = pattern(12 << 20);
  {
    auto w = s->open_write("gone");
    REQUIRE(w.is_ok());
    REQUIRE((*w)->write(data).is_ok());
    CHECK(s3::pending_uploads(o).value().size() == 1);  // the check below can see one
    (*w)->abandon();
    (*w)->abandon();
  }
  {
    auto w = s->open_write("dropped");
    REQUIRE(w.is_ok());
    REQUIRE((*w)->write(data).is_ok());
  }
  CHECK_FALSE(storage::exists(*s, "gone"));
  CHECK_FALSE(storage::exists(*s, "dropped"));
  CHECK(s->list("").value().empty());
  CHECK(s3::pending_uploads(o).value().empty());
}

TEST_CASE("list gives files with sizes and directories, sorted, across pages", "[s3]") {
  s3::Options o = test_s3_options();
  o.list_page = 4;
  auto s = s3::make_s3(o);
  for (int i = 0; i < 9; ++i) REQUIRE(storage::write_file(*s, "d/f" + std::to_string(i), std::string(i, 'x')).is_ok());
  for (const char* p : {"d/sub/a", "d/sub/b", "d/sub/deeper/c", "d/other/z", "d2/not-in-d"})
    REQUIRE(storage::write_file(*s, p, "1").is_ok());
  auto entries = s->list("d");
  REQUIRE(entries.is_ok());
  std::vector<std::string> names;
  for (const auto& e : *entries) names.push_back(e.name + (e.is_dir ? "/" : ""));
  CHECK(names == std::vector<std::string>{"f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "other/", "sub/"});
  CHECK((*entries)[5].size == 5);
  CHECK(std::abs((*entries)[5].mtime - std::time(nullptr)) < 120);
  CHECK(s->list("missing").value().empty());
  CHECK(s->list("").value().size() == 2);  // d/ and d2/

  auto tree = s->list_tree("d/sub");
  REQUIRE(tree.is_ok());
  std::vector<std::string> tree_names;
  for (const auto& e : *tree) tree_names.push_back(e.name + (e.is_dir ? "/" : ""));
  CHECK(tree_names == std::vector<std::string>{"a", "b", "deeper/", "deeper/c"});
}

TEST_CASE("info tells a file, a directory and a missing path apart", "[s3]") {
  auto s = s3::make_s3(test_s3_options());
  REQUIRE(storage::write_file(*s, "wals/0001/seg", "abc").is_ok());
  auto file = s->info("wals/0001/seg").value();
  REQUIRE(file.has_value());
  CHECK_FALSE(file->is_dir);
  CHECK(file->size == 3);
  auto dir = s->info("wals/0001").value();
  REQUIRE(dir.has_value());
  CHECK(dir->is_dir);
  CHECK(dir->name == "0001");
  CHECK(s->info("wals").value()->is_dir);
  CHECK_FALSE(s->info("wals/00").value().has_value());
  CHECK_FALSE(s->info("nothing").value().has_value());
}

TEST_CASE("remove deletes one object, remove_tree everything under a directory and nothing beside it", "[s3]") {
  auto s = s3::make_s3(test_s3_options());
  for (int i = 0; i < 25; ++i) REQUIRE(storage::write_file(*s, "base/b1/f" + std::to_string(i), "x").is_ok());
  REQUIRE(storage::write_file(*s, "base/b1/deep/er/f", "x").is_ok());
  REQUIRE(storage::write_file(*s, "base/b10/keep", "x").is_ok());
  REQUIRE(storage::write_file(*s, "base/b1.info", "x").is_ok());
  REQUIRE(s->remove("base/b1/f0").is_ok());
  REQUIRE(s->remove("base/b1/f0").is_ok());
  CHECK_FALSE(storage::exists(*s, "base/b1/f0"));
  CHECK(storage::exists(*s, "base/b1/f1"));
  REQUIRE(s->remove_tree("base/b1").is_ok());
  CHECK_FALSE(storage::exists(*s, "base/b1"));
  CHECK(storage::exists(*s, "base/b10/keep"));
  CHECK(storage::exists(*s, "base/b1.info"));
  REQUIRE(s->remove_tree("base/never").is_ok());
}

TEST_CASE("append creates the object, then rewrites it with the data added", "[s3]") {
  auto s = s3::make_s3(test_s3_options());
  REQUIRE(s->append("xlog.db", "line 1\n").is_ok());
  REQUIRE(s->append("xlog.db", "line 2\n").is_ok());
  CHECK(storage::read_file(*s, "xlog.db").value() == "line 1\nline 2\n");
}

TEST_CASE("deferred commits are all visible once sync_dir returns", "[s3]") {
  s3::Options o = test_s3_options();
  o.upload_concurrency = 6;
  auto s = s3::make_s3(o);
  storage::WriteOptions deferred;
  deferred.sync_dir = false;
  for (int i = 0; i < 30; ++i)
    REQUIRE(storage::write_file(*s, "many/f" + std::to_string(i), pattern(1000 + i), deferred).is_ok());
  REQUIRE(storage::write_file(*s, "many/big", pattern(11 << 20), deferred).is_ok());
  REQUIRE(s->sync_dir("many").is_ok());
  CHECK(s->list("many").value().size() == 31);
  CHECK(storage::read_file(*s, "many/f29").value() == pattern(1029));
  CHECK(storage::read_file(*s, "many/big").value() == pattern(11 << 20));
}

TEST_CASE("sync_dir fails with the error of a deferred commit, once", "[s3]") {
  s3::Options o = test_s3_options();
  o.bucket = "cellar-no-such-bucket";
  auto s = s3::make_s3(o);
  storage::WriteOptions deferred;
  deferred.sync_dir = false;
  REQUIRE(storage::write_file(*s, "base/x/data", "abc", deferred).is_ok());
  Status st = s->sync_dir("base/x");
  REQUIRE_FALSE(st.is_ok());
  CHECK(st.code() == ErrorCode::failed);
  CHECK(st.message() ==
        "could not upload \"s3://cellar-no-such-bucket/repo/base/x/data\": HTTP 404 NoSuchBucket: "
        "The specified bucket does not exist. (PUT)");
  CHECK(s->sync_dir("base/x").is_ok());
}

TEST_CASE("a wrong secret gives one error naming bucket, key, status and code, never the secret", "[s3]") {
  s3::Options o = test_s3_options();
  o.credentials.secret = "not-the-secret-7f3a";
  auto s = s3::make_s3(o);
  Status st = storage::write_file(*s, "main/base/x/backup.info", "x");
  REQUIRE_FALSE(st.is_ok());
  const std::string m = st.to_string();
  INFO(m);
  CHECK(m.rfind("ERROR: could not upload \"s3://" + o.bucket + "/repo/main/base/x/backup.info\": HTTP 403 ", 0) == 0);
  CHECK(m.find("SignatureDoesNotMatch") != std::string::npos);
  CHECK(m.find("(PUT)") != std::string::npos);
  CHECK(m.find('\n') == std::string::npos);
  CHECK(m.find("not-the-secret") == std::string::npos);
  CHECK(m.find("Signature=") == std::string::npos);
}

TEST_CASE("reading a missing object fails naming s3://bucket/key and NoSuchKey", "[s3]") {
  s3::Options o = test_s3_options();
  auto s = s3::make_s3(o);
  auto r = s->open_read("wals/nope");
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().code() == ErrorCode::failed);
  CHECK(r.status().message().rfind("could not read \"s3://" + o.bucket + "/repo/wals/nope\": HTTP 404 NoSuchKey", 0) ==
        0);
}

TEST_CASE("probe passes on a writable bucket, leaving nothing, and names a missing bucket", "[s3]") {
  s3::Options o = test_s3_options();
  auto s = s3::make_s3(o);
  REQUIRE(s3::probe(*s).is_ok());
  CHECK(s->list("").value().empty());
  o.bucket = "cellar-missing-bucket";
  auto missing = s3::make_s3(o);
  Status st = s3::probe(*missing);
  REQUIRE_FALSE(st.is_ok());
  CHECK(st.message().rfind("could not upload \"s3://cellar-missing-bucket/repo/.cellar-probe-", 0) == 0);
  CHECK(st.message().find("HTTP 404 NoSuchBucket") != std::string::npos);
  CHECK_FALSE(st.hint().empty());
}

TEST_CASE("the storage names objects as s3 URLs and has no local paths and no links", "[s3]") {
  s3::Options o = test_s3_options();
  auto s = s3::make_s3(o);
  CHECK(s->describe("base/x") == "s3://" + o.bucket + "/repo/base/x");
  CHECK_FALSE(s->local_path("base/x").has_value());
  REQUIRE(storage::write_file(*s, "a", "1").is_ok());
  CHECK_FALSE(s->link("a", "b").is_ok());
  CHECK(s->make_dir("any/dir").is_ok());
  CHECK_FALSE(s->open_write("../escape").is_ok());
}

TEST_CASE("virtual-hosted URLs reach the bucket as a host name", "[s3]") {
  s3::Options o = test_s3_options();
  o.endpoint = "http://localhost:" + std::to_string(shared_s3().port());
  o.path_style = false;
  auto s = s3::make_s3(o);
  REQUIRE(storage::write_file(*s, "v/f", "hosted").is_ok());
  CHECK(storage::read_file(*s, "v/f").value() == "hosted");
  CHECK(s->list("v").value().size() == 1);
  o.path_style = true;  // the same object by the other spelling
  CHECK(storage::read_file(*s3::make_s3(o), "v/f").value() == "hosted");
}
