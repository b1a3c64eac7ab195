#include "catalog/retention.h"

#include <algorithm>

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

void apply_window(Duration window, int minimum_redundancy, std::time_t now,
                  const std::vector<const RetentionInput*>& done, std::map<std::string, std::string>& out) {
  std::time_t point = now - window.count();  // point of recoverability
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

// Keeps every parent chain that a backup still kept needs.
void keep_chains(const std::vector<RetentionInput>& backups, std::map<std::string, std::string>& out) {
  std::map<std::string, const RetentionInput*> by_id;
  for (const auto& b : backups) by_id[b.id] = &b;
  for (const auto& b : backups) {
    if (out[b.id] == "OBSOLETE" || b.status == BackupStatus::failed) continue;
    size_t steps = 0;
    for (auto p = by_id.find(b.parent); p != by_id.end() && steps++ < backups.size(); p = by_id.find(p->second->parent))
      if (out[p->first] == "OBSOLETE") out[p->first] = "VALID";
  }
}

}  // namespace

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
    apply_window(policy->window, minimum_redundancy, now, done, out);
  keep_chains(backups, out);
  return out;
}

}  // namespace cellar::catalog
