// End-to-end tests of the real `cellar` binary: global options, help for every
// command of the table, usage and configuration errors (exit 2 with the file,
// the line and a hint), list-servers, show-servers, logging, and passwords
// never shown.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/command.h"
#include "common/fs.h"
#include "common/json.h"
#include "config/config.h"
#include "support/run.h"

using namespace cellar;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using cellar::test::run_cellar;
using cellar::test::RunResult;
using cellar::test::TempDir;

namespace {

// A throwaway installation: <dir>/cellar.toml, <dir>/home (0700), <dir>/cellar.log.
class Site {
 public:
  Site() { REQUIRE(make_dirs(home(), 0700)); }
  std::string config() const { return dir_ / "cellar.toml"; }
  std::string home() const { return dir_ / "home"; }
  std::string log() const { return dir_ / "cellar.log"; }
  // The [global] table: 3 lines, so `rest` starts on line 4.
  std::string global_head() const { return "[global]\nhome = \"" + home() + "\"\nlog_file = \"" + log() + "\"\n"; }
  void write(const std::string& rest) const { test::write_text(config(), global_head() + rest); }
  RunResult run(std::vector<std::string> args) const {
    args.insert(args.begin(), {"-c", config()});
    return run_cellar(args);
  }
  std::string log_text() const { return test::read_text(log()); }

 private:
  TempDir dir_;
};

const std::string kTwoServers =
    "[servers.main]\n"                            // line 4
    "description = \"primary cluster\"\n"         // line 5
    "conninfo = \"host=/tmp dbname=postgres\"\n"  // line 6
    "compression = \"zstd\"\n"                    // line 7
    "[servers.standby]\n"                         // line 8
    "conninfo = \"host=/tmp port=5433\"\n"        // line 9
    "active = false\n";                           // line 10

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The command names of `cellar --help`: the first word of each line of the
// "Commands:" section.
std::vector<std::string> help_command_names(const std::string& help) {
  std::vector<std::string> names;
  bool in_section = false;
  for (const auto& line : lines_of(help)) {
    if (line == "Commands:") {
      in_section = true;
      continue;
    }
    if (!in_section) continue;
    if (line.empty()) break;
    std::istringstream words(line);
    std::string first;
    words >> first;
    names.push_back(first);
  }
  return names;
}

// A config error: exit 2, nothing on stdout, the file, the line and a hint on stderr.
void check_config_error(const RunResult& r, const std::string& file, int line, const std::string& what) {
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.out.empty());
  CHECK_THAT(r.err, StartsWith("ERROR: "));
  CHECK_THAT(r.err, Contains("\"" + file + "\" line " + std::to_string(line)));
  CHECK_THAT(r.err, Contains(what));
  CHECK_THAT(r.err, Contains("\nHINT: "));
}

}  // namespace

TEST_CASE("the version option prints the version and exits 0", "[cli]") {
  auto r = run_cellar({"--version"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "cellar " CELLAR_VERSION "\n");
  CHECK(r.err.empty());
}

TEST_CASE("--help lists exactly the commands of the table", "[cli]") {
  for (const char* flag : {"--help", "-h"}) {
    INFO(flag);
    auto r = run_cellar({flag});
    REQUIRE(r.exit_code == 0);
    CHECK(r.err.empty());
    CHECK_THAT(r.out, Contains("Usage: cellar [GLOBAL OPTIONS] COMMAND [ARGS]"));
    std::vector<std::string> expected;
    for (const auto& c : cli::command_table()) {
      expected.push_back(c.name);
      CHECK_THAT(r.out, Contains(std::string("  ") + c.name + " ") && Contains(c.summary));
    }
    CHECK(help_command_names(r.out) == expected);
    for (const char* option : {"--config", "--format", "--quiet", "--debug", "--help", "--version"})
      CHECK_THAT(r.out, Contains(option));
  }
}

TEST_CASE("every command has --help that exits 0 without a configuration", "[cli]") {
  for (const auto& c : cli::command_table()) {
    INFO("command " << c.name);
    // --help must not need a config: point at one that does not exist.
    auto r = run_cellar({c.name, "--help"}, {"CELLAR_CONFIG=/nonexistent/cellar.toml"});
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, StartsWith(std::string("Usage: cellar ") + c.name));
    CHECK_THAT(r.out, Contains(c.summary));
    CHECK(r.err.empty());
    // Also as "cellar --help CMD".
    auto before = run_cellar({"--help", c.name}, {"CELLAR_CONFIG=/nonexistent/cellar.toml"});
    CHECK(before.exit_code == 0);
    CHECK_THAT(before.out, StartsWith(std::string("Usage: cellar ") + c.name));
  }
}

