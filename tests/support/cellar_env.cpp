#include "support/cellar_env.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "locks/lock_file.h"
#include "locks/lock_names.h"

namespace cellar::test {

CellarEnv::CellarEnv() {
  config_ = dir_ / "cellar.toml";
  home_ = dir_ / "home";
  ::mkdir(home_.c_str(), 0700);
  write();
}

void CellarEnv::add_server(const std::string& name, const std::string& conninfo, const std::string& extra) {
  servers_ += "\n[servers." + name + "]\nconninfo = \"" + conninfo + "\"\n" + extra + "\n";
  write();
}

void CellarEnv::add_global(const std::string& lines) {
  global_ += lines + "\n";
  write();
}

void CellarEnv::write() { write_text(config_, "[global]\nhome = \"" + home_ + "\"\n" + global_ + servers_); }

RunResult CellarEnv::run(const std::vector<std::string>& args) const {
  std::vector<std::string> full{"-c", config_};
  full.insert(full.end(), args.begin(), args.end());
  return run_cellar(full, env_);
}

Child CellarEnv::spawn_cellar(const std::vector<std::string>& args, const std::vector<std::string>& env_extra) const {
  std::vector<std::string> argv{CELLAR_BINARY, "-c", config_};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> env = env_;
  env.insert(env.end(), env_extra.begin(), env_extra.end());
  return spawn(argv, env);
}

std::optional<pid_t> receiver_pid(const CellarEnv& env, const std::string& server) {
  std::string path = env.home() + "/" + locks::make_lock_file_name({locks::LockKind::receive_wal, server, ""});
  return locks::LockFile(path).owner_pid();
}

std::string switch_segment(const CellarEnv& env, const std::string& server) {
  auto r = env.run({"switch-wal", server, "--force"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  auto pos = r.out.find("The WAL file ");
  REQUIRE(pos != std::string::npos);
  return r.out.substr(pos + 13, 24);
}

}  // namespace cellar::test
