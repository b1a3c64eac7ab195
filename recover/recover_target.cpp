#include "recover/recover_target.h"

#include <cctype>
#include <cstdio>

namespace cellar::recover {
namespace {

bool all_digits(const std::string& s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos; }

// "Z", "+HH", "+HH:MM", "+HHMM" (or '-') → seconds east of UTC.
std::optional<long> parse_zone(const std::string& z) {
  if (z == "Z" || z == "z") return 0L;
  if (z.size() < 3 || (z[0] != '+' && z[0] != '-')) return std::nullopt;
  std::string digits;
  for (size_t i = 1; i < z.size(); ++i) {
    if (z[i] == ':' && i == 3) continue;
    digits += z[i];
  }
  if (!all_digits(digits) || (digits.size() != 2 && digits.size() != 4)) return std::nullopt;
  long h = std::stol(digits.substr(0, 2));
  long m = digits.size() == 4 ? std::stol(digits.substr(2)) : 0;
  if (h > 15 || m > 59) return std::nullopt;
  long off = h * 3600 + m * 60;
  return z[0] == '-' ? -off : off;
}

Result<TargetTime> check_time(const RecoveryTarget& target, const catalog::BackupInfo& info, PreparedTarget& out) {
  auto t = parse_target_time(target.value);
  if (!t)
    return Status::usage("invalid --target-time \"" + target.value + "\"",
                         "use \"YYYY-MM-DD HH:MM:SS[.ffffff][+HH:MM]\", e.g. \"2026-11-22 10:08:10+01:00\"");
  if (!t->had_zone)
    out.warnings.push_back("no time zone was given with --target-time: the time zone of this host was assumed");
  const auto& end = info.end_time;
  if (end && t->epoch < end->epoch)
    return Status::usage("the requested target time " + target.value + " is before the end time " +
                             catalog::format_timestamp(*end) + " of backup " + info.backup_id,
                         "choose a later target time, or an older backup");
  return *t;
}

Status check_lsn(const RecoveryTarget& target, const catalog::BackupInfo& info, PreparedTarget& out) {
  auto lsn = pg::parse_lsn(target.value);
  if (!lsn) return Status::usage("invalid --target-lsn \"" + target.value + "\"", "use an LSN such as 0/16B3748");
  auto end = pg::parse_lsn(info.end_xlog);
  if (end && *lsn < *end)
    return Status::usage("the requested target LSN " + target.value + " is before the end LSN " + info.end_xlog +
                             " of backup " + info.backup_id,
                         "choose a later target LSN, or an older backup");
  out.lsn = *lsn;
  return Status::ok();
}

// The recovery_target* setting of the target itself.
Result<RecoverySetting> target_setting(const RecoveryTarget& target, const catalog::BackupInfo& info,
                                       PreparedTarget& out) {
  switch (target.kind) {
    case TargetKind::time: {
      auto t = check_time(target, info, out);
      if (!t) return t.status();
      return RecoverySetting{"recovery_target_time", format_target_time(*t)};
    }
    case TargetKind::xid:
      if (!all_digits(target.value))
        return Status::usage("invalid --target-xid \"" + target.value + "\"", "use a transaction id such as 7458");
      return RecoverySetting{"recovery_target_xid", target.value};
    case TargetKind::lsn:
      if (Status st = check_lsn(target, info, out); !st) return st;
      return RecoverySetting{"recovery_target_lsn", target.value};
    case TargetKind::name:
      if (target.value.empty()) return Status::usage("--target-name needs the name of a restore point");
      return RecoverySetting{"recovery_target_name", target.value};
    case TargetKind::immediate:
      out.immediate = true;
      return RecoverySetting{"recovery_target", "immediate"};
    case TargetKind::none:
      break;
  }
  return RecoverySetting{};
}

Status check_options(const RecoveryTarget& target) {
  bool pitr = target.kind != TargetKind::none;
  if (!target.action.empty() && target.action != "pause" && target.action != "promote" && target.action != "shutdown")
    return Status::usage("invalid --target-action \"" + target.action + "\"", "use pause, promote or shutdown");
  if (!target.action.empty() && !pitr)
    return Status::usage("--target-action needs a recovery target",
                         "add --target-time, --target-xid, --target-lsn, --target-name or --target-immediate");
  bool inclusive_kind =
      target.kind == TargetKind::time || target.kind == TargetKind::xid || target.kind == TargetKind::lsn;
  if (target.exclusive && !inclusive_kind)
    return Status::usage("--exclusive needs --target-time, --target-xid or --target-lsn");
  const std::string& tli = target.tli;
  if (!tli.empty() && tli != "latest" && tli != "current" &&
      (!all_digits(tli) || tli.size() > 9 || std::stoul(tli) == 0))
    return Status::usage("invalid --target-tli \"" + tli + "\"", "use a timeline number, current or latest");
  return Status::ok();
}

}  // namespace

Result<PreparedTarget> prepare_target(const RecoveryTarget& target, const catalog::BackupInfo& info) {
  if (Status st = check_options(target); !st) return st;
  PreparedTarget out;
  auto main = target_setting(target, info, out);
  if (!main) return main.status();
  if (!main->first.empty()) out.settings.push_back(*main);
  if (target.kind == TargetKind::time || target.kind == TargetKind::xid || target.kind == TargetKind::lsn)
    out.settings.push_back({"recovery_target_inclusive", target.exclusive ? "off" : "on"});
  out.settings.push_back({"recovery_target_timeline", target.tli.empty() ? "latest" : target.tli});
  if (all_digits(target.tli)) out.tli = static_cast<pg::TimeLineId>(std::stoul(target.tli));
  if (!target.action.empty()) out.settings.push_back({"recovery_target_action", target.action});
  return out;
}

std::optional<TargetTime> parse_target_time(const std::string& text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, used = 0;
  char sep = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d%n", &y, &mo, &d, &sep, &h, &mi, &s, &used) != 7) return {};
  if ((sep != ' ' && sep != 'T') || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return {};
  TargetTime t;
  std::string rest = text.substr(static_cast<size_t>(used));
  if (!rest.empty() && rest[0] == '.') {
    size_t n = 1;
    while (n < rest.size() && std::isdigit(static_cast<unsigned char>(rest[n]))) ++n;
    t.fraction = rest.substr(1, n - 1);
    if (t.fraction.empty() || t.fraction.size() > 9) return {};
    rest = rest.substr(n);
  }
  while (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
  std::tm tm{};
  tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d, tm.tm_hour = h, tm.tm_min = mi, tm.tm_sec = s;
  if (rest.empty()) {
    tm.tm_isdst = -1;
    t.epoch = std::mktime(&tm);
    return t;
  }
  auto off = parse_zone(rest);
  if (!off) return {};
  t.had_zone = true;
  t.epoch = timegm(&tm) - *off;
  return t;
}

std::string format_target_time(const TargetTime& t) {
  std::string text = catalog::format_time(t.epoch);  // "YYYY-MM-DD HH:MM:SS+HH:MM"
  if (!t.fraction.empty()) text.insert(19, "." + t.fraction);
  return text;
}

}  // namespace cellar::recover
