// config-update end to end: validation of every kind of bad input (nothing
// written), new servers, values visible with the auto file as their source,
// the config-update lock, and atomicity under kill -9.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <random>

#include "common/fs.h"
#include "support/cellar_env.h"

using namespace cellar::test;

namespace {

std::string auto_file(const CellarEnv& env) { return env.home() + "/.cellar.auto.toml"; }

RunResult update(const CellarEnv& env, const std::string& json) { return env.run({"config-update", json}); }

}  // namespace

TEST_CASE("config-update rejects each kind of bad input with exit 2 and writes nothing", "[config-update]") {
  CellarEnv env;
  env.add_server("main", "host=db1 user=cellar");
  struct Bad {
    const char* json;
    const char* expected;  // part of the message
  };
  const Bad cases[] = {
      {R"([{"scope":"server",)", "invalid JSON"},
      {R"({"scope":"global"})", "array"},
      {R"([42])", "entry 0: must be an object"},
      {R"([{"server_name":"main","active":false}])", "\"scope\" is missing"},
      {R"([{"scope":"model","server_name":"main"}])", "\"scope\""},
      {R"([{"scope":"server","active":false}])", "\"server_name\" is missing"},
      {R"([{"scope":"global","server_name":"main"}])", "not allowed with scope \"global\""},
      {R"([{"scope":"server","server_name":"../etc","conninfo":"host=x"}])", "server_name"},
      {R"([{"scope":"server","server_name":"all","conninfo":"host=x"}])", "server_name"},
      {R"([{"scope":"server","server_name":"main","nosuchkey":1}])", "unknown key \"nosuchkey\""},
      {R"([{"scope":"server","server_name":"main","home":"/tmp"}])", "\"home\""},
      {R"([{"scope":"global","home":"/tmp/x"}])", "\"home\""},
      {R"([{"scope":"server","server_name":"main","active":"yes"}])", "must be a boolean"},
      {R"([{"scope":"server","server_name":"main","parallel_jobs":"4"}])", "must be an integer"},
      {R"([{"scope":"server","server_name":"main","compression":"rar"}])", "must be one of"},
      {R"([{"scope":"server","server_name":"main","parallel_jobs":0}])", "between"},
      {R"([{"scope":"server","server_name":"main","active":false},{"scope":"server","server_name":"main","slot_name":"Bad-Slot"}])",
       "entry 1"},
      // Valid entries, but the result would not load: a new server without conninfo.
      {R"([{"scope":"server","server_name":"fresh","description":"no conninfo"}])", "would not load"},
      {R"([{"scope":"server","server_name":"main","compression_level":5}])", "would not load"},
  };
  for (const Bad& bad : cases) {
    INFO(bad.json);
    RunResult r = update(env, bad.json);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("ERROR:") != std::string::npos);
    CHECK(r.err.find(bad.expected) != std::string::npos);
    CHECK_FALSE(cellar::path_exists(auto_file(env)));
  }
}

TEST_CASE("config-update gives the position of a JSON syntax error", "[config-update]") {
  CellarEnv env;
  env.add_server("main", "host=db1 user=cellar");
  RunResult r = update(env, "[\n {\"scope\": \"server\",\n  \"server_name\": main}]");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("line 3") != std::string::npos);
}

TEST_CASE("config-update changes a value; show-servers names the auto file as its source", "[config-update]") {
  CellarEnv env;
  env.add_server("main", "host=db1 user=cellar", "description = \"old\"");
  RunResult r = update(env, R"([{"scope":"server","server_name":"main","description":"new desc","active":false},)"
                            R"({"scope":"global","minimum_redundancy":2}])");
  REQUIRE(r.exit_code == 0);
  RunResult show = env.run({"-f", "json", "show-servers", "main"});
  REQUIRE(show.exit_code == 0);
  CHECK(show.out.find("\"new desc\"") != std::string::npos);
  CHECK(show.out.find(auto_file(env)) != std::string::npos);
  RunResult list = env.run({"list-servers"});
  CHECK(list.out.find("new desc (inactive)") != std::string::npos);
  // A second update merges: earlier values stay, the same key is replaced.
  REQUIRE(update(env, R"([{"scope":"server","server_name":"main","description":"third"}])").exit_code == 0);
  list = env.run({"list-servers"});
  CHECK(list.out.find("third (inactive)") != std::string::npos);
  std::string text = read_text(auto_file(env));
  CHECK(text.find("minimum_redundancy = 2") != std::string::npos);
}

