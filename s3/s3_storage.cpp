#include "s3/s3_storage.h"

#include <algorithm>
#include <set>

#include "common/crypto.h"
#include "s3/core.h"
#include "s3/s3_reader.h"
#include "s3/s3_writer.h"
#include "s3/xml.h"

namespace cellar::s3 {
namespace {

// Paths come from config/layout.h; this catches a bug before it names a
// key outside the prefix.
Status check_path(const std::string& path) {
  if (path.find('\0') != std::string::npos || path.rfind("/", 0) == 0 || path.find("//") != std::string::npos ||
      path == ".." || path.rfind("../", 0) == 0 || path.find("/../") != std::string::npos ||
      (path.size() >= 3 && path.compare(path.size() - 3, 3, "/..") == 0))
    return Status::failed("invalid storage path \"" + path + "\"");
  return Status::ok();
}

std::string basename_of(const std::string& path) { return path.substr(path.find_last_of('/') + 1); }

bool by_name(const storage::Entry& a, const storage::Entry& b) { return a.name < b.name; }

// Every page of a ListObjectsV2 of `prefix`, with or without the '/'
// delimiter, each given to `take`; stops after `max_keys` keys when not 0.
Status list_pages(const Client& client, const std::string& prefix, bool delimit, unsigned max_keys,
                  const std::function<void(ListPage&)>& take) {
  std::string token;
  for (;;) {
    Call call("GET", "", "could not list", {{"list-type", "2"}, {"prefix", prefix}});
    call.name = client.url_of(prefix);
    if (delimit) call.query.emplace_back("delimiter", "/");
    const unsigned page_size = std::clamp(client.options().list_page, 1u, 1000u);
    call.query.emplace_back("max-keys", std::to_string(max_keys ? std::min(max_keys, page_size) : page_size));
    if (!token.empty()) call.query.emplace_back("continuation-token", token);
    auto response = client.call(call);
    if (!response) return response.status();
    auto page = parse_list_page(response->body);
    if (!page) return Status::failed("could not list \"" + call.name + "\": " + page.status().message());
    take(*page);
    if (!page->truncated || max_keys) return Status::ok();
    token = page->next_token;
  }
}

// "<key>/" for a directory key, "" for the bucket's root.
std::string dir_prefix(const std::string& key) { return key.empty() ? "" : key + "/"; }

class S3Storage final : public storage::Storage {
 public:
  explicit S3Storage(Options options) : core_(std::make_shared<Core>(std::move(options))) {}

  Result<std::unique_ptr<storage::Writer>> open_write(const std::string& path,
                                                      const storage::WriteOptions& options) override {
    if (Status st = check_path(path); !st) return st;
    return make_writer(core_, path, client().key_of(path), !options.sync_dir);
  }

  Result<std::unique_ptr<storage::Reader>> open_read(const std::string& path, uint64_t offset,
                                                     uint64_t length) override {
    if (Status st = check_path(path); !st) return st;
    return open_reader(core_, client().key_of(path), offset, length);
  }

  Result<std::vector<storage::Entry>> list(const std::string& dir) override {
    if (Status st = check_path(dir); !st) return st;
    const std::string prefix = dir_prefix(client().key_of(dir));
    std::vector<storage::Entry> out;
    Status st = list_pages(client(), prefix, true, 0, [&](ListPage& page) {
      for (const auto& o : page.objects)
        if (o.key.size() > prefix.size()) out.push_back({o.key.substr(prefix.size()), false, o.size, o.mtime});
      for (const std::string& p : page.prefixes)
        if (p.size() > prefix.size() + 1) out.push_back({p.substr(prefix.size(), p.size() - prefix.size() - 1), true});
    });
    if (!st) return st;
    std::sort(out.begin(), out.end(), by_name);
    return out;
  }

  // One listing without delimiter; the directories are the keys' ancestors.
  Result<std::vector<storage::Entry>> list_tree(const std::string& dir) override {
    if (Status st = check_path(dir); !st) return st;
    const std::string prefix = dir_prefix(client().key_of(dir));
    std::vector<storage::Entry> out;
    std::set<std::string> dirs;
    Status st = list_pages(client(), prefix, false, 0, [&](ListPage& page) {
      for (const auto& o : page.objects) {
        if (o.key.size() <= prefix.size() || o.key.back() == '/') continue;
        const std::string name = o.key.substr(prefix.size());
        for (size_t slash = name.find('/'); slash != std::string::npos; slash = name.find('/', slash + 1))
          dirs.insert(name.substr(0, slash));
        out.push_back({name, false, o.size, o.mtime});
      }
    });
    if (!st) return st;
    for (const std::string& d : dirs) out.push_back({d, true});
    std::sort(out.begin(), out.end(), by_name);
    return out;
  }

