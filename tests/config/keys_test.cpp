// The key table (config/keys.h): the enum, the specs and the typed accessors
// agree, a key that is not in the table cannot be asked for, and values come
// out of load_config already parsed into their types.
#include "config/keys.h"

#include <catch2/catch.hpp>
#include <csignal>
#include <set>
#include <string>
#include <variant>

#include "config/config.h"
#include "support/helper_mode.h"
#include "support/run.h"

using namespace cellar;

namespace {

// Asking for a key by name, or for a key that does not exist, must not
// compile: these concepts are what a caller could try.
template <typename S>
concept LooksUpByName = requires(const S& s) {
  s.get(std::string("slot_name"));
};
template <typename S>
concept LooksUpByCString = requires(const S& s) {
  s.get("slot_name");
};
template <typename E>
concept HasMisspeltKey = requires {
  E::compresion;
};
template <typename E>
concept HasSlotNameKey = requires {
  E::slot_name;
};
template <typename S>
concept HasMisspeltAccessor = requires(const S& s) {
  s.compresion();
};
template <typename S>
concept HasGlobalOnlyAccessor = requires(const S& s) {
  s.home();
};

// Asks a server for a [global]-only key: must abort, never answer "unset".
int ask_server_for_global_key(const std::vector<std::string>&) {
  ServerConfig server;
  return server.has(Key::home) ? 0 : 1;
}
CELLAR_TEST_HELPER("server-asks-global-key", ask_server_for_global_key);

Result<Config> load_text(const test::TempDir& dir, const std::string& server_lines) {
  test::write_text(dir / "cellar.toml", "[global]\nhome = \"" + (dir / "home") + "\"\n[servers.main]\n" +
                                            "conninfo = \"host=/tmp\"\n" + server_lines);
  return load_config(dir / "cellar.toml");
}

}  // namespace

TEST_CASE("a key that is not in the table cannot be asked for", "[config]") {
  static_assert(!LooksUpByName<ServerConfig> && !LooksUpByCString<ServerConfig>);
  static_assert(!LooksUpByName<Config> && !LooksUpByCString<Config>);
  static_assert(!std::is_convertible_v<const char*, Key> && !std::is_convertible_v<int, Key>);
  static_assert(HasSlotNameKey<Key> && !HasMisspeltKey<Key>);
  static_assert(!HasMisspeltAccessor<ServerConfig>);
  // Global-only keys are read from Config, never from a server.
  static_assert(HasGlobalOnlyAccessor<Config> && !HasGlobalOnlyAccessor<ServerConfig>);
  // Names from files and JSON go through find_key, which says "no such key".
  CHECK(find_key("compresion") == nullptr);
  CHECK(find_key("") == nullptr);
  CHECK(find_key("Slot_Name") == nullptr);
  REQUIRE(find_key("slot_name") != nullptr);
  CHECK(find_key("slot_name")->key == Key::slot_name);
}

TEST_CASE("asking a server for a [global]-only key aborts instead of answering unset", "[config]") {
  test::Child child = test::spawn_helper("server-asks-global-key");
  CHECK(child.wait() == 128 + SIGABRT);
}

TEST_CASE("the key enum indexes the table, names are unique and every default passes its own rule", "[config]") {
  REQUIRE(key_specs().size() == kKeyCount);
  std::set<std::string> names;
  bool global_part = true;
  for (size_t i = 0; i < key_specs().size(); ++i) {
    const KeySpec& spec = key_specs()[i];
    INFO(spec.name);
    CHECK(static_cast<size_t>(spec.key) == i);
    CHECK(&spec_of(spec.key) == &spec);
    CHECK(names.insert(spec.name).second);
    // [global]-only keys come first, as docs/commands.md lists them.
    if (spec.scope == KeyScope::any) global_part = false;
    CHECK((spec.scope == KeyScope::global_only) == global_part);
    Setting d = default_setting(spec);
    CHECK(d.is_set == (spec.default_value != nullptr));
    if (d.is_set) CHECK_FALSE(std::holds_alternative<std::monostate>(d.typed));
  }
}

TEST_CASE("grammar keys are parsed once at load time into typed values", "[config]") {
  test::TempDir dir;
  auto r = load_text(dir,
                     "retention_policy = \"RECOVERY WINDOW OF 2 WEEKS\"\n"
                     "last_backup_maximum_age = \"1 DAYS\"\n"
                     "backup_schedule = \"daily 02:30\"\n"
                     "receive_wal_backoff_limit = \"2min\"\n"
                     "compression = \"zstd\"\ncompression_level = 7\n");
  REQUIRE(r);
  const ServerConfig& s = *r->find_server("main");
  REQUIRE(s.retention_policy());
  CHECK(s.retention_policy()->kind == RetentionPolicy::Kind::window);
  CHECK(s.retention_policy()->window == std::chrono::hours(14 * 24));
  CHECK(s.last_backup_maximum_age() == std::chrono::hours(24));
  REQUIRE(s.backup_schedule());
  CHECK(s.backup_schedule()->minute_of_day == 150);
  CHECK(s.receive_wal_backoff_limit() == std::chrono::seconds(120));
  CHECK(s.compression_level() == 7);
  // show-servers shows what was written, not the parsed form.
  CHECK(value_to_string(s.get(Key::receive_wal_backoff_limit).value) == "2min");
}

TEST_CASE("keys without a value read as none, and integers as durations are seconds", "[config]") {
  test::TempDir dir;
  auto r = load_text(dir, "receive_wal_backoff_limit = 30\n");
  REQUIRE(r);
  const ServerConfig& s = *r->find_server("main");
  CHECK_FALSE(s.retention_policy());
  CHECK_FALSE(s.last_backup_maximum_age());
  CHECK_FALSE(s.backup_schedule());
  CHECK_FALSE(s.compression_level());
  CHECK_FALSE(s.has(Key::primary_ssh_command));
  CHECK(s.primary_ssh_command().empty());
  CHECK(s.receive_wal_backoff_limit() == std::chrono::seconds(30));
  CHECK(r->home() == dir / "home");
  CHECK(r->lock_directory() == dir / "home");
}

TEST_CASE("a setting whose typed value does not match its accessor fails loudly", "[config]") {
  Setting wrong{std::string("REDUNDANCY 2"), Source{}, true, std::string("REDUNDANCY 2")};
  CHECK_THROWS_AS(read_setting<std::optional<RetentionPolicy>>(wrong), std::bad_variant_access);
  Setting unset;
  CHECK_FALSE(read_setting<std::optional<RetentionPolicy>>(unset));
}