TEST_CASE("config-update creates a new server", "[config-update]") {
  CellarEnv env;
  env.add_server("main", "host=db1 user=cellar");
  RunResult r =
      update(env, R"([{"scope":"server","server_name":"replica2","conninfo":"host=db2 user=cellar password=s3cret"}])");
  REQUIRE(r.exit_code == 0);
  RunResult list = env.run({"list-servers"});
  CHECK(list.out.find("replica2") != std::string::npos);
  RunResult show = env.run({"show-servers", "replica2"});
  CHECK(show.exit_code == 0);
  CHECK(show.out.find("host=db2") != std::string::npos);
  CHECK(show.out.find("s3cret") == std::string::npos);
  // A passive server needs primary_ssh_command instead of conninfo.
  r = update(env, R"([{"scope":"server","server_name":"dr","primary_ssh_command":"ssh cellar@db1 cellar"}])");
  REQUIRE(r.exit_code == 0);
  CHECK(env.run({"list-servers"}).out.find("dr - (no description) (passive)") != std::string::npos);
}

TEST_CASE("a second config-update waits for the config-update lock", "[config-update]") {
  CellarEnv env;
  env.add_server("main", "host=db1 user=cellar");
  Child holder = env.spawn_cellar({"lock", "config-update", "--", "sh", "-c", "echo held; read x"});
  REQUIRE(holder.read_line() == "held");
  Child waiting = env.spawn_cellar({"config-update", R"([{"scope":"server","server_name":"main","description":"x"}])"});
  // Still waiting while the lock is held: no auto file yet.
  CHECK_FALSE(wait_until([&] { return cellar::path_exists(auto_file(env)); }, 0.5));
  holder.write_line("go");
  CHECK(holder.wait() == 0);
  CHECK(waiting.wait() == 0);
  CHECK(cellar::path_exists(auto_file(env)));
}

TEST_CASE("config-update gives up with exit 3 when the lock stays held", "[config-update]") {
  CellarEnv env;
  env.add_server("main", "host=db1 user=cellar");
  Child holder = env.spawn_cellar({"lock", "config-update", "--", "sh", "-c", "echo held; read x"});
  REQUIRE(holder.read_line() == "held");
  RunResult r = update(env, R"([{"scope":"server","server_name":"main","description":"x"}])");
  CHECK(r.exit_code == 3);
  CHECK(r.err.find(".config-update.lock") != std::string::npos);
  holder.write_line("go");
  CHECK(holder.wait() == 0);
}

TEST_CASE("config-update killed at any instant leaves the old or the new auto file", "[config-update]") {
  CellarEnv env;
  env.add_server("main", "host=db1 user=cellar");
  REQUIRE(update(env, R"([{"scope":"server","server_name":"main","description":"v0"}])").exit_code == 0);
  std::string previous = read_text(auto_file(env));
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> delay_us(0, 40000);
  int killed = 0;
  for (int i = 1; i <= 25; ++i) {
    std::string desc = "v" + std::to_string(i) + std::string(static_cast<size_t>(i) * 97, 'x');
    Child c = env.spawn_cellar(
        {"config-update", R"([{"scope":"server","server_name":"main","description":")" + desc + "\"}]"});
    ::usleep(static_cast<useconds_t>(delay_us(rng)));
    c.kill(SIGKILL);
    int code = c.wait();
    if (code != 0) ++killed;
    std::string now = read_text(auto_file(env));
    INFO("iteration " << i << " exit " << code);
    // toml++ may write either quoting style; the closing quote proves the value is whole.
    bool is_new = now.find(desc + "'") != std::string::npos || now.find(desc + "\"") != std::string::npos;
    CHECK((now == previous || is_new));
    if (code == 0) CHECK(is_new);
    // Whatever is there loads.
    REQUIRE(env.run({"list-servers"}).exit_code == 0);
    previous = now;
  }
  // At least some runs were really killed; the next update clears their scratch directories.
  CHECK(killed > 0);
  REQUIRE(update(env, R"([{"scope":"server","server_name":"main","description":"final"}])").exit_code == 0);
  auto names = cellar::list_dir(env.home());
  REQUIRE(names);
  for (const auto& n : *names) CHECK((n.rfind(".config-update.", 0) != 0 || n == ".config-update.lock"));
}
