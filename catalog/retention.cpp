#include "catalog/retention.h"

#include <algorithm>
#include <regex>

namespace cellar::catalog {
namespace {

std::string keep_status(const std::string& keep) {
  if (keep.empty()) return "";
  return keep == "standalone" ? "KEEP:STANDALONE" : "KEEP:FULL";
}

void apply_redundancy(int n, const std::vector<const RetentionInput*>& done, std::map<std::string, std::string>& out) {
  int seen = 0;
  for (const auto* b : done) {
    ++seen;
    std::string kept = keep_status(b->keep);
    out[b->id] = !kept.empty() ? kept : seen <= n ? "VALID" : "OBSOLETE";
  }
}

void apply_window(int64_t seconds, int minimum_redundancy, std::time_t now,
                  const std::vector<const RetentionInput*>& done, std::map<std::string, std::string>& out) {
  std::time_t point = now - seconds;  // point of recoverability
  bool found = false;
  int valid = 0;
  for (const auto* b : done) {
    std::string kept = keep_status(b->keep);
    std::string st;
    if (!found) {
      st = "VALID";
      if (b->end_time < point) found = true;  // the newest one before the PoR is still needed
    } else {
      st = valid < minimum_redundancy ? "OBSOLETE*" : "OBSOLETE";
    }
    if (st != "OBSOLETE") ++valid;
    out[b->id] = kept.empty() ? st : kept;
  }
}

}  // namespace

Result<std::optional<RetentionPolicy>> parse_retention_policy(const std::string& text) {
  if (text.find_first_not_of(" \t") == std::string::npos) return std::optional<RetentionPolicy>{};
  std::smatch m;
  static const std::regex redundancy(R"(^\s*redundancy\s+(\d+)\s*$)", std::regex::icase);
  static const std::regex window(R"(^\s*recovery\s+window\s+of\s+(\d+)\s+(day|month|week)s?\s*$)", std::regex::icase);
  RetentionPolicy p;
  if (std::regex_match(text, m, redundancy)) {
    p.count = std::stoi(m[1]);
    if (p.count < 1) return Status::usage("invalid retention_policy \"" + text + "\": REDUNDANCY must be at least 1");
    p.text = "REDUNDANCY " + std::to_string(p.count);
    return std::optional<RetentionPolicy>(p);
  }
  if (std::regex_match(text, m, window)) {
    p.kind = RetentionPolicy::Kind::window;
    p.count = std::stoi(m[1]);
    std::string unit = m[2];
    std::transform(unit.begin(), unit.end(), unit.begin(), ::tolower);
    int64_t days = unit == "day" ? 1 : unit == "week" ? 7 : 31;
    p.seconds = p.count * days * 86400;
    std::transform(unit.begin(), unit.end(), unit.begin(), ::toupper);
    p.text = "RECOVERY WINDOW OF " + std::to_string(p.count) + " " + unit + "S";
    return std::optional<RetentionPolicy>(p);
  }
  return Status::usage("invalid retention_policy \"" + text + "\"",
                       "use \"REDUNDANCY n\" or \"RECOVERY WINDOW OF n DAYS|WEEKS|MONTHS\"");
}

std::map<std::string, std::string> retention_report(const std::optional<RetentionPolicy>& policy,
                                                    int minimum_redundancy, std::time_t now,
                                                    const std::vector<RetentionInput>& backups) {
  std::map<std::string, std::string> out;
  std::vector<const RetentionInput*> done;
  for (const auto& b : backups) {
    out[b.id] = "-";
    if (b.status == BackupStatus::done) done.push_back(&b);
  }
  std::sort(done.begin(), done.end(), [](auto* a, auto* b) { return a->id > b->id; });  // newest first
  if (!policy) {
    for (const auto* b : done)
      if (!b->keep.empty()) out[b->id] = keep_status(b->keep);
    return out;
  }
  if (policy->kind == RetentionPolicy::Kind::redundancy)
    apply_redundancy(std::max(policy->count, minimum_redundancy), done, out);
  else
    apply_window(policy->seconds, minimum_redundancy, now, done, out);
  return out;
}

}  // namespace cellar::catalog
