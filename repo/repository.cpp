#include "repo/repository.h"

#include <sys/stat.h>

#include <cstdlib>

#include "common/fs.h"
#include "common/storage_crypt.h"
#include "common/storage_mount.h"
#include "common/storage_posix.h"
#include "config/grammar.h"
#include "config/layout.h"
#include "s3/s3_storage.h"

namespace cellar::repo {
namespace {

// Catalogue files stay readable without the key (they say which files are
// encrypted); every data file (backup files, backup_manifest, WAL and
// history files) is encrypted.
class EncryptionFilter final : public storage::Filter {
 public:
  explicit EncryptionFilter(storage::EncryptionKey key) : key_(std::move(key)) {}
  bool applies(const std::string& path) const override {
    std::string name = path.substr(path.find_last_of('/') + 1);
    return name != layout::kBackupInfoName && name != "xlog.db" && name != "identity.json" && name != "sync-wals.info";
  }
  Result<std::unique_ptr<storage::Writer>> wrap(std::unique_ptr<storage::Writer> inner) const override {
    return std::unique_ptr<storage::Writer>(std::make_unique<storage::EncryptWriter>(std::move(inner), key_));
  }
  Result<std::unique_ptr<storage::Reader>> wrap(std::unique_ptr<storage::Reader> inner,
                                                const std::string& name) const override {
    return std::unique_ptr<storage::Reader>(std::make_unique<storage::DecryptReader>(std::move(inner), key_, name));
  }
  uint64_t plain_size(uint64_t stored) const override { return storage::plaintext_size(stored); }
  std::string id() const override { return "aes-256-gcm:" + key_.fingerprint(); }

