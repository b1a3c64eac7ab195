#include "config/grammar.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <vector>

namespace cellar {
namespace {

constexpr int64_t kDay = 86400;

const char* const kDurationShape =
    "must be a duration: a number of seconds, or a number and a unit (s, min, h, d, w, months), "
    "e.g. \"30s\", \"5min\", \"2h\", \"1 DAYS\"";
const char* const kRetentionShape =
    "must be \"REDUNDANCY n\" or \"RECOVERY WINDOW OF n DAYS|WEEKS|MONTHS\" (n at least 1)";
const char* const kScheduleShape =
    "must be \"daily HH:MM\" or an interval of at least 1 minute, e.g. \"6 HOURS\" or \"30min\"";

// Lowercased words separated by spaces or tabs.
std::vector<std::string> words_of(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  for (char c : text) {
    if (c == ' ' || c == '\t') {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
    } else {
      word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

// 1 to `max_digits` decimal digits, nothing else.
std::optional<int64_t> count_of(std::string_view s, size_t max_digits) {
  if (s.empty() || s.size() > max_digits) return std::nullopt;
  int64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

struct Unit {
  const char* name;
  int64_t seconds;
};

constexpr Unit kUnits[] = {
    {"s", 1},        {"sec", 1},         {"secs", 1},         {"second", 1},        {"seconds", 1},
    {"min", 60},     {"mins", 60},       {"minute", 60},      {"minutes", 60},      {"h", 3600},
    {"hour", 3600},  {"hours", 3600},    {"d", kDay},         {"day", kDay},        {"days", kDay},
    {"w", 7 * kDay}, {"week", 7 * kDay}, {"weeks", 7 * kDay}, {"month", 31 * kDay}, {"months", 31 * kDay},
};

std::optional<int64_t> unit_seconds(std::string_view unit) {
  for (const Unit& u : kUnits)
    if (unit == u.name) return u.seconds;
  return std::nullopt;
}

// A duration's number and unit: one word ("10s", "10") or two ("10 s").
std::optional<std::pair<std::string, std::string>> split_duration(const std::vector<std::string>& words) {
  if (words.size() == 2) return std::make_pair(words[0], words[1]);
  if (words.size() != 1) return std::nullopt;
  const std::string& w = words[0];
  size_t digits =
      static_cast<size_t>(std::find_if(w.begin(), w.end(), [](char c) { return c < '0' || c > '9'; }) - w.begin());
  return std::make_pair(w.substr(0, digits), w.substr(digits));
}

Result<RetentionPolicy> window_policy(const std::vector<std::string>& w) {
  auto n = count_of(w[3], 9);
  std::string unit = w[4];
  if (unit.back() == 's') unit.pop_back();
  int64_t days = unit == "day" ? 1 : unit == "week" ? 7 : unit == "month" ? 31 : 0;
  if (!n || *n < 1 || days == 0) return Status::usage(kRetentionShape);
  RetentionPolicy p;
  p.kind = RetentionPolicy::Kind::window;
  p.count = static_cast<int>(*n);
  p.window = Duration(*n * days * kDay);
  std::transform(unit.begin(), unit.end(), unit.begin(), [](char c) { return static_cast<char>(std::toupper(c)); });
  p.text = "RECOVERY WINDOW OF " + std::to_string(p.count) + " " + unit + "S";
  return p;
}

// "HH:MM" → minutes since midnight.
std::optional<int> minute_of_day(const std::string& hhmm) {
  if (hhmm.size() != 5 || hhmm[2] != ':') return std::nullopt;
  auto h = count_of(std::string_view(hhmm).substr(0, 2), 2);
  auto m = count_of(std::string_view(hhmm).substr(3, 2), 2);
  if (!h || !m || *h > 23 || *m > 59) return std::nullopt;
  return static_cast<int>(*h * 60 + *m);
}

}  // namespace

Result<Duration> parse_duration(std::string_view text) {
  auto parts = split_duration(words_of(text));
  if (!parts) return Status::usage(kDurationShape);
  auto n = count_of(parts->first, 10);
  if (parts->second == "m")
    return Status::usage("must not use the unit \"m\": write \"min\" for minutes or \"months\" for months");
  auto per = parts->second.empty() ? std::optional<int64_t>(1) : unit_seconds(parts->second);
  if (!n || !per) return Status::usage(kDurationShape);
  return Duration(*n * *per);
}

Result<RetentionPolicy> parse_retention_policy(std::string_view text) {
  std::vector<std::string> w = words_of(text);
  if (w.size() == 2 && w[0] == "redundancy") {
    auto n = count_of(w[1], 9);
    if (!n || *n < 1) return Status::usage(kRetentionShape);
    RetentionPolicy p;
    p.count = static_cast<int>(*n);
    p.text = "REDUNDANCY " + std::to_string(p.count);
    return p;
  }
  if (w.size() == 5 && w[0] == "recovery" && w[1] == "window" && w[2] == "of") return window_policy(w);
  return Status::usage(kRetentionShape);
}

Result<Schedule> parse_schedule(std::string_view text) {
  std::vector<std::string> w = words_of(text);
  Schedule s;
  if (!w.empty() && w[0] == "daily") {
    auto minute = w.size() == 2 ? minute_of_day(w[1]) : std::nullopt;
    if (!minute) return Status::usage(kScheduleShape);
    s.kind = Schedule::Kind::daily;
    s.minute_of_day = *minute;
    return s;
  }
  auto every = parse_duration(text);
  if (!every || *every < std::chrono::minutes(1)) return Status::usage(kScheduleShape);
  s.interval = *every;
  return s;
}

namespace {

constexpr const char* kRepositoryShape = "must be \"local\", an absolute path or \"s3://BUCKET[/PREFIX]\"";

bool valid_bucket(std::string_view b) {
  if (b.size() < 3 || b.size() > 63) return false;
  for (char c : b)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) return false;
  return b.front() != '.' && b.front() != '-' && b.back() != '.' && b.back() != '-';
}

bool valid_prefix(std::string_view p) {
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find('/', start);
    if (end == std::string_view::npos) end = p.size();
    std::string_view part = p.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    for (char c : part)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
    start = end + 1;
  }
  return true;
}

}  // namespace

Result<RepositoryLocation> parse_repository(std::string_view text) {
  RepositoryLocation loc;
  if (text == "local") return loc;
  if (!text.empty() && text[0] == '/') {
    if (text.find("/../") != std::string_view::npos || text.ends_with("/..")) return Status::usage(kRepositoryShape);
    loc.kind = RepositoryLocation::Kind::path;
    loc.path = std::string(text);
    while (loc.path.size() > 1 && loc.path.back() == '/') loc.path.pop_back();
    return loc;
  }
  if (!text.starts_with("s3://")) return Status::usage(kRepositoryShape);
  std::string_view rest = text.substr(5);
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  size_t slash = rest.find('/');
  std::string_view bucket = rest.substr(0, slash);
  std::string_view prefix = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  if (!valid_bucket(bucket))
    return Status::usage("must name a valid bucket in \"s3://BUCKET[/PREFIX]\" (3-63 of a-z, 0-9, '.' and '-')");
  if (!prefix.empty() && !valid_prefix(prefix))
    return Status::usage("must have a prefix without empty, \".\" or \"..\" components");
  loc.kind = RepositoryLocation::Kind::s3;
  loc.bucket = std::string(bucket);
  loc.prefix = std::string(prefix);
  return loc;
}

}  // namespace cellar
