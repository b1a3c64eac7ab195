#include "recover/recover_chain.h"

#include <map>
#include <optional>
#include <set>

#include "catalog/catalogue.h"
#include "catalog/manifest.h"
#include "common/fs.h"
#include "common/storage.h"
#include "config/layout.h"
#include "incr/incremental_file.h"

namespace cellar::recover {
namespace {

// A backup of a chain, with what its manifest lists.
struct ChainMember {
  std::string id, dir;
  codec::Codec codec = codec::Codec::none;
  std::map<std::string, catalog::ManifestFile> files;  // by manifest path
};

Result<ChainMember> load_member(const std::string& id, const std::string& dir, const std::string& compression) {
  ChainMember m{id, dir, codec::Codec::none, {}};
  auto codec = codec::parse_codec(compression.empty() ? "none" : compression);
  if (!codec) return Status::failed("backup " + id + " has an unknown compression \"" + compression + "\"");
  m.codec = *codec;
  auto text = storage::read_file(storage::root(), layout::backup_manifest_file(dir));
  if (!text) return Status(text.status()).with_hint("a DONE backup has a backup_manifest; verify-backup tells more");
  auto manifest = catalog::parse_manifest(*text);
  if (!manifest) return manifest.status();
  for (auto& f : manifest->files) m.files[f.path] = f;
  return m;
}

// The backup and its parents down to the full backup, newest first.
Result<std::vector<ChainMember>> load_chain(const Config& config, const std::string& server,
                                            const catalog::BackupInfo& backup, const std::string& dir) {
  auto cat = catalog::load_catalogue(config, server);
  if (!cat) return cat.status();
  std::vector<ChainMember> chain;
  auto first = load_member(backup.backup_id, dir, backup.compression);
  if (!first) return first.status();
  chain.push_back(std::move(*first));
  for (catalog::BackupInfo info = backup; info.incremental();) {
    auto parent = std::find_if(cat->backups.begin(), cat->backups.end(),
                               [&](const auto& e) { return e.info.backup_id == info.parent_backup_id; });
    if (parent == cat->backups.end() || parent->status != catalog::BackupStatus::done ||
        chain.size() > cat->backups.size())
      return Status::failed("backup " + info.backup_id + " is incremental and its parent " + info.parent_backup_id +
                                " is not a DONE backup of server '" + server + "'",
                            "restore a full backup or another chain; 'cellar list-backups " + server + "' shows them");
    auto m = load_member(parent->info.backup_id, parent->dir, parent->info.compression);
    if (!m) return m.status();
    chain.push_back(std::move(*m));
    info = parent->info;
  }
  return chain;
}

ChainPart part_of(const ChainMember& m, const catalog::ManifestFile& f) {
  return {catalog::stored_path_of(m.dir, f.path, m.codec), m.codec, f.size,
          f.checksum_algorithm == "CRC32C" ? f.checksum : "", f.unchanged_blocks};
}

// Makes `job`, planned for the newest backup's INCREMENTAL.<name> at
// `path`, restore <name>: the chain's newest whole copy, then every
// incremental since, oldest first.
Status expand_job(const std::vector<ChainMember>& chain, const std::string& path, const std::string& whole,
                  CopyJob& job) {
  std::vector<ChainPart> parts{part_of(chain[0], chain[0].files.at(path))};
  std::optional<ChainPart> base;
  for (size_t k = 1; k < chain.size() && !base; ++k) {
    if (auto w = chain[k].files.find(whole); w != chain[k].files.end())
      base = part_of(chain[k], w->second);
    else if (auto i = chain[k].files.find(path); i != chain[k].files.end())
      parts.push_back(part_of(chain[k], i->second));
    else
      break;
  }
  if (!base || base->unchanged_blocks)
    return Status::failed("the chain of backup " + chain[0].id + " has no whole copy of \"" + whole + "\"",
                          "run 'cellar verify-backup' on it; restore a full backup instead");
  job.src = base->src;
  job.codec = base->codec;
  job.size = base->size;
  job.crc32c = base->crc32c;
  job.incrementals.assign(parts.rbegin(), parts.rend());
  job.dest =
      join_path(dirname_of(job.dest), job.dest.substr(job.dest.rfind('/') + 1 + incr::kIncrementalPrefix.size()));
  return Status::ok();
}

// Where the stored path `stored` is restored, by the plan's roots; its
// directories are added to the plan when it has none of them yet.
std::optional<std::string> restored_path(const std::string& stored, RestorePlan& plan, std::set<std::string>& dirs) {
  for (const auto& [src, dest] : plan.roots) {
    if (stored.compare(0, src.size() + 1, src + "/") != 0) continue;
    std::string out = dest + stored.substr(src.size());
    std::vector<std::string> missing;
    for (std::string d = dirname_of(out); d.size() > dest.size() && !dirs.count(d); d = dirname_of(d))
      missing.push_back(d);
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
      plan.dirs.push_back(*it);
      dirs.insert(*it);
    }
    return out;
  }
  return std::nullopt;
}

// Turns each INCREMENTAL.<name> of the newest backup, stored or unchanged
// (in its manifest only), into a job restoring <name>.
Status expand_chain(const std::vector<ChainMember>& chain, RestorePlan& plan) {
  std::map<std::string, std::string> manifest_path;  // stored path -> manifest path, newest backup
  for (const auto& [path, f] : chain[0].files)
    if (!f.unchanged_blocks) manifest_path[catalog::stored_path_of(chain[0].dir, path, chain[0].codec)] = path;
  for (auto& job : plan.files) {
    auto mp = manifest_path.find(job.src);
    if (mp == manifest_path.end()) continue;
    auto whole = incr::whole_path_of(mp->second);
    if (!whole) continue;
    if (Status st = expand_job(chain, mp->second, *whole, job); !st) return st;
  }
  std::set<std::string> dirs(plan.dirs.begin(), plan.dirs.end());
  for (const auto& [path, f] : chain[0].files) {
    auto whole = incr::whole_path_of(path);
    if (!f.unchanged_blocks || !whole) continue;
    auto dest = restored_path(catalog::stored_path_of(chain[0].dir, path, codec::Codec::none), plan, dirs);
    if (!dest) return Status::failed("backup " + chain[0].id + " lists \"" + path + "\" outside of its directories");
    CopyJob job{"", *dest, chain[0].codec, {}, {}};
    if (Status st = expand_job(chain, path, *whole, job); !st) return st;
    plan.files.push_back(std::move(job));
  }
  return Status::ok();
}

}  // namespace

Status plan_chain(const Config& config, const std::string& server, const catalog::BackupInfo& backup,
                  const std::string& dir, RestorePlan& plan) {
  auto chain = load_chain(config, server, backup, dir);
  if (!chain) return chain.status();
  return expand_chain(*chain, plan);
}

}  // namespace cellar::recover
