#include "support/cellar_env.h"

#include <sys/stat.h>

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

void CellarEnv::write() {
  write_text(config_, "[global]\nhome = \"" + home_ + "\"\n" + global_ + servers_);
}

RunResult CellarEnv::run(const std::vector<std::string>& args) const {
  std::vector<std::string> full{"-c", config_};
  full.insert(full.end(), args.begin(), args.end());
  return run_cellar(full);
}

Child CellarEnv::spawn_cellar(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{CELLAR_BINARY, "-c", config_};
  argv.insert(argv.end(), args.begin(), args.end());
  return spawn(argv);
}

}  // namespace cellar::test
