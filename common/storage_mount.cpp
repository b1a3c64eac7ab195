#include "common/storage_mount.h"

#include <vector>

#include "common/storage_posix.h"

namespace cellar::storage {
namespace {

std::vector<Mount>& mounts() {
  static std::vector<Mount> table;
  return table;
}

// `path` relative to `m`'s place in its driver, when `path` is `m.at` or below it.
std::optional<std::string> translate(const Mount& m, const std::string& path) {
  if (path == m.at) return m.under;
  if (path.size() > m.at.size() && path.compare(0, m.at.size(), m.at) == 0 && path[m.at.size()] == '/') {
    std::string rest = path.substr(m.at.size() + 1);
    return m.under.empty() ? rest : m.under + "/" + rest;
  }
  return std::nullopt;
}

struct Resolved {
  Storage* driver;
  std::string path;
  const Filter* filter;  // nullptr when none applies to this file
};

Storage& disk() {
  static std::unique_ptr<Storage> posix = make_posix("/");
  return *posix;
}

Resolved resolve(const std::string& path) {
  const Mount* best = mount_of(path);
  if (!best) return {&disk(), path, nullptr};
  std::string p = *translate(*best, path);
  const Filter* f = best->filter && best->filter->applies(p) ? best->filter.get() : nullptr;
  return {best->driver.get(), std::move(p), f};
}

void plain_sizes(const Mount& m, const std::string& dir, std::vector<Entry>& entries) {
  for (auto& e : entries)
    if (!e.is_dir && m.filter->applies(dir.empty() ? e.name : dir + "/" + e.name))
      e.size = m.filter->plain_size(e.size);
}

class MountStorage final : public Storage {
 public:
  Result<std::unique_ptr<Writer>> open_write(const std::string& path, const WriteOptions& options) override {
    Resolved r = resolve(path);
    auto w = r.driver->open_write(r.path, options);
    if (!w || !r.filter) return w;
    return r.filter->wrap(std::move(*w));
  }
  Result<std::unique_ptr<Reader>> open_read(const std::string& path, uint64_t offset, uint64_t length) override {
    Resolved r = resolve(path);
    if (r.filter && (offset != 0 || length != kToEnd))
      return Status::failed("ranged read of the encrypted file \"" + path + "\" is not supported");
    auto reader = r.driver->open_read(r.path, offset, length);
    if (!reader || !r.filter) return reader;
    return r.filter->wrap(std::move(*reader), r.driver->describe(r.path));
  }
  // Sizes are what a reader of the file sees: without the filter's overhead.
  Result<std::vector<Entry>> list(const std::string& dir) override {
    const Mount* m = mount_of(dir);
    Resolved r = resolve(dir);
    auto entries = r.driver->list(r.path);
    if (entries && m && m->filter) plain_sizes(*m, r.path, *entries);
    return entries;
  }
  Result<std::vector<Entry>> list_tree(const std::string& dir) override {
    const Mount* m = mount_of(dir);
    Resolved r = resolve(dir);
    auto entries = r.driver->list_tree(r.path);
    if (entries && m && m->filter) plain_sizes(*m, r.path, *entries);
    return entries;
  }
  Result<std::optional<Entry>> info(const std::string& path) override {
    Resolved r = resolve(path);
    auto e = r.driver->info(r.path);
    if (e && *e && !(*e)->is_dir && r.filter) (*e)->size = r.filter->plain_size((*e)->size);
    return e;
  }
  Status remove(const std::string& path, bool sync_dir) override {
    Resolved r = resolve(path);
    return r.driver->remove(r.path, sync_dir);
  }
  Status remove_tree(const std::string& dir) override {
    Resolved r = resolve(dir);
    return r.driver->remove_tree(r.path);
  }
  Status append(const std::string& path, std::string_view data) override {
    Resolved r = resolve(path);
    if (r.filter) return Status::failed("cannot append to the encrypted file \"" + path + "\"");
    return r.driver->append(r.path, data);
  }
  Status sync_dir(const std::string& dir) override {
    Resolved r = resolve(dir);
    return r.driver->sync_dir(r.path);
  }
  Status make_dir(const std::string& dir) override {
    Resolved r = resolve(dir);
    return r.driver->make_dir(r.path);
  }
  Status link(const std::string& existing, const std::string& path) override {
    Resolved from = resolve(existing), to = resolve(path);
    if (from.driver != to.driver) return Status::failed("cannot link \"" + path + "\" across repositories");
    return to.driver->link(from.path, to.path);
  }
  std::optional<std::string> local_path(const std::string& path) const override {
    Resolved r = resolve(path);
    return r.driver->local_path(r.path);
  }
  std::string describe(const std::string& path) const override {
    Resolved r = resolve(path);
    return r.driver->describe(r.path);
  }
};

}  // namespace

void mount(Mount m) {
  auto& table = mounts();
  for (auto& existing : table)
    if (existing.at == m.at) {
      existing = std::move(m);
      return;
    }
  table.push_back(std::move(m));
}

void unmount_all() { mounts().clear(); }

const Mount* mount_of(const std::string& path) {
  const Mount* best = nullptr;
  for (const auto& m : mounts())
    if (translate(m, path) && (!best || m.at.size() > best->at.size())) best = &m;
  return best;
}

std::string filter_id_of(const std::string& path) {
  const Mount* m = mount_of(path);
  if (!m || !m->filter) return "";
  return m->filter->applies(*translate(*m, path)) ? m->filter->id() : "";
}

Storage& root() {
  static MountStorage ns;
  return ns;
}

}  // namespace cellar::storage
