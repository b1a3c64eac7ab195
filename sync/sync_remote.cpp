// The primary_ssh_command source of sync/primary.h: running the primary's
// cellar through the server's command prefix and reading its answers.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>

#include "common/fs.h"
#include "common/log.h"
#include "common/process.h"
#include "common/redact.h"
#include "sync/primary.h"
#include "sync/sync.h"

namespace cellar::sync {
namespace {

std::string shell_quote(const std::string& word) {
  std::string out = "'";
  for (char c : word) out += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  ::lseek(fd, 0, SEEK_SET);
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// `sh -c command`: stdout into a pipe we read, stderr into `stderr_fd`, an
// anonymous temp file (so a chatty stderr can never block the child).
Result<Process> start_shell(const std::string& command, int stderr_fd) {
  SpawnOptions shell;
  shell.argv = {"sh", "-c", command};
  shell.exe = "/bin/sh";
  shell.in = Stdio::null();
  shell.out = Stdio::pipe();
  shell.err = Stdio::from_fd(stderr_fd);
  return spawn(shell);
}

// Feeds the child's stdout to `on_stdout` until EOF or its first failure.
Status pump_stdout(int fd, const std::function<Status(std::string_view)>& on_stdout) {
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::from_errno("could not read the output of the primary's cellar", errno);
    if (n == 0) return Status::ok();
    if (Status st = on_stdout(std::string_view(buf, static_cast<size_t>(n))); !st) return st;
  }
}

}  // namespace

Status run_on_primary(const ServerConfig& server, const std::vector<std::string>& words,
                      const std::function<Status(std::string_view)>& on_stdout, int* exit_code) {
  std::string command = server.primary_ssh_command();
  for (const auto& w : words) command += " " + shell_quote(w);
  const std::string shown = redact_secrets(command);
  log::debug("running on the primary of \"" + server.name + "\": " + shown);

  FILE* err = std::tmpfile();
  if (!err) return Status::from_errno("could not create a temp file", errno);
  UniqueFd err_fd(::fcntl(::fileno(err), F_DUPFD_CLOEXEC, 0));
  std::fclose(err);
  auto child = start_shell(command, err_fd.get());
  if (!child) return child.status();
  Status consumer = pump_stdout(child->stdout_pipe().get(), on_stdout);
  if (!consumer) (void)child->signal(SIGTERM);  // stop a stream we no longer want
  child->stdout_pipe().reset();
  auto ended = child->wait();
  if (!ended) return ended.status();
  int code = ended->shell_code();
  if (exit_code) *exit_code = code;
  if (!consumer) return consumer;
  if (code != 0)
    return Status::failed("command on the primary node of server \"" + server.name + "\" failed with exit code " +
                              std::to_string(code) + ": " + shown,
                          "check primary_ssh_command and the primary's cellar")
        .with_detail(redact_secrets(read_all(err_fd.get())));
  return Status::ok();
}

namespace {

Result<Json> fetch_primary_info(const ServerConfig& server, const std::string& last_wal, uint64_t last_position) {
  std::vector<std::string> words{"sync-info", server.name};
  if (!last_wal.empty()) {
    words.push_back(last_wal);
    words.push_back(std::to_string(last_position));
  }
  std::string text;
  int code = 0;
  Status ran = run_on_primary(
      server, words,
      [&](std::string_view d) {
        text.append(d);
        return Status::ok();
      },
      &code);
  if (!ran && code == 1 && !last_wal.empty()) {
    log::warning("sync-info of server \"" + server.name + "\" is out of sync (" + ran.detail() +
                 "): asking the primary for a full synchronisation");
    return fetch_primary_info(server, "", 0);
  }
  if (!ran) return ran;
  auto doc = Json::parse(text);
  if (!doc || !doc->is_object() || !doc->find("wals") || !doc->find("wals")->is_array() || !doc->find("backups") ||
      !doc->find("last_name") || !doc->find("last_position"))
    return Status::failed("the primary node of server \"" + server.name + "\" sent an invalid sync-info answer",
                          "check that primary_ssh_command runs the primary's cellar");
  return doc;
}

// `sync-send WORDS...` on the primary, its tar stream read into `to`.
Status receive_stream(const ServerConfig& server, const std::vector<std::string>& words, TarHandler& to) {
  TarReader reader(to);
  Status s = run_on_primary(server, words, [&](std::string_view d) { return reader.feed(d); });
  if (s) s = reader.finish();
  return s;
}

class SshPrimary final : public PrimarySource {
 public:
  explicit SshPrimary(const ServerConfig& server) : server_(server) {}
  Result<Json> info(const std::string& last_wal, uint64_t last_position) const override {
    return fetch_primary_info(server_, last_wal, last_position);
  }
  Status wal_files(const std::vector<std::string>& names, TarHandler& to) const override {
    std::vector<std::string> words{"sync-send", server_.name, "wal"};
    words.insert(words.end(), names.begin(), names.end());
    return receive_stream(server_, words, to);
  }
  Status backup_files(const std::string& backup_id, TarHandler& to) const override {
    return receive_stream(server_, {"sync-send", server_.name, "backup", backup_id}, to);
  }

 private:
  const ServerConfig& server_;
};

}  // namespace

std::unique_ptr<PrimarySource> ssh_primary(const ServerConfig& server) { return std::make_unique<SshPrimary>(server); }

}  // namespace cellar::sync