 private:
  storage::EncryptionKey key_;
};

// A secret from a file that only its owner may read.
Result<std::string> read_secret_file(const std::string& path, const char* key) {
  struct stat sb {};
  if (::stat(path.c_str(), &sb) != 0)
    return Status::usage(std::string(key) + ": cannot read \"" + path + "\"",
                         "create it with the secret on one line, mode 0600");
  if (!S_ISREG(sb.st_mode) || (sb.st_mode & 077) != 0)
    return Status::usage(std::string(key) + ": \"" + path + "\" must be a regular file with mode 0600",
                         "chmod 600 \"" + path + "\"");
  auto text = read_file(path);
  if (!text) return Status::usage(std::string(key) + ": cannot read \"" + path + "\"");
  std::string s = *text;
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  if (s.empty()) return Status::usage(std::string(key) + ": \"" + path + "\" is empty");
  return s;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

Result<s3::Credentials> credentials_of(const ServerConfig& server) {
  s3::Credentials c;
  if (server.has(Key::s3_key_id) || server.has(Key::s3_secret_file)) {
    if (!server.has(Key::s3_key_id) || !server.has(Key::s3_secret_file))
      return Status::usage("server '" + server.name + "': s3_key_id and s3_secret_file go together",
                           "set both, or neither to use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    auto secret = read_secret_file(server.s3_secret_file(), "s3_secret_file");
    if (!secret) return secret.status();
    c.key_id = server.s3_key_id();
    c.secret = *secret;
    return c;
  }
  c.key_id = env("AWS_ACCESS_KEY_ID");
  c.secret = env("AWS_SECRET_ACCESS_KEY");
  c.session_token = env("AWS_SESSION_TOKEN");
  if (c.key_id.empty() || c.secret.empty())
    return Status::usage("server '" + server.name + "' has an S3 repository but no credentials",
                         "set s3_key_id and s3_secret_file, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
  return c;
}

Result<std::shared_ptr<storage::Storage>> open_s3(const RepositoryLocation& loc, const ServerConfig& server) {
  s3::Options o;
  o.region = server.s3_region();
  o.endpoint = server.has(Key::s3_endpoint) ? server.s3_endpoint() : "https://s3." + o.region + ".amazonaws.com";
  while (!o.endpoint.empty() && o.endpoint.back() == '/') o.endpoint.pop_back();
  o.bucket = loc.bucket;
  o.prefix = loc.prefix.empty() ? server.name : loc.prefix + "/" + server.name;
  o.path_style = server.s3_uri_style() == "path";
  auto creds = credentials_of(server);
  if (!creds) return creds.status();
  o.credentials = *creds;
  o.ca_file = server.s3_ca_file();
  o.verify_tls = server.s3_verify_tls();
  o.storage_class = server.s3_storage_class();
  o.part_size = static_cast<uint64_t>(server.s3_part_size()) << 20;
  o.upload_concurrency = static_cast<unsigned>(server.upload_concurrency());
  o.retries = static_cast<unsigned>(server.s3_retries());
  return std::shared_ptr<storage::Storage>(s3::make_s3(std::move(o)));
}

Result<std::shared_ptr<const storage::Filter>> filter_of(const ServerConfig& server) {
  if (server.encryption() == "none") return std::shared_ptr<const storage::Filter>();
  if (!server.has(Key::encryption_key_file))
    return Status::usage(
        "server '" + server.name + "' has encryption = \"" + server.encryption() + "\" but no encryption_key_file",
        "create a key with \"openssl rand -hex 32 > FILE; chmod 600 FILE\" and set "
        "encryption_key_file");
  auto key = storage::load_key_file(server.encryption_key_file());
  if (!key)
    return Status::usage("encryption_key_file of server '" + server.name + "': " + key.status().message(),
                         key.status().hint());
  return std::shared_ptr<const storage::Filter>(std::make_shared<EncryptionFilter>(std::move(*key)));
}

}  // namespace

namespace {

// The driver of the repository `text` names for `server`; `local_dir` is
// where "local" puts it.
Result<Opened> open_location(const std::string& text, const ServerConfig& server, const std::string& local_dir) {
  auto loc = parse_repository(text);
  if (!loc) return loc.status();
  auto filter = filter_of(server);
  if (!filter) return filter.status();
  Opened out;
  out.filter = *filter;
  switch (loc->kind) {
    case RepositoryLocation::Kind::local:
      out.description = local_dir;
      if (out.filter) out.driver = std::shared_ptr<storage::Storage>(storage::make_posix(local_dir));
      break;
    case RepositoryLocation::Kind::path:
      out.description = join_path(loc->path, server.name);
      out.driver = std::shared_ptr<storage::Storage>(storage::make_posix(out.description));
      break;
    case RepositoryLocation::Kind::s3: {
      auto s3 = open_s3(*loc, server);
      if (!s3) return s3.status();
      out.driver = *s3;
      out.description = out.driver->describe("");
      break;
    }
  }
  return out;
}

void mount_at(const std::string& dir, const Opened& opened) {
  for (const std::string& at : {layout::base_dir(dir), layout::wals_dir(dir), layout::identity_file(dir)})
    storage::mount({at, opened.driver, at.substr(dir.size() + 1), opened.filter});
}

}  // namespace

Result<Opened> open_repository(const Config& config, const ServerConfig& server) {
  return open_location(server.repository(), server, config.server_dir(server.name));
}

Result<Opened> open_primary_repository(const ServerConfig& server) {
  if (!server.has(Key::primary_repository)) return Opened{};
  auto opened = open_location(server.primary_repository(), server, "");
  if (!opened) {
    Status st = opened.status();
    return st.prefix("primary_repository of server '" + server.name + "'");
  }
  return opened;
}

Status mount_repositories(const Config& config) {
  for (const auto& server : config.servers) {
    auto opened = open_repository(config, server);
    if (!opened) return opened.status();
    const std::string dir = config.server_dir(server.name);
    if (opened->driver) mount_at(dir, *opened);
    auto primary = open_primary_repository(server);
    if (!primary) return primary.status();
    if (primary->driver) mount_at(layout::primary_repository_dir(dir), *primary);
  }
  return Status::ok();
}

std::string probe_repository(const Config& config, const ServerConfig& server) {
  auto opened = open_repository(config, server);
  if (!opened) return opened.status().message();
  std::shared_ptr<storage::Storage> driver = opened->driver;
  if (!driver) driver = std::shared_ptr<storage::Storage>(storage::make_posix(config.server_dir(server.name)));
  if (Status st = driver->make_dir(""); !st) return st.message();
  if (Status st = s3::probe(*driver); !st) return st.message();
  return "";
}

std::string probe_primary_repository(const ServerConfig& server) {
  auto opened = open_primary_repository(server);
  if (!opened) return opened.status().message();
  auto identity = opened->driver->info("identity.json");
  if (!identity) return identity.status().message();
  if (!*identity)
    return "\"" + opened->description + "\" holds no repository of server \"" + server.name +
           "\" (no identity.json): check primary_repository, and that the primary has received WAL or made a backup";
  return "";
}

}  // namespace cellar::repo