TEST_CASE("every command rejects an unknown option with exit 2", "[cli]") {
  for (const auto& c : cli::command_table()) {
    INFO("command " << c.name);
    auto r = run_cellar({c.name, "--no-such-option"}, {"CELLAR_CONFIG=/nonexistent/cellar.toml"});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, StartsWith("ERROR: ") && Contains("no-such-option"));
    CHECK_THAT(r.err, Contains("HINT: "));
    CHECK(r.out.empty());
  }
}

TEST_CASE("an unknown command suggests the closest one", "[cli]") {
  for (const char* typo : {"list-server", "lis", "list-servres"}) {
    INFO(typo);
    auto r = run_cellar({typo});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Contains(std::string("ERROR: unknown command \"") + typo + "\""));
    CHECK_THAT(r.err, Contains("HINT: did you mean \"list-servers\"?"));
    CHECK(r.out.empty());
  }
  auto far = run_cellar({"frobnicate"});
  CHECK(far.exit_code == 2);
  CHECK_THAT(far.err, Contains("unknown command \"frobnicate\""));
  CHECK_THAT(far.err, !Contains("did you mean") && Contains("cellar --help"));
}

TEST_CASE("no command is a usage error", "[cli]") {
  for (const std::vector<std::string>& args : {std::vector<std::string>{}, {"-q"}, {"-f", "json"}}) {
    auto r = run_cellar(args);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Contains("ERROR: no command given") && Contains("HINT: "));
  }
}

TEST_CASE("an unknown format or global option is a usage error", "[cli]") {
  Site site;
  site.write(kTwoServers);
  for (const std::vector<std::string>& args : {std::vector<std::string>{"-f", "yaml", "list-servers"},
                                               {"list-servers", "--format", "yaml"},
                                               {"--format=xml", "list-servers"}}) {
    auto r = site.run(args);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Contains("invalid format") && Contains("HINT: "));
    CHECK(r.out.empty());
  }
  auto bogus = run_cellar({"--bogus", "list-servers"});
  CHECK(bogus.exit_code == 2);
  CHECK_THAT(bogus.err, StartsWith("ERROR: "));
  auto dangling = run_cellar({"-c"});
  CHECK(dangling.exit_code == 2);
  CHECK_THAT(dangling.err, StartsWith("ERROR: "));
}

TEST_CASE("a malformed TOML file exits 2 with the file and the line", "[cli]") {
  Site site;
  site.write("[servers.main]\nconninfo = \"host=/tmp\ndescription = \"x\"\n");  // line 5
  check_config_error(site.run({"list-servers"}), site.config(), 5, "malformed TOML");
}

TEST_CASE("an unknown key exits 2 with the file, the line and the key", "[cli]") {
  Site site;
  site.write(kTwoServers + "compresion = \"gzip\"\n");  // line 11
  check_config_error(site.run({"list-servers"}), site.config(), 11, "unknown key \"compresion\"");
}

TEST_CASE("a value of the wrong type exits 2 with the file and the line", "[cli]") {
  Site site;
  site.write(kTwoServers + "parallel_jobs = \"four\"\n");  // line 11
  check_config_error(site.run({"show-servers", "main"}), site.config(), 11, "must be an integer");
}

