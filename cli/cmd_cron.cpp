// cron: one maintenance pass over every active server (backup/cron.h).
#include <filesystem>
#include <iostream>

#include "cli/handlers.h"
#include "cron/cron.h"

namespace cellar::cli {

void declare_cron(po::options_description& d) {
  d.add_options()("keep-descriptors", "background commands keep cron's stdout and stderr instead of their log files");
}

Outcome run_cron(Invocation& inv) {
  std::error_code ec;
  std::string config_path = std::filesystem::absolute(inv.config->main_file, ec).string();
  cron::CronOptions options;
  options.config = inv.config;
  options.config_path = ec ? inv.config->main_file : config_path;
  options.keep_descriptors = inv.has("keep-descriptors");
  options.say = [&](const std::string& line) {
    info(inv, line);
    std::cout.flush();
  };
  options.complain = [](const Status& st) { print_error(st); };
  return cron::run_cron(options);
}

}  // namespace cellar::cli
