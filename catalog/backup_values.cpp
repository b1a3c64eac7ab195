#include "catalog/backup_values.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <string_view>

namespace cellar::catalog {
namespace {

struct StatusText {
  BackupStatus status;
  const char* text;
};

constexpr StatusText kStatusTexts[] = {
    {BackupStatus::empty, "EMPTY"},
    {BackupStatus::started, "STARTED"},
    {BackupStatus::waiting_for_wals, "WAITING_FOR_WALS"},
    {BackupStatus::done, "DONE"},
    {BackupStatus::failed, "FAILED"},
    {BackupStatus::syncing, "SYNCING"},
};

// A cursor over a value being parsed: each step consumes what it matched.
struct Cursor {
  const std::string& s;
  size_t pos = 0;

  bool take(std::string_view literal) {
    if (s.compare(pos, literal.size(), literal) != 0) return false;
    pos += literal.size();
    return true;
  }
  // Exactly `n` decimal digits.
  bool digits(size_t n, int& out) {
    if (pos + n > s.size()) return false;
    int v = 0;
    for (size_t i = 0; i < n; ++i) {
      char c = s[pos + i];
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    out = v;
    pos += n;
    return true;
  }
  // Everything up to `mark` (consumed too), which may not hold a quote.
  bool until(std::string_view mark, std::string& out) {
    size_t end = s.find(mark, pos);
    if (end == std::string::npos) return false;
    out = s.substr(pos, end - pos);
    pos = end + mark.size();
    return out.find('\'') == std::string::npos;
  }
  bool at_end() const { return pos == s.size(); }
};

// The 1 to 6 digits after "." (microseconds at most, as Python writes them).
bool parse_fraction(Cursor& c, std::string& fraction) {
  size_t end = std::min(c.s.find_first_not_of("0123456789", c.pos), c.s.size());
  if (end == c.pos || end - c.pos > 6) return false;
  fraction = c.s.substr(c.pos, end - c.pos);
  c.pos = end;
  return true;
}

// "+HH:MM" / "-HH:MM" as seconds east of UTC.
bool parse_offset(Cursor& c, int32_t& offset) {
  int sign = c.take("+") ? 1 : c.take("-") ? -1 : 0;
  int h = 0, m = 0;
  if (sign == 0 || !c.digits(2, h) || !c.take(":") || !c.digits(2, m) || h > 23 || m > 59) return false;
  offset = sign * (h * 3600 + m * 60);
  return true;
}

// A date that timegm() would not move (no February 30th, no leap second).
bool is_real_date(const std::tm& wanted, std::time_t utc) {
  std::tm back{};
  gmtime_r(&utc, &back);
  return back.tm_mday == wanted.tm_mday && back.tm_mon == wanted.tm_mon && back.tm_sec == wanted.tm_sec;
}

std::optional<Tablespace> parse_tablespace(Cursor& c) {
  Tablespace t;
  std::string oid;
  if (!c.take("('") || !c.until("', ", t.name) || !c.until(", '", oid) || !c.until("')", t.location))
    return std::nullopt;
  auto [end, ec] = std::from_chars(oid.data(), oid.data() + oid.size(), t.oid);
  if (ec != std::errc() || end != oid.data() + oid.size() || oid.empty()) return std::nullopt;
  return t;
}

}  // namespace

std::string status_name(BackupStatus status) {
  for (const auto& s : kStatusTexts)
    if (s.status == status) return s.text;
  return "EMPTY";
}

std::optional<BackupStatus> parse_status(const std::string& text) {
  for (const auto& s : kStatusTexts)
    if (text == s.text) return s.status;
  return std::nullopt;
}

Timestamp Timestamp::local(std::time_t t) {
  std::tm tm{};
  localtime_r(&t, &tm);
  return {t, static_cast<int32_t>(tm.tm_gmtoff), ""};
}

std::string format_timestamp(const Timestamp& t) {
  std::time_t shifted = t.epoch + t.utc_offset;
  std::tm tm{};
  gmtime_r(&shifted, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  std::string out = buf;
  if (!t.fraction.empty()) out += "." + t.fraction;
  int32_t off = t.utc_offset < 0 ? -t.utc_offset : t.utc_offset;
  std::snprintf(buf, sizeof buf, "%c%02d:%02d", t.utc_offset < 0 ? '-' : '+', static_cast<int>(off / 3600),
                static_cast<int>(off % 3600 / 60));
  return out + buf;
}

std::optional<Timestamp> parse_timestamp(const std::string& text) {
  Cursor c{text};
  std::tm tm{};
  int y = 0, mo = 0;
  if (!c.digits(4, y) || !c.take("-") || !c.digits(2, mo) || !c.take("-") || !c.digits(2, tm.tm_mday) || !c.take(" ") ||
      !c.digits(2, tm.tm_hour) || !c.take(":") || !c.digits(2, tm.tm_min) || !c.take(":") || !c.digits(2, tm.tm_sec))
    return std::nullopt;
  if (mo < 1 || mo > 12 || tm.tm_mday < 1 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 59) return std::nullopt;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  Timestamp t;
  if (c.take(".") && !parse_fraction(c, t.fraction)) return std::nullopt;
  if (!c.at_end() && !parse_offset(c, t.utc_offset)) return std::nullopt;
  if (!c.at_end()) return std::nullopt;
  std::tm normalised = tm;  // timegm() rewrites its argument
  std::time_t utc = timegm(&normalised);
  if (!is_real_date(tm, utc)) return std::nullopt;
  t.epoch = utc - t.utc_offset;
  return t;
}

std::string format_time(std::time_t t) { return format_timestamp(Timestamp::local(t)); }

std::string format_ctime(std::time_t t) {
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a %b %d %H:%M:%S %Y", &tm);
  return buf;
}

std::string format_tablespaces(const std::vector<Tablespace>& list) {
  if (list.empty()) return "";
  std::string out = "[";
  for (size_t i = 0; i < list.size(); ++i) {
    if (i) out += ", ";
    out += "('" + list[i].name + "', " + std::to_string(list[i].oid) + ", '" + list[i].location + "')";
  }
  return out + "]";
}

std::optional<std::vector<Tablespace>> parse_tablespaces(const std::string& text) {
  std::vector<Tablespace> out;
  if (text.empty() || text == "[]") return out;
  Cursor c{text};
  if (!c.take("[")) return std::nullopt;
  do {
    auto t = parse_tablespace(c);
    if (!t) return std::nullopt;
    out.push_back(std::move(*t));
  } while (c.take(", "));
  if (!c.take("]") || !c.at_end()) return std::nullopt;
  return out;
}

}  // namespace cellar::catalog
