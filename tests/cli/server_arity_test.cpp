// The SERVER argument as the command table declares it (cli::ServerArity):
// dispatch resolves it before any handler runs, so every command behaves the
// same on a missing SERVER, on `all` and on an unknown server, and --help
// shows what the table declares. Table-driven: a command added to the table
// is covered here without a new line.
#include <catch2/catch.hpp>
#include <string>
#include <variant>
#include <vector>

#include "cli/command.h"
#include "locks/lock_names.h"
#include "support/cellar_env.h"

using namespace cellar;
using Catch::Matchers::Contains;
using cli::ServerArity;
using test::CellarEnv;
using test::RunResult;

namespace {

// `cellar COMMAND FIRST x x...`: FIRST in the SERVER position, then a
// placeholder for every other required argument, so that only SERVER can be
// what the command refuses.
std::vector<std::string> with_server(const cli::Command& c, const std::string& first) {
  std::vector<std::string> args{c.name, first};
  for (const auto& p : c.positionals)
    if (p.required) args.push_back("x");
  return args;
}

std::vector<const cli::Command*> commands_taking(bool (*pred)(ServerArity)) {
  std::vector<const cli::Command*> out;
  for (const auto& c : cli::command_table())
    if (pred(c.servers)) out.push_back(&c);
  return out;
}

bool takes_server(ServerArity a) { return a != ServerArity::none; }
bool needs_server(const cli::Command& c) { return takes_server(c.servers) && !c.extras.all_without_server; }
bool takes_one(ServerArity a) { return a == ServerArity::one; }
bool takes_many(ServerArity a) { return a == ServerArity::many; }

// One active server (unreachable: nothing below gets as far as connecting)
// and one inactive.
void add_two_servers(CellarEnv& env) {
  env.add_server("main", "host=/nonexistent port=1 user=postgres");
  env.add_server("old", "host=/nonexistent port=1 user=postgres", "active = false");
}

std::string usage_of(const cli::Command& c) {
  RunResult r = test::run_cellar({c.name, "--help"}, {"CELLAR_CONFIG=/nonexistent/cellar.toml"});
  REQUIRE(r.exit_code == 0);
  return r.out.substr(0, r.out.find('\n'));
}

}  // namespace

TEST_CASE("every handler has the shape its server arity asks for", "[cli]") {
  for (const auto& c : cli::command_table()) {
    INFO("command " << c.name);
    bool plain = std::holds_alternative<cli::RunPlain>(c.run);
    bool list = std::holds_alternative<cli::RunList>(c.run);
    CHECK(plain == (c.servers == ServerArity::none));
    if (list) CHECK(c.servers == ServerArity::many);
    // Dispatch resolves SERVER against the configuration.
    if (c.servers != ServerArity::none) CHECK(c.config == cli::ConfigNeed::required);
    for (const auto& p : c.positionals)
      if (c.servers != ServerArity::none) CHECK(std::string(p.name) != "server");
  }
}

TEST_CASE("--help shows SERVER as the table declares it", "[cli]") {
  for (const auto& c : cli::command_table()) {
    std::string usage = usage_of(c);
    INFO("command " << c.name << ": " << usage);
    std::string expected = std::string("Usage: cellar ") + c.name;
    if (c.servers == ServerArity::one) expected += " SERVER ";
    if (c.servers == ServerArity::many) expected += c.extras.all_without_server ? " [SERVER...] " : " SERVER... ";
    CHECK(usage.rfind(expected, 0) == 0);
    if (c.servers == ServerArity::none) CHECK_THAT(usage, !Contains(" SERVER ") && !Contains("SERVER..."));
  }
}

