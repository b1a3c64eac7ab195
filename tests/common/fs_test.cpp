// File-system mechanism (common/fs.h): directory creation and listing, and
// the durable whole-file write of the posix storage on absolute paths.
#include "common/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "common/storage.h"
#include "support/run.h"

using namespace cellar;
using Catch::Matchers::Contains;
using cellar::test::TempDir;

namespace {

unsigned mode_of(const std::string& path) {
  struct stat sb {};
  REQUIRE(::stat(path.c_str(), &sb) == 0);
  return sb.st_mode & 07777;
}

std::vector<std::string> names_in(const std::string& dir) {
  auto names = list_dir(dir);
  REQUIRE(names.is_ok());
  return *names;
}

// Sets the umask for one scope.
class UmaskGuard {
 public:
  explicit UmaskGuard(mode_t mask) : saved_(::umask(mask)) {}
  ~UmaskGuard() { ::umask(saved_); }

 private:
  mode_t saved_;
};

}  // namespace

TEST_CASE("a whole-file storage write writes the content with the given mode", "[common]") {
  TempDir dir;
  const std::string path = dir / "backup.info";
  REQUIRE(storage::write_file(storage::root(), path, "status=DONE\n"));
  CHECK(test::read_text(path) == "status=DONE\n");
  CHECK(mode_of(path) == 0600);

  const std::string binary("a\0b\xff", 4);
  REQUIRE(storage::write_file(storage::root(), dir / "bin", binary, storage::WriteOptions{0640}));
  CHECK(test::read_text(dir / "bin") == binary);
  CHECK(mode_of(dir / "bin") == 0640);

  REQUIRE(storage::write_file(storage::root(), dir / "empty", ""));
  CHECK(test::read_text(dir / "empty").empty());
  CHECK(names_in(dir.path()) == std::vector<std::string>{"backup.info", "bin", "empty"});
}

TEST_CASE("a whole-file storage write sets the mode whatever the umask", "[common]") {
  TempDir dir;
  UmaskGuard mask(077);
  REQUIRE(storage::write_file(storage::root(), dir / "shared", "x", storage::WriteOptions{0644}));
  CHECK(mode_of(dir / "shared") == 0644);
}

TEST_CASE("a whole-file storage write replaces an existing file whole", "[common]") {
  TempDir dir;
  const std::string path = dir / "xlog.db";
  REQUIRE(storage::write_file(storage::root(), path, std::string(10000, 'a')));
  REQUIRE(storage::write_file(storage::root(), path, "short"));
  CHECK(test::read_text(path) == "short");
  CHECK(names_in(dir.path()) == std::vector<std::string>{"xlog.db"});
}

TEST_CASE("a whole-file storage write into a missing directory fails and leaves nothing", "[common]") {
  TempDir dir;
  const std::string path = dir / "missing/file";
  Status st = storage::write_file(storage::root(), path, "data");
  REQUIRE_FALSE(st.is_ok());
  CHECK(st.code() == ErrorCode::failed);
  CHECK_THAT(st.message(), Contains(dir / "missing/file") && Contains("No such file or directory"));
  CHECK(names_in(dir.path()).empty());
}

TEST_CASE("a whole-file storage write onto a directory fails and removes its temp file", "[common]") {
  TempDir dir;
  REQUIRE(make_dirs(dir / "target"));
  REQUIRE(storage::write_file(storage::root(), dir / "target/inside", "keep"));
  Status st = storage::write_file(storage::root(), dir / "target", "data");
  REQUIRE_FALSE(st.is_ok());
  CHECK_THAT(st.message(), Contains("could not rename"));
  // Only the directory is left: no temp file beside it, and its content is intact.
  CHECK(names_in(dir.path()) == std::vector<std::string>{"target"});
  CHECK(test::read_text(dir / "target/inside") == "keep");
}

TEST_CASE("make_dirs creates every missing level with the mode", "[common]") {
  TempDir dir;
  UmaskGuard mask(022);
  const std::string deep = dir / "a/b/c";
  REQUIRE(make_dirs(deep));
  CHECK(mode_of(dir / "a") == 0700);
  CHECK(mode_of(dir / "a/b") == 0700);
  CHECK(mode_of(deep) == 0700);
  REQUIRE(make_dirs(dir / "x/y", 0750));
  CHECK(mode_of(dir / "x/y") == 0750);
  // Existing directories are fine and keep their mode.
  REQUIRE(make_dirs(deep, 0755));
  CHECK(mode_of(deep) == 0700);
  REQUIRE(make_dirs(dir / "a/b/c/"));
}

TEST_CASE("make_dirs refuses a path that is a file", "[common]") {
  TempDir dir;
  test::write_text(dir / "file", "x");
  Status st = make_dirs(dir / "file");
  REQUIRE_FALSE(st.is_ok());
  CHECK_THAT(st.message(), Contains("is not a directory"));
  CHECK_FALSE(make_dirs(dir / "file/sub").is_ok());
}

TEST_CASE("list_dir returns the names sorted, without . and ..", "[common]") {
  TempDir dir;
  for (const char* n : {"b", "a", "C", ".hidden", "a.toml", "10", "9"}) test::write_text(dir / n, "");
  REQUIRE(make_dirs(dir / "sub"));
  CHECK(names_in(dir.path()) == std::vector<std::string>{".hidden", "10", "9", "C", "a", "a.toml", "b", "sub"});
  auto missing = list_dir(dir / "nope");
  REQUIRE_FALSE(missing.is_ok());
  CHECK_THAT(missing.status().message(), Contains(dir / "nope"));
}

TEST_CASE("read_file returns the whole content or names the path", "[common]") {
  TempDir dir;
  const std::string big(200000, 'z');
  REQUIRE(storage::write_file(storage::root(), dir / "big", big));
  auto r = read_file(dir / "big");
  REQUIRE(r.is_ok());
  CHECK(*r == big);
  auto missing = read_file(dir / "nope");
  REQUIRE_FALSE(missing.is_ok());
  CHECK_THAT(missing.status().message(), Contains("could not open \"" + dir / "nope" + "\""));
}

TEST_CASE("path helpers split and join paths", "[common]") {
  CHECK(dirname_of("/a/b/c") == "/a/b");
  CHECK(dirname_of("/a") == "/");
  CHECK(dirname_of("file") == ".");
  CHECK(join_path("/a", "b") == "/a/b");
  CHECK(join_path("/a/", "b") == "/a/b");
  CHECK(join_path("", "b") == "b");
  TempDir dir;
  CHECK(path_exists(dir.path()));
  CHECK_FALSE(path_exists(dir / "nope"));
  REQUIRE(::symlink("nowhere", (dir / "dangling").c_str()) == 0);
  CHECK(path_exists(dir / "dangling"));  // lstat: a dangling link exists
}

TEST_CASE("UniqueFd closes its descriptor and moves ownership", "[common]") {
  int raw = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  REQUIRE(raw >= 0);
  {
    UniqueFd a(raw);
    UniqueFd b(std::move(a));
    CHECK_FALSE(a.valid());
    CHECK(b.get() == raw);
  }
  CHECK(::fcntl(raw, F_GETFD) == -1);
}
