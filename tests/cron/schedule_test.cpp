// backup_schedule: when a backup is due (pure functions); the grammar is
// tested with the configuration (tests/config/grammar_test.cpp).
#include <catch2/catch.hpp>
#include <ctime>

#include "config/grammar.h"
#include "cron/maintenance.h"

using namespace cellar;
using namespace cellar::cron;

namespace {
// Local time today (or `days` later) at HH:MM:SS.
std::time_t at(int hour, int minute, int second = 0, int days = 0) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&now, &tm);
  tm.tm_mday += days;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  tm.tm_isdst = -1;
  return std::mktime(&tm);
}
}  // namespace

TEST_CASE("an interval schedule is due when no backup exists or the last one began that long ago", "[cron]") {
  Schedule s = *parse_schedule("6 HOURS");
  std::time_t now = at(12, 0);
  CHECK(backup_due(s, std::nullopt, now));
  CHECK_FALSE(backup_due(s, now - 5 * 3600, now));
  CHECK(backup_due(s, now - 6 * 3600, now));
}

TEST_CASE("a daily schedule is due once per day after its time, catching up a missed slot once", "[cron]") {
  Schedule s = *parse_schedule("daily 02:00");
  CHECK(backup_due(s, std::nullopt, at(1, 0)));
  // Before today's slot, yesterday's slot counts.
  CHECK_FALSE(backup_due(s, at(2, 5, 0, -1), at(1, 59)));
  CHECK(backup_due(s, at(1, 0, 0, -1), at(1, 59)));
  // After today's slot: due until a backup began after 02:00 today.
  CHECK(backup_due(s, at(2, 5, 0, -1), at(2, 0)));
  CHECK(backup_due(s, at(1, 59, 59), at(2, 1)));
  CHECK_FALSE(backup_due(s, at(2, 0, 30), at(2, 1)));
  CHECK_FALSE(backup_due(s, at(2, 0, 30), at(23, 59)));
}
