// Server names (SPEC §5.3) and backup ids: every accepted shape and a list of
// near misses that must be rejected (leveldb filename_test style).
#include "config/names.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>
#include <vector>

using namespace cellar;
using Catch::Matchers::Contains;

TEST_CASE("valid server names are accepted", "[config]") {
  const std::vector<std::string> valid = {
      "main",
      "main-2",
      "db.prod_1",
      "pg-sync",
      "20240101T000000",
      "_x",
      "a",
      "A9",
      "x.",
      "x-",
      "all2",
      "allx",
      "global-db",
      "cellar1",
      "db-20240101T000000",
      "db-20240101T000000-sync2",
      std::string(64, 'z'),
  };
  for (const auto& name : valid) {
    INFO(name);
    CHECK(validate_server_name(name).is_ok());
    CHECK(is_valid_server_name(name));
  }
}

TEST_CASE("invalid server names are rejected with the reason and a hint", "[config]") {
  struct Case {
    std::string name;
    const char* why;
  };
  const std::vector<Case> invalid = {
      {"", "empty"},
      {"../x", "character '/'"},
      {"..", "starts with '.'"},
      {"a/b", "character '/'"},
      {".hidden", "starts with '.'"},
      {"-x", "starts with '-'"},
      {"all", "reserved"},
      {"global", "reserved"},
      {"cellar", "reserved"},
      {std::string(65, 'a'), "longer than 64"},
      {"db-20240101T000000-sync", "ambiguous"},
      {"x-19991231T235959-sync", "ambiguous"},
      {"a b", "character ' '"},
      {"db\n", "character '\n'"},
      {std::string("a\0b", 3), "character"},
      {"ma$in", "character '$'"},
      {"mäin", "character"},
  };
  for (const auto& c : invalid) {
    INFO(c.name);
    Status st = validate_server_name(c.name);
    REQUIRE_FALSE(st.is_ok());
    CHECK(st.code() == ErrorCode::usage);
    CHECK_THAT(st.message(), Contains("invalid server name") && Contains(c.why));
    CHECK_FALSE(st.hint().empty());
    CHECK_FALSE(is_valid_server_name(c.name));
  }
}

TEST_CASE("backup ids are 8 digits, T, 6 digits", "[config]") {
  for (const char* id : {"20240101T000000", "19991231T235959", "00000000T000000"}) {
    INFO(id);
    CHECK(is_backup_id(id));
  }
  for (const char* id :
       {"", "20240101T00000", "20240101T0000000", "20240101t000000", "20240101-000000", "2024010AT000000",
        "20240101T00000a", "20240101 000000", "latest", "20240101T000000.", "/0240101T000000"}) {
    INFO(id);
    CHECK_FALSE(is_backup_id(id));
  }
}

TEST_CASE("make_backup_id formats the local start time", "[config]") {
  const char* saved = std::getenv("TZ");
  std::string saved_value = saved ? saved : "";
  ::setenv("TZ", "UTC0", 1);
  ::tzset();
  CHECK(make_backup_id(1704067200) == "20240101T000000");
  CHECK(make_backup_id(1718454645) == "20240615T123045");
  ::setenv("TZ", "CET-1", 1);
  ::tzset();
  CHECK(make_backup_id(1704067200) == "20240101T010000");
  if (saved)
    ::setenv("TZ", saved_value.c_str(), 1);
  else
    ::unsetenv("TZ");
  ::tzset();
  CHECK(is_backup_id(make_backup_id(std::time(nullptr))));
}
