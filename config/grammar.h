// The grammars of configuration values that are more than a word: durations,
// retention policies and backup schedules. Each is parsed here once, when the
// configuration is loaded (keys.h says which key uses which), into the typed
// value that catalog/, check/ and cron/ then use; nothing else parses them.
// Command-line options with the same meaning (e.g. a --ttl) use the same
// parsers. Words are case-insensitive and white space around a value is
// ignored. A failure is a usage error whose message says what the value must
// be ("must be ..."), for the caller to put after the key or option name.
//
// Shapes owned here:
//   duration   N            N seconds (N: 1-10 digits, no sign, no point)
//              N UNIT       also without the space: "10s", "5min", "1 DAYS"
//              UNIT         s sec secs second seconds | min mins minute minutes
//                           | h hour hours | d day days | w week weeks
//                           | month months (31 days, as Barman's windows)
//              ("m" alone is refused: minutes or months?)
//   retention  REDUNDANCY N                       N >= 1
//              RECOVERY WINDOW OF N DAY[S]|WEEK[S]|MONTH[S]   N >= 1
//   schedule   daily HH:MM                        local time, 00:00-23:59
//              DURATION                           an interval of at least 1 minute
//   repository local                              under home (SPEC §3)
//              /ABSOLUTE/PATH                     the same layout under PATH/<server>/
//              s3://BUCKET[/PREFIX]               objects under PREFIX/<server>/; BUCKET as S3
//                                                 names buckets (3-63 of a-z 0-9 . -), PREFIX
//                                                 without empty, "." or ".." components
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace cellar {

using Duration = std::chrono::seconds;
// A list value: a TOML array of strings, or one string (a list of one).
using StringList = std::vector<std::string>;

Result<Duration> parse_duration(std::string_view text);

struct RetentionPolicy {
  enum class Kind { redundancy, window } kind = Kind::redundancy;
  int count = 0;       // REDUNDANCY n, or the n of the window
  Duration window{0};  // RECOVERY WINDOW length (n units)
  std::string text;    // normalised: "REDUNDANCY 2", "RECOVERY WINDOW OF 2 WEEKS"
};

Result<RetentionPolicy> parse_retention_policy(std::string_view text);

struct Schedule {
  enum class Kind { daily, interval } kind = Kind::interval;
  int minute_of_day = 0;  // daily: HH * 60 + MM, local time
  Duration interval{0};   // interval: at least one minute
};

Result<Schedule> parse_schedule(std::string_view text);

struct RepositoryLocation {
  enum class Kind { local, path, s3 } kind = Kind::local;
  std::string path;    // path: the absolute directory
  std::string bucket;  // s3
  std::string prefix;  // s3: "" or "a/b", no leading or trailing '/'
};

// Case-sensitive (bucket names and paths are).
Result<RepositoryLocation> parse_repository(std::string_view text);

}  // namespace cellar
