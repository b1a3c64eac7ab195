#include "daemon/control.h"

#include <signal.h>
#include <string.h>

#include <thread>

#include "common/fs.h"
#include "common/log.h"
#include "common/poll_until.h"
#include "common/process.h"
#include "common/time_text.h"
#include "daemon/control_socket.h"

namespace cellar::daemon {
namespace {

Json command(const char* verb) {
  Json r = Json::object();
  r.set("command", verb);
  return r;
}

Status status_of_answer(const Json& a) {
  const Json* ok = a.find("ok");
  if (ok && ok->is_bool() && ok->as_bool()) return Status::ok();
  const Json* error = a.find("error");
  const Json* hint = a.find("hint");
  const Json* code = a.find("code");
  std::string message = error && error->is_string() ? error->as_string() : "the daemon refused the request";
  std::string h = hint && hint->is_string() ? hint->as_string() : "";
  std::string c = code && code->is_string() ? code->as_string() : "failed";
  if (c == "busy") return Status::busy(message, h);
  if (c == "usage") return Status::usage(message, h);
  return Status::failed(message, h);
}

// The last "ERROR: ..." line the transcript got after `offset`.
std::string last_error_since(const std::string& transcript, size_t offset) {
  auto text = read_file(transcript);
  if (!text || text->size() <= offset) return "";
  std::string tail = text->substr(offset), found;
  size_t pos = 0;
  while ((pos = tail.find("ERROR: ", pos)) != std::string::npos) {
    size_t end = tail.find('\n', pos);
    found = tail.substr(pos + 7, end == std::string::npos ? std::string::npos : end - pos - 7);
    pos = end == std::string::npos ? tail.size() : end;
  }
  return found;
}

}  // namespace

Result<pid_t> start_daemon(const StartOptions& o) {
  const Config& config = *o.config;
  const std::string socket = config.daemon_socket();
  if (auto pid = running_daemon_pid(socket))
    return Status::busy("a cellar daemon is already running (PID " + std::to_string(*pid) + ")",
                        "stop it first with 'cellar daemon stop', or use 'cellar daemon restart'");
  const std::string transcript = config.daemon_transcript();
  if (Status st = make_dirs(dirname_of(transcript)); !st) return st;
  auto before = read_file(transcript);
  size_t offset = before ? before->size() : 0;
  SpawnOptions c;
  c.argv = {o.exe, "-c", o.config_path, "daemon", "fg"};
  c.out = c.err = Stdio::append_to(transcript);
  c.env = {std::string(log::kOutputFileEnv) + "=" + transcript};
  c.cwd = config.home();
  if (Status st = make_dirs(c.cwd); !st) return st;
  auto pid = spawn_detached(c);
  if (!pid) return pid.status();
  // Ours answers (not one started at the same instant by someone else), or
  // ours is gone.
  auto ours_answers = [&] {
    auto answer = ask(socket, command("status"), std::chrono::seconds(2));
    const Json* answering = answer ? answer->find("pid") : nullptr;
    return answering && answering->is_int() && answering->as_int() == *pid;
  };
  bool answers = poll_until([&] { return !process_alive(*pid) || ours_answers(); },
                            std::chrono::duration_cast<std::chrono::milliseconds>(o.timeout));
  if (answers && process_alive(*pid)) return *pid;
  std::string why = last_error_since(transcript, offset);
  if (process_alive(*pid))
    return Status::failed("the daemon (PID " + std::to_string(*pid) + ") did not answer on \"" + socket + "\" within " +
                              std::to_string(o.timeout.count()) + " s",
                          "see \"" + transcript + "\"");
  if (why.find("already running") != std::string::npos) return Status::busy(why);
  return Status::failed("the daemon did not start" + (why.empty() ? std::string() : ": " + why),
                        "see \"" + transcript + "\"");
}

Result<std::optional<pid_t>> stop_daemon(const Config& config, std::chrono::seconds timeout) {
  const std::string socket = config.daemon_socket();
  auto answer = ask(socket, command("stop"), std::chrono::seconds(10));
  if (!answer && not_running(answer.status())) return std::optional<pid_t>();
  if (!answer) return answer.status();
  if (Status st = status_of_answer(*answer); !st) return st;
  const Json* pid = answer->find("pid");
  pid_t daemon_pid = pid && pid->is_int() ? static_cast<pid_t>(pid->as_int()) : 0;
  // The PID file's lock goes when the daemon exits, after its receivers;
  // the process itself may take a moment more (its last destructors), and
  // "stopped" means it is gone.
  bool gone = poll_until([&] { return !running_daemon_pid(socket) && (daemon_pid <= 0 || !process_alive(daemon_pid)); },
                         std::chrono::duration_cast<std::chrono::milliseconds>(timeout));
  if (!gone)
    return Status::failed(
        "the daemon (PID " + std::to_string(daemon_pid) + ") did not stop within " + std::to_string(timeout.count()) +
            " s",
        "see its transcript \"" + config.daemon_transcript() + "\"; 'cellar daemon kill KILL' ends it");
  return std::optional<pid_t>(daemon_pid);
}

Result<Json> daemon_status(const Config& config) {
  auto answer = ask(config.daemon_socket(), command("status"), std::chrono::seconds(10));
  if (!answer) return answer.status();
  if (Status st = status_of_answer(*answer); !st) return st;
  return answer;
}

std::string render_daemon_status(const Json& s) {
  auto num = [&](const Json& o, const char* key) -> int64_t {
    const Json* v = o.find(key);
    return v && v->is_number() ? v->as_int() : 0;
  };
  auto text = [&](const Json& o, const char* key) -> std::string {
    const Json* v = o.find(key);
    return v && v->is_string() ? v->as_string() : "";
  };
  std::string out = "cellar daemon: PID " + std::to_string(num(s, "pid")) + ", up " + format_span(num(s, "uptime")) +
                    " (since " + format_utc(static_cast<std::time_t>(num(s, "started"))) + ")\n";
  out += "\tConfiguration: " + text(s, "config") + "\n\tSocket: " + text(s, "socket") + "\n";
  if (const Json* m = s.find("maintenance")) {
    out += "\tMaintenance: ";
    if (num(*m, "last_pass") == 0) {
      out += "first pass running\n";
    } else {
      const Json* ok = m->find("ok");
      bool good = ok && ok->is_bool() && ok->as_bool();
      char took[32];
      const Json* secs = m->find("seconds");
      std::snprintf(took, sizeof took, "%.1f", secs && secs->is_number() ? secs->as_double() : 0.0);
      out += "last pass " + format_utc(static_cast<std::time_t>(num(*m, "last_pass"))) + " (" + took +
             " s): " + (good ? "ok" : "FAILED: " + text(*m, "error")) + "; next in " + format_span(num(*m, "next_in")) +
             "\n";
    }
  }
  const Json* servers = s.find("servers");
  if (!servers || !servers->is_object()) return out;
  for (const auto& [name, server] : servers->as_object()) {
    out += "Server " + name + ":\n";
    if (const Json* r = server.find("receive_wal")) {
      std::string line = "\treceive-wal: " + text(*r, "state");
      const Json* pid = r->find("pid");
      if (pid && pid->is_int())
        line +=
            " (PID " + std::to_string(pid->as_int()) + (text(*r, "mode").empty() ? "" : ", " + text(*r, "mode")) + ")";
      line += ", restarts " + std::to_string(num(*r, "restarts"));
      if (!text(*r, "last_exit_text").empty()) line += ", last exit: " + text(*r, "last_exit_text");
      line += ", backoff " + std::to_string(num(*r, "backoff")) + " s";
      if (!text(*r, "holder").empty()) line += "; held by " + text(*r, "holder");
      out += line + "\n";
    }
    if (const Json* m = server.find("maintenance")) {
      const Json* ok = m->find("ok");
      bool good = ok && ok->is_bool() && ok->as_bool();
      std::string errors;
      if (const Json* e = m->find("errors"); e && e->is_array())
        for (const Json& item : e->as_array()) errors += (errors.empty() ? "" : "; ") + item.as_string();
      out += "\tmaintenance: " + (good ? std::string("ok") : "FAILED: " + errors) + "\n";
    }
  }
  return out;
}

Result<pid_t> signal_daemon(const Config& config, const std::string& signal) {
  std::string name = signal;
  for (char& ch : name) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (name.starts_with("SIG")) name = name.substr(3);
  int number = 0;
  if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos) {
    number = std::stoi(name.substr(0, 3));
  } else {
    for (int i = 1; i < NSIG; ++i)
      if (const char* abbrev = ::sigabbrev_np(i); abbrev && name == abbrev) number = i;
  }
  if (number <= 0 || number >= NSIG)
    return Status::usage("unknown signal \"" + signal + "\"", "e.g. HUP, TERM, KILL, USR1 or a number");
  auto pid = running_daemon_pid(config.daemon_socket());
  if (!pid)
    return Status::failed("no cellar daemon is running (socket \"" + config.daemon_socket() + "\")",
                          "start it with 'cellar daemon start'");
  if (::kill(*pid, number) != 0)
    return Status::from_errno("could not signal the daemon (PID " + std::to_string(*pid) + ")", errno);
  return *pid;
}

Result<std::string> daemon_request(const Config& config, const Json& request,
                                   std::optional<std::chrono::milliseconds> timeout) {
  auto answer = ask(config.daemon_socket(), request, timeout);
  if (!answer) return answer.status();
  if (Status st = status_of_answer(*answer); !st) return st;
  const Json* message = answer->find("message");
  return message && message->is_string() ? message->as_string() : std::string("ok");
}

std::string tell_daemon_config_changed(const Config& config) {
  if (!running_daemon_pid(config.daemon_socket())) return "";
  auto outcome = daemon_request(config, command("reload"), std::chrono::seconds(30));
  if (outcome) return "the running daemon reloaded its configuration";
  return "the running daemon did not reload: " + outcome.status().message();
}

}  // namespace cellar::daemon