TEST_CASE("--help names the lock kinds the table declares for the command", "[cli]") {
  for (const auto& c : cli::command_table()) {
    INFO("command " << c.name);
    std::string names;
    for (locks::LockKind kind : c.locks) names += (names.empty() ? "" : ", ") + std::string(locks::kind_name(kind));
    if (names.empty()) names = c.extras.lock_named_by_kind ? "the lock KIND names" : "none";
    RunResult r = test::run_cellar({c.name, "--help"}, {"CELLAR_CONFIG=/nonexistent/cellar.toml"});
    CHECK_THAT(r.out, Contains("\nLocks held: " + names + "\n"));
  }
}

TEST_CASE("a command that takes SERVER exits 2 with a usage error when it is missing", "[cli]") {
  CellarEnv env;
  add_two_servers(env);
  for (const cli::Command* c : commands_taking(takes_server)) {
    if (!needs_server(*c)) continue;  // the test below
    RunResult r = env.run({c->name});
    INFO("command " << c->name << "\nstderr: " << r.err);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Contains(std::string("ERROR: ") + c->name + ": missing argument SERVER\n"));
    CHECK_THAT(r.err, Contains(std::string("HINT: usage: cellar ") + c->name + " SERVER"));
    CHECK(r.out.empty());
  }
}

TEST_CASE("a SERVER* command that allows no SERVER runs without one as it runs for all", "[cli]") {
  CellarEnv env;
  add_two_servers(env);
  int commands = 0;
  for (const auto& c : cli::command_table()) {
    if (!c.extras.all_without_server) continue;
    ++commands;
    CHECK(c.servers == ServerArity::many);
    RunResult bare = env.run({c.name});
    RunResult all = env.run({c.name, "all"});
    RunResult active = env.run({c.name, "main"});  // the only active server
    INFO("command " << c.name << "\nstdout: " << bare.out << "\nstderr: " << bare.err);
    CHECK(bare.exit_code == all.exit_code);
    CHECK(bare.out == all.out);
    CHECK(bare.out == active.out);
    CHECK_FALSE(bare.out.empty());
  }
  CHECK(commands > 0);
}

TEST_CASE("a command that takes one SERVER refuses all with exit 2", "[cli]") {
  CellarEnv env;
  add_two_servers(env);
  for (const cli::Command* c : commands_taking(takes_one)) {
    RunResult r = env.run(with_server(*c, "all"));
    INFO("command " << c->name << "\nstderr: " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err == "ERROR: \"all\" cannot be used here\nHINT: name one server\n");
    CHECK(r.out.empty());
  }
}

TEST_CASE("a SERVER* command takes all as every active server, skipping inactive ones", "[cli]") {
  CellarEnv env;
  env.add_server("old", "host=/nonexistent port=1 user=postgres", "active = false");
  for (const cli::Command* c : commands_taking(takes_many)) {
    // The only server is inactive: `all` names none, so nothing may fail or mention it.
    RunResult r = env.run({c->name, "all"});
    INFO("command " << c->name << "\nstdout: " << r.out << "\nstderr: " << r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.err.empty());
    CHECK_THAT(r.out, !Contains("old"));
  }
}

TEST_CASE("every command that takes SERVER exits 2 for an unknown server", "[cli]") {
  CellarEnv env;
  add_two_servers(env);
  for (const cli::Command* c : commands_taking(takes_server)) {
    RunResult r = env.run(with_server(*c, "nosuch"));
    INFO("command " << c->name << "\nstderr: " << r.err);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Contains("ERROR: unknown server \"nosuch\"\nHINT: run 'cellar list-servers'"));
    CHECK(r.out.empty());
  }
}

TEST_CASE("a SERVER* command runs for no server when one of the servers it names is unknown", "[cli]") {
  CellarEnv env;
  add_two_servers(env);
  for (const cli::Command* c : commands_taking(takes_many)) {
    // "old" alone would run (backup: "Skipping inactive server 'old'").
    RunResult r = env.run({c->name, "old", "nosuch"});
    INFO("command " << c->name << "\nstdout: " << r.out << "\nstderr: " << r.err);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Contains("ERROR: unknown server \"nosuch\""));
    CHECK(r.out.empty());
  }
}