  Result<std::optional<storage::Entry>> info(const std::string& path) override {
    if (Status st = check_path(path); !st) return st;
    const std::string key = client().key_of(path);
    if (path.empty()) return std::optional<storage::Entry>(storage::Entry{"", true});
    Call call("HEAD", key, "could not stat");
    call.also_ok = {404};
    auto response = client().call(call);
    if (!response) return response.status();
    if (response->status != 404) {
      const uint64_t size = std::strtoull(response->header("content-length").c_str(), nullptr, 10);
      const int64_t mtime = parse_http_date(response->header("last-modified")).value_or(0);
      return std::optional<storage::Entry>(storage::Entry{basename_of(path), false, size, mtime});
    }
    bool any = false;
    Status st = list_pages(client(), key + "/", false, 1, [&](ListPage& page) { any = !page.objects.empty(); });
    if (!st) return st;
    if (!any) return std::optional<storage::Entry>();
    return std::optional<storage::Entry>(storage::Entry{basename_of(path), true});
  }

  Status remove(const std::string& path, bool /*sync_dir: a DELETE is durable when answered*/) override {
    if (Status st = check_path(path); !st) return st;
    Call call("DELETE", client().key_of(path), "could not remove");
    call.also_ok = {404};
    return client().call(call).status();
  }

  Status append(const std::string& path, std::string_view data) override;
  Status remove_tree(const std::string& dir) override;

  Status sync_dir(const std::string& /*every deferred commit, whatever its directory*/) override {
    return core_->deferred.wait();
  }

  Status make_dir(const std::string& dir) override { return check_path(dir); }

  Status link(const std::string& existing, const std::string& path) override {
    return Status::failed("could not link \"" + describe(path) + "\" to \"" + describe(existing) +
                          "\": object stores have no links");
  }

  std::optional<std::string> local_path(const std::string&) const override { return std::nullopt; }
  std::string describe(const std::string& path) const override { return client().url_of(client().key_of(path)); }

 private:
  const Client& client() const { return core_->client; }
  std::shared_ptr<Core> core_;
};

// S3 has no append: the object is read whole and written again with `data`
// added.
Status S3Storage::append(const std::string& path, std::string_view data) {
  if (Status st = check_path(path); !st) return st;
  Call get("GET", client().key_of(path), "could not read");
  get.also_ok = {404};
  auto old = client().call(get);
  if (!old) return old.status();
  std::string body = old->status == 404 ? std::string() : std::move(old->body);
  body.append(data);
  return storage::write_file(*this, path, body);
}

// Deleted 1000 keys at a time (S3's limit for one multi-object delete).
Status S3Storage::remove_tree(const std::string& dir) {
  if (Status st = check_path(dir); !st) return st;
  const std::string prefix = dir_prefix(client().key_of(dir));
  std::vector<std::string> keys;
  Status st = list_pages(client(), prefix, false, 0, [&](ListPage& page) {
    for (auto& o : page.objects) keys.push_back(std::move(o.key));
  });
  for (size_t from = 0; st && from < keys.size(); from += 1000) {
    const std::vector<std::string> batch(keys.begin() + from, keys.begin() + std::min(keys.size(), from + 1000));
    const std::string body = delete_body(batch);
    Call call("POST", "", "could not remove", {{"delete", ""}}, body);
    call.name = client().url_of(prefix);
    auto response = client().call(call);
    if (!response) return response.status();
    auto errors = parse_delete_errors(response->body);
    if (!errors) return Status::failed("could not remove \"" + call.name + "\": " + errors.status().message());
    for (const auto& [key, error] : *errors)
      if (error.code != "NoSuchKey")
        return Status::failed("could not remove \"" + client().url_of(key) + "\": " + error.code + ": " +
                              error.message + " (POST ?delete)");
  }
  return st;
}

}  // namespace

std::unique_ptr<storage::Storage> make_s3(Options options) { return std::make_unique<S3Storage>(std::move(options)); }

Status probe(storage::Storage& storage) {
  const char* const hint =
      "Check the endpoint, region, bucket, URI style and credentials, and that they allow writing and deleting.";
  auto token = random_bytes(8);
  if (!token) return token.status();
  const std::string name = ".cellar-probe-" + to_hex(*token);
  const std::string text = "cellar probe " + name + "\n";
  if (Status st = storage::write_file(storage, name, text); !st) return st.with_hint(hint);
  auto back = storage::read_file(storage, name);
  if (!back) return Status(back.status()).with_hint(hint);
  if (*back != text)
    return Status::failed("probe object \"" + storage.describe(name) + "\" read back differs from what was written");
  if (Status st = storage.remove(name); !st) return st.with_hint(hint);
  return Status::ok();
}

}  // namespace cellar::s3
