// The value grammars of config/grammar.h, table-driven: every accepted shape
// with the value it means, then near misses that must be rejected (leveldb
// filename_test style).
#include "config/grammar.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace cellar;
using Catch::Matchers::Contains;

namespace {
constexpr int64_t kMinute = 60, kHour = 3600, kDay = 86400;
}

TEST_CASE("durations are seconds, a number and a unit, or Barman's 'n UNITS'", "[config]") {
  const std::vector<std::pair<std::string, int64_t>> valid = {
      {"0", 0},
      {"10", 10},
      {"10s", 10},
      {"10 s", 10},
      {"1 second", 1},
      {"90 SECONDS", 90},
      {"5min", 5 * kMinute},
      {"5 mins", 5 * kMinute},
      {"30 MINUTES", 30 * kMinute},
      {"1 minute", kMinute},
      {"2h", 2 * kHour},
      {"12 HOURS", 12 * kHour},
      {"1 hour", kHour},
      {"1d", kDay},
      {"1 DAYS", kDay},
      {"1 day", kDay},
      {"2w", 14 * kDay},
      {"2 WEEKS", 14 * kDay},
      {"1 MONTH", 31 * kDay},
      {"6 months", 6 * 31 * kDay},
      {"  7 Days\t", 7 * kDay},
      {"9999999999", 9999999999},
  };
  for (const auto& [text, seconds] : valid) {
    INFO("'" << text << "'");
    auto d = parse_duration(text);
    REQUIRE(d);
    CHECK(d->count() == seconds);
  }
}

TEST_CASE("near misses of a duration are rejected with the shape it must have", "[config]") {
  const std::vector<std::string> invalid = {
      "",       "   ",     "s",     "DAYS",    "-1d",        "+1d",         "1.5h", "1,5h",
      "1 DAYZ", "1 dayss", "1d2h",  "1 d 2 h", "1 DAYS ago", "10 s s",      "0x10", "one day",
      "1 YEAR", "1 ms",    "1_000", "10\"s",   "1 hour.",    "99999999999", "d1",   "1 1",
  };
  for (const auto& text : invalid) {
    INFO("'" << text << "'");
    auto d = parse_duration(text);
    REQUIRE_FALSE(d);
    CHECK(d.status().code() == ErrorCode::usage);
    CHECK_THAT(d.status().message(), Contains("must be a duration"));
  }
  // "m" could be minutes or months: refused with both spellings to choose from.
  for (const char* text : {"5m", "5 m", "5 M"}) {
    INFO(text);
    auto d = parse_duration(text);
    REQUIRE_FALSE(d);
    CHECK_THAT(d.status().message(), Contains("\"min\"") && Contains("\"months\""));
  }
}

TEST_CASE("retention policies parse like Barman's into a count or a window", "[config]") {
  struct Case {
    std::string text;
    RetentionPolicy::Kind kind;
    int count;
    int64_t window_seconds;
    std::string normalised;
  };
  using K = RetentionPolicy::Kind;
  const std::vector<Case> valid = {
      {"REDUNDANCY 2", K::redundancy, 2, 0, "REDUNDANCY 2"},
      {"redundancy 1", K::redundancy, 1, 0, "REDUNDANCY 1"},
      {"  REDUNDANCY\t10 ", K::redundancy, 10, 0, "REDUNDANCY 10"},
      {"RECOVERY WINDOW OF 2 WEEKS", K::window, 2, 14 * kDay, "RECOVERY WINDOW OF 2 WEEKS"},
      {" recovery window of 2 weeks ", K::window, 2, 14 * kDay, "RECOVERY WINDOW OF 2 WEEKS"},
      {"RECOVERY WINDOW OF 1 DAY", K::window, 1, kDay, "RECOVERY WINDOW OF 1 DAYS"},
      {"RECOVERY WINDOW OF 30 DAYS", K::window, 30, 30 * kDay, "RECOVERY WINDOW OF 30 DAYS"},
      {"RECOVERY WINDOW OF 1 MONTH", K::window, 1, 31 * kDay, "RECOVERY WINDOW OF 1 MONTHS"},
      {"Recovery Window Of 6 Months", K::window, 6, 6 * 31 * kDay, "RECOVERY WINDOW OF 6 MONTHS"},
  };
  for (const auto& c : valid) {
    INFO("'" << c.text << "'");
    auto p = parse_retention_policy(c.text);
    REQUIRE(p);
    CHECK(p->kind == c.kind);
    CHECK(p->count == c.count);
    CHECK(p->window.count() == c.window_seconds);
    CHECK(p->text == c.normalised);
  }
}