TEST_CASE("a server named ../x or all exits 2 with the file and the line", "[cli]") {
  for (const char* name : {"../x", "all"}) {
    INFO(name);
    Site site;
    site.write(kTwoServers + "[servers.\"" + name + "\"]\nconninfo = \"host=/tmp\"\n");  // line 11
    auto r = site.run({"list-servers"});
    check_config_error(r, site.config(), 11, std::string("invalid server name \"") + name + "\"");
  }
}

TEST_CASE("several configuration problems are reported together", "[cli]") {
  Site site;
  site.write(kTwoServers + "bogus = 1\nparallel_jobs = 0\n");  // lines 11, 12
  auto r = site.run({"list-servers"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Contains("line 11") && Contains("line 12"));
}

TEST_CASE("a missing configuration file exits 2 with a hint", "[cli]") {
  TempDir dir;
  auto r = run_cellar({"-c", dir / "nope.toml", "list-servers"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Contains("\"" + dir / "nope.toml" + "\" does not exist") && Contains("HINT: "));
  auto env = run_cellar({"list-servers"}, {"CELLAR_CONFIG=" + dir / "env.toml"});
  CHECK(env.exit_code == 2);
  CHECK_THAT(env.err, Contains(dir / "env.toml") && Contains("HINT: "));
}

TEST_CASE("CELLAR_CONFIG names the configuration when -c is absent", "[cli]") {
  Site site;
  site.write(kTwoServers);
  auto r = run_cellar({"list-servers"}, {"CELLAR_CONFIG=" + site.config()});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Contains("main"));
}

TEST_CASE("a world-writable home is refused with exit 2", "[cli]") {
  Site site;
  site.write(kTwoServers);
  REQUIRE(::chmod(site.home().c_str(), 0777) == 0);
  auto r = site.run({"list-servers"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Contains("\"" + site.home() + "\" is world-writable") && Contains("HINT: "));
  CHECK(r.out.empty());
}

TEST_CASE("a missing home is created with mode 0700", "[cli]") {
  TempDir dir;
  const std::string home = dir / "new/home";
  test::write_text(dir / "cellar.toml",
                   "[global]\nhome = \"" + home + "\"\n[servers.main]\nconninfo = \"host=/tmp\"\n");
  auto r = run_cellar({"-c", dir / "cellar.toml", "list-servers"});
  CHECK(r.exit_code == 0);
  struct stat sb {};
  REQUIRE(::stat(home.c_str(), &sb) == 0);
  CHECK((sb.st_mode & 0777) == 0700);
}

TEST_CASE("list-servers prints one line per server", "[cli]") {
  Site site;
  site.write(kTwoServers);
  auto r = site.run({"list-servers"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.empty());
  auto lines = lines_of(r.out);
  REQUIRE(lines.size() == 2);
  CHECK_THAT(lines[0], StartsWith("main") && Contains("primary cluster") && !Contains("inactive"));
  CHECK_THAT(lines[1], StartsWith("standby") && Contains("inactive"));
}

TEST_CASE("list-servers --format json prints an array of name, description, active, passive", "[cli]") {
  Site site;
  site.write(kTwoServers + "[servers.replica]\nprimary_ssh_command = \"ssh cellar@db1 cellar\"\n");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--format", "json", "list-servers"}, {"list-servers", "-f", "json"}}) {
    auto r = site.run(args);
    REQUIRE(r.exit_code == 0);
    auto doc = Json::parse(r.out);
    INFO(r.out);
    REQUIRE(doc.is_ok());
    REQUIRE(doc->is_array());
    const auto& servers = doc->as_array();
    REQUIRE(servers.size() == 3);
    for (const auto& s : servers) {
      REQUIRE(s.is_object());
      std::set<std::string> keys;
      for (const auto& [k, v] : s.as_object()) keys.insert(k);
      CHECK(keys == std::set<std::string>{"name", "description", "active", "passive"});
      CHECK(s.find("name")->is_string());
      CHECK(s.find("description")->is_string());
      CHECK(s.find("active")->is_bool());
      CHECK(s.find("passive")->is_bool());
    }
    CHECK(servers[0].find("name")->as_string() == "main");
    CHECK(servers[0].find("description")->as_string() == "primary cluster");
    CHECK(servers[0].find("active")->as_bool());
    CHECK_FALSE(servers[0].find("passive")->as_bool());
    CHECK(servers[1].find("name")->as_string() == "replica");
    CHECK(servers[1].find("passive")->as_bool());
    CHECK(servers[2].find("name")->as_string() == "standby");
    CHECK_FALSE(servers[2].find("active")->as_bool());
  }
}

TEST_CASE("show-servers shows every value with its source", "[cli]") {
  Site site;
  site.write(kTwoServers);
  auto r = site.run({"show-servers", "main"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.empty());
  const std::string file = site.config();
  CHECK_THAT(r.out, Contains("Server main:"));
  CHECK_THAT(r.out, Contains("description: primary cluster  [" + file + ":5]"));
  CHECK_THAT(r.out, Contains("conninfo: host=/tmp dbname=postgres  [" + file + ":6]"));
  CHECK_THAT(r.out, Contains("compression: zstd  [" + file + ":7]"));
  CHECK_THAT(r.out, Contains("home: " + site.home() + "  [" + file + ":2]"));
  CHECK_THAT(r.out, Contains("log_file: " + site.log() + "  [" + file + ":3]"));
  CHECK_THAT(r.out, Contains("slot_name: cellar  [default]"));
  CHECK_THAT(r.out, Contains("retention_policy: (none)  [default]"));
  for (const KeySpec& spec : key_specs()) CHECK_THAT(r.out, Contains(std::string("\t") + spec.name + ": "));
  CHECK_THAT(r.out, !Contains("Server standby:"));
}

TEST_CASE("show-servers all shows the active servers; JSON maps each key to value and source", "[cli]") {
  Site site;
  site.write(kTwoServers);
  // SPEC §4.2: `all` skips inactive servers (standby is inactive); naming one shows it.
  auto all = site.run({"show-servers", "all"});
  REQUIRE(all.exit_code == 0);
  CHECK_THAT(all.out, Contains("Server main:") && !Contains("Server standby:"));

  auto r = site.run({"-f", "json", "show-servers", "main", "standby"});
  REQUIRE(r.exit_code == 0);
  auto doc = Json::parse(r.out);
  INFO(r.out);
  REQUIRE(doc.is_ok());
  const Json* main = doc->find("main");
  REQUIRE(main != nullptr);
  REQUIRE(doc->find("standby") != nullptr);
  for (const KeySpec& spec : key_specs()) {
    INFO(spec.name);
    const Json* entry = main->find(spec.name);
    REQUIRE(entry != nullptr);
    CHECK(entry->find("value") != nullptr);
    CHECK(entry->find("source") != nullptr);
  }
  CHECK(main->find("compression")->find("value")->as_string() == "zstd");
  CHECK(main->find("compression")->find("source")->as_string() == site.config() + ":7");
  CHECK(main->find("retention_policy")->find("value")->is_null());
  CHECK(main->find("retention_policy")->find("source")->as_string() == "default");
  CHECK(doc->find("standby")->find("active")->find("value")->as_string() == "false");
}

TEST_CASE("show-servers with an unknown server exits 2", "[cli]") {
  Site site;
  site.write(kTwoServers);
  auto r = site.run({"show-servers", "nosuch"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Contains("ERROR: unknown server \"nosuch\"") && Contains("HINT: "));
  CHECK(r.out.empty());
  auto missing = site.run({"show-servers"});
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.err, Contains("missing argument SERVER"));
}

TEST_CASE("each command logs a begin line and an end line with exit code and duration", "[cli]") {
  Site site;
  site.write(kTwoServers);
  REQUIRE(site.run({"-f", "json", "list-servers"}).exit_code == 0);
  REQUIRE(site.run({"show-servers", "nosuch"}).exit_code == 2);
  auto lines = lines_of(site.log_text());
  INFO(site.log_text());
  REQUIRE(lines.size() == 4);
  CHECK_THAT(lines[0], Contains("begin: cellar -c " + site.config() + " -f json list-servers"));
  CHECK(std::regex_search(lines[1], std::regex(R"(end: list-servers exit 0 after [0-9]+\.[0-9]{3} s$)")));
  CHECK_THAT(lines[2], Contains("begin: cellar -c " + site.config() + " show-servers nosuch"));
  CHECK(std::regex_search(lines[3], std::regex(R"(end: show-servers exit 2 after [0-9]+\.[0-9]{3} s$)")));
  // Every line carries a timestamp, the PID and the command.
  for (const auto& line : lines)
    CHECK(std::regex_search(line, std::regex(R"(^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \[\d+\] info )")));
  // The begin/end lines go to the file, not to the terminal.
  auto r = site.run({"list-servers"});
  CHECK_THAT(r.err, !Contains("begin:"));
}

TEST_CASE("log_file = \"\" disables the log file", "[cli]") {
  TempDir dir;
  REQUIRE(make_dirs(dir / "home", 0700));
  test::write_text(dir / "cellar.toml", "[global]\nhome = \"" + dir / "home" + "\"\nlog_file = \"\"\n" + kTwoServers);
  auto r = run_cellar({"-c", dir / "cellar.toml", "list-servers"});
  CHECK(r.exit_code == 0);
  CHECK_FALSE(path_exists(dir / "home/cellar.log"));
}

TEST_CASE("a conninfo password never appears in output, errors or the log", "[cli]") {
  const std::string secret = "TopSecret123";
  Site site;
  site.write(
      "[servers.main]\n"
      "conninfo = \"host=/tmp dbname=postgres user=cellar password=" +
      secret +
      "\"\n"
      "[servers.uri]\n"
      "conninfo = \"postgresql://cellar:" +
      secret +
      "@localhost/postgres\"\n"
      "streaming_conninfo = \"host=/tmp password='" +
      secret + " x'\"\n");
  std::vector<RunResult> runs = {
      site.run({"show-servers", "all"}),
      site.run({"-f", "json", "show-servers", "main", "uri"}),
      site.run({"-d", "show-servers", "main"}),
      site.run({"list-servers"}),
      // The conninfo quoted back in an error message and in the begin log line.
      site.run({"show-servers", "host=/tmp password=" + secret}),
      site.run({"show-servers", "postgresql://u:" + secret + "@h/db"}),
  };
  CHECK(runs[0].exit_code == 0);
  CHECK_THAT(runs[0].out, Contains("password=********"));
  CHECK(runs[4].exit_code == 2);
  CHECK_THAT(runs[4].err, Contains("unknown server"));
  for (size_t i = 0; i < runs.size(); ++i) {
    INFO("run " << i << "\nstdout: " << runs[i].out << "\nstderr: " << runs[i].err);
    CHECK(runs[i].out.find(secret) == std::string::npos);
    CHECK(runs[i].err.find(secret) == std::string::npos);
  }
  auto json = Json::parse(runs[1].out);
  REQUIRE(json.is_ok());
  std::string log = site.log_text();
  CHECK_THAT(log, Contains("begin:") && Contains("show-servers host=/tmp password=********"));
  CHECK(log.find(secret) == std::string::npos);

  // A configuration error about the conninfo itself.
  Site broken;
  broken.write("[servers.main]\nconninfo = \"password=" + secret + " junk\"\n");
  auto bad = broken.run({"list-servers"});
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Contains("invalid conninfo"));
  CHECK(bad.err.find(secret) == std::string::npos);
}
