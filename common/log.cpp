#include "common/log.h"

#include <fcntl.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>

#include "common/redact.h"

namespace cellar::log {
namespace {

spdlog::level::level_enum to_spd(Level l) {
  switch (l) {
    case Level::debug:
      return spdlog::level::debug;
    case Level::info:
      return spdlog::level::info;
    case Level::warning:
      return spdlog::level::warn;
    case Level::error:
      return spdlog::level::err;
    case Level::off:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

// Forwards each record to its inner sink with secrets removed from the text.
class RedactingSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit RedactingSink(spdlog::sink_ptr inner) : inner_(std::move(inner)) {}
  void set_inner(spdlog::sink_ptr inner) {
    std::lock_guard<std::mutex> guard(mutex_);
    inner_ = std::move(inner);
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (!inner_ || !inner_->should_log(msg.level)) return;
    std::string clean = redact_secrets(std::string(msg.payload.data(), msg.payload.size()));
    spdlog::details::log_msg copy(msg.time, msg.source, msg.logger_name, msg.level, clean);
    inner_->log(copy);
  }
  void flush_() override {
    if (inner_) inner_->flush();
  }

 private:
  spdlog::sink_ptr inner_;
};

struct State {
  Options options;
  std::shared_ptr<RedactingSink> file_sink;
};
State& state() {
  static State s;
  return s;
}

Result<spdlog::sink_ptr> open_file_sink(const Options& o) {
  try {
    auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(o.file, false);
    sink->set_level(to_spd(o.file_level));
    sink->set_pattern("%Y-%m-%d %H:%M:%S.%e [%P] %l " + o.command + ": %v");
    return spdlog::sink_ptr(sink);
  } catch (const spdlog::spdlog_ex& e) {
    return Status::failed("could not open log file \"" + o.file + "\": " + e.what());
  }
}

}  // namespace

Result<Level> parse_level(const std::string& name) {
  if (name == "debug") return Level::debug;
  if (name == "info") return Level::info;
  if (name == "warning" || name == "warn") return Level::warning;
  if (name == "error") return Level::error;
  if (name == "off") return Level::off;
  return Status::usage("invalid log level \"" + name + "\"", "use debug, info, warning, error or off");
}

Status setup(const Options& o) {
  state().options = o;
  auto err = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  err->set_level(to_spd(o.stderr_level));
  err->set_pattern("%^%l%$: %v");
  auto err_redacted = std::make_shared<RedactingSink>(err);
  std::vector<spdlog::sink_ptr> sinks{err_redacted};
  Status result;
  if (!o.file.empty()) {
    auto file = open_file_sink(o);
    if (file) {
      state().file_sink = std::make_shared<RedactingSink>(*file);
      sinks.push_back(state().file_sink);
    } else {
      result = file.status();
    }
  }
  auto logger = std::make_shared<spdlog::logger>("cellar", sinks.begin(), sinks.end());
  logger->set_level(spdlog::level::debug);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  return result;
}

namespace {

// Points stdout and stderr at $CELLAR_OUTPUT_FILE again (appending).
void reopen_output() {
  const char* path = std::getenv(kOutputFileEnv);
  if (!path || !*path) return;
  std::fflush(stdout);
  std::fflush(stderr);
  int fd = ::open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    spdlog::error(std::string("could not reopen output file \"") + path + "\": " + std::strerror(errno));
    return;
  }
  ::dup2(fd, STDOUT_FILENO);
  ::dup2(fd, STDERR_FILENO);
  ::close(fd);
}

}  // namespace

void reopen() {
  reopen_output();
  auto& s = state();
  if (!s.file_sink || s.options.file.empty()) return;
  auto file = open_file_sink(s.options);
  if (file) s.file_sink->set_inner(*file);
}

void debug(const std::string& m) { spdlog::debug(m); }
void info(const std::string& m) { spdlog::info(m); }
void warning(const std::string& m) { spdlog::warn(m); }
void error(const std::string& m) { spdlog::error(m); }
void flush() { spdlog::default_logger()->flush(); }

}  // namespace cellar::log
