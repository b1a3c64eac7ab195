// Runs the real `cellar` binary for end-to-end tests and captures its output.
#pragma once

#include <string>
#include <vector>

namespace cellar::test {

struct RunResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs CELLAR_BINARY with `args`; `env_extra` adds "K=V" entries. stdin is /dev/null.
RunResult run_cellar(const std::vector<std::string>& args, const std::vector<std::string>& env_extra = {});

// Runs any program (argv[0] is a path or a name found on PATH).
RunResult run_program(const std::vector<std::string>& argv, const std::vector<std::string>& env_extra = {});

// A fresh directory under $TMPDIR, removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void write_text(const std::string& path, const std::string& text);
std::string read_text(const std::string& path);

}  // namespace cellar::test
