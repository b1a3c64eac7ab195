// Multi-process tests re-exec this test binary in a helper mode
// (`cellar_tests --helper NAME ARGS...`) and talk to it through pipes: the
// helper reports on its stdout ("ready\n", a PID, ...) and waits on its stdin,
// so tests never sleep to synchronise.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace cellar::test {

using HelperFn = std::function<int(const std::vector<std::string>& args)>;

// Registers a helper at static-initialisation time.
struct HelperRegistration {
  HelperRegistration(const std::string& name, HelperFn fn);
};
#define CELLAR_TEST_HELPER_CAT2(a, b) a##b
#define CELLAR_TEST_HELPER_CAT(a, b) CELLAR_TEST_HELPER_CAT2(a, b)
#define CELLAR_TEST_HELPER(name, fn) \
  static ::cellar::test::HelperRegistration CELLAR_TEST_HELPER_CAT(helper_reg_, __LINE__)(name, fn)

// Called from main(): if argv asks for a helper, runs it and returns true.
bool run_helper_mode(int argc, char** argv, int& exit_code);

// A running child with its stdin (write) and stdout (read) pipes.
class Child {
 public:
  Child() = default;
  Child(Child&& o) noexcept;
  Child& operator=(Child&& o) noexcept;
  ~Child();  // kills (SIGKILL) and reaps a child still running

  pid_t pid() const { return pid_; }
  // Reads one line from the child's stdout (without '\n'); "" at EOF.
  std::string read_line();
  // Writes a line to the child's stdin.
  void write_line(const std::string& line);
  void close_stdin();
  // Waits for exit; returns the exit code, or 128+signal.
  int wait();
  void kill(int sig);

 private:
  friend Child spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env_extra);
  pid_t pid_ = -1;
  int in_ = -1;
  int out_ = -1;
  std::string buffer_;
  bool reaped_ = false;
  int status_ = 0;
};

// Starts argv[0] with argv (PATH not searched); stdin/stdout are pipes,
// stderr is inherited. env_extra adds "K=V" entries.
Child spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env_extra = {});

// Starts this test binary in helper mode NAME.
Child spawn_helper(const std::string& name, const std::vector<std::string>& args = {});

std::string self_exe();

}  // namespace cellar::test