TEST_CASE("near misses of a retention policy are rejected", "[config]") {
  const std::vector<std::string> invalid = {
      "",
      "REDUNDANCY",
      "REDUNDANCY 0",
      "REDUNDANCY -1",
      "REDUNDANCY two",
      "REDUNDANCY 2 3",
      "REDUNDANCY 1234567890",
      "REDUNDANCY2",
      "KEEP 3",
      "RECOVERY WINDOW 2 WEEKS",
      "RECOVERY WINDOW OF 2",
      "RECOVERY WINDOW OF 0 DAYS",
      "RECOVERY WINDOW OF 2 YEARS",
      "RECOVERY WINDOW OF 3 HOURS",
      "RECOVERY WINDOW OF 2w",
      "RECOVERY WINDOW OF 2 WEEKSS",
      "RECOVERY WINDOW OF two WEEKS",
      "WINDOW OF 2 WEEKS",
      "RECOVERY WINDOW OF 2 WEEKS AGO",
  };
  for (const auto& text : invalid) {
    INFO("'" << text << "'");
    auto p = parse_retention_policy(text);
    REQUIRE_FALSE(p);
    CHECK(p.status().code() == ErrorCode::usage);
    CHECK_THAT(p.status().message(), Contains("REDUNDANCY n") && Contains("RECOVERY WINDOW OF n"));
  }
}

TEST_CASE("backup schedules are a daily time or an interval of at least a minute", "[config]") {
  auto daily = parse_schedule("daily 02:30");
  REQUIRE(daily);
  CHECK(daily->kind == Schedule::Kind::daily);
  CHECK(daily->minute_of_day == 150);
  CHECK(parse_schedule("DAILY 00:00")->minute_of_day == 0);
  CHECK(parse_schedule(" daily  23:59 ")->minute_of_day == 23 * 60 + 59);
  const std::vector<std::pair<std::string, int64_t>> intervals = {
      {"6 HOURS", 6 * kHour}, {"1 minute", kMinute}, {"30min", 30 * kMinute},
      {"2 days", 2 * kDay},   {"1w", 7 * kDay},      {"3600", kHour},
  };
  for (const auto& [text, seconds] : intervals) {
    INFO(text);
    auto s = parse_schedule(text);
    REQUIRE(s);
    CHECK(s->kind == Schedule::Kind::interval);
    CHECK(s->interval.count() == seconds);
  }
}

TEST_CASE("near misses of a backup schedule are rejected", "[config]") {
  const std::vector<std::string> invalid = {
      "",
      "daily",
      "daily 2:30",
      "daily 02:3",
      "daily 24:00",
      "daily 02:60",
      "daily 0230",
      "daily 02-30",
      "daily 02:30 03:30",
      "weekly 02:00",
      "hourly",
      "02:00",
      "0 HOURS",
      "59s",
      "30",
      "1 DAYZ",
      "daily -1:00",
  };
  for (const auto& text : invalid) {
    INFO("'" << text << "'");
    auto s = parse_schedule(text);
    REQUIRE_FALSE(s);
    CHECK_THAT(s.status().message(), Contains("daily HH:MM"));
  }
}

TEST_CASE("repository locations parse into local, path and s3, and near misses are refused", "[config]") {
  CHECK(parse_repository("local")->kind == RepositoryLocation::Kind::local);
  auto path = parse_repository("/mnt/nfs/cellar/");
  REQUIRE(path);
  CHECK(path->kind == RepositoryLocation::Kind::path);
  CHECK(path->path == "/mnt/nfs/cellar");
  auto bare = parse_repository("s3://my-bucket");
  REQUIRE(bare);
  CHECK(bare->kind == RepositoryLocation::Kind::s3);
  CHECK(bare->bucket == "my-bucket");
  CHECK(bare->prefix.empty());
  auto prefixed = parse_repository("s3://my.bucket/a/b/");
  REQUIRE(prefixed);
  CHECK(prefixed->bucket == "my.bucket");
  CHECK(prefixed->prefix == "a/b");
  for (const char* bad :
       {"", "Local", "relative/path", "/a/../b", "s3://", "s3://ab", "s3://Upper", "s3://-bucket", "s3://bucket-/x",
        "s3://b_k_t", "s3://bucket//x", "s3://bucket/a/../b", "s3://bucket/./x", "gs://bucket", "S3://bucket"}) {
    INFO(bad);
    auto r = parse_repository(bad);
    CHECK_FALSE(r);
    if (!r) CHECK(r.status().code() == ErrorCode::usage);
  }
}
