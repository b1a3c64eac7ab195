#include "catalog/manifest.h"

#include "common/crypto.h"
#include "common/fs.h"
#include "common/json.h"
#include "config/layout.h"
#include "pg/wal_names.h"

namespace cellar::catalog {
namespace {

const char kChecksumKey[] = "\"Manifest-Checksum\"";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> hex_decode(const std::string& hex) {
  if (hex.size() % 2) return Status::failed("invalid Encoded-Path in backup manifest");
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = hex_value(hex[i]), lo = hex_value(hex[i + 1]);
    if (hi < 0 || lo < 0) return Status::failed("invalid Encoded-Path in backup manifest");
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

Result<ManifestFile> parse_entry(const Json& j) {
  ManifestFile f;
  const Json* path = j.find("Path");
  const Json* encoded = j.find("Encoded-Path");
  const Json* size = j.find("Size");
  if (!size || !size->is_int() || (!path && !encoded)) return Status::failed("invalid file entry in backup manifest");
  if (path && path->is_string()) {
    f.path = path->as_string();
  } else if (encoded && encoded->is_string()) {
    auto decoded = hex_decode(encoded->as_string());
    if (!decoded) return decoded.status();
    f.path = *decoded;
  } else {
    return Status::failed("invalid file entry in backup manifest");
  }
  f.size = static_cast<uint64_t>(size->as_int());
  if (const Json* a = j.find("Checksum-Algorithm"); a && a->is_string()) f.checksum_algorithm = a->as_string();
  if (const Json* c = j.find("Checksum"); c && c->is_string()) f.checksum = c->as_string();
  if (const Json* u = j.find("Cellar-Unchanged-Blocks")) {
    if (!u->is_int() || u->as_int() < 0 || u->as_int() > UINT32_MAX)
      return Status::failed("invalid Cellar-Unchanged-Blocks in backup manifest");
    f.unchanged_blocks = static_cast<uint32_t>(u->as_int());
  }
  return f;
}

}  // namespace

Result<Manifest> parse_manifest(const std::string& text) {
  auto j = Json::parse(text);
  if (!j) return Status::failed("invalid backup manifest: " + j.status().message());
  const Json* version = j->find("PostgreSQL-Backup-Manifest-Version");
  const Json* files = j->find("Files");
  if (!version || !files || !files->is_array()) return Status::failed("invalid backup manifest: no version or Files");
  Manifest m;
  for (const Json& e : files->as_array()) {
    auto f = parse_entry(e);
    if (!f) return f.status();
    m.files.push_back(std::move(*f));
  }
  if (const Json* c = j->find("Manifest-Checksum"); c && c->is_string()) m.checksum = c->as_string();
  return m;
}

Status check_manifest_checksum(const std::string& text) {
  size_t pos = text.rfind(kChecksumKey);
  if (pos == std::string::npos) return Status::failed("backup manifest has no Manifest-Checksum");
  size_t q1 = text.find('"', pos + sizeof(kChecksumKey) - 1);
  size_t q2 = q1 == std::string::npos ? q1 : text.find('"', q1 + 1);
  if (q2 == std::string::npos) return Status::failed("backup manifest has an invalid Manifest-Checksum");
  std::string want = text.substr(q1 + 1, q2 - q1 - 1);
  std::string got = sha256_hex(std::string_view(text).substr(0, pos));
  if (want != got) return Status::failed("backup manifest checksum mismatch: expected " + want + ", computed " + got);
  return Status::ok();
}

std::string make_manifest(const std::vector<ManifestFile>& files, const WalRange& wal) {
  std::string out = "{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n\"Files\": [";
  for (size_t i = 0; i < files.size(); ++i) {
    const ManifestFile& f = files[i];
    out += (i ? ",\n" : "\n") + std::string("{ \"Path\": ") + Json(f.path).dump(0) +
           ", \"Size\": " + std::to_string(f.size) + ", \"Checksum-Algorithm\": " + Json(f.checksum_algorithm).dump(0) +
           ", \"Checksum\": " + Json(f.checksum).dump(0) +
           (f.unchanged_blocks ? ", \"Cellar-Unchanged-Blocks\": " + std::to_string(*f.unchanged_blocks) : "") + " }";
  }
  out += "\n],\n\"WAL-Ranges\": [\n{ \"Timeline\": " + std::to_string(wal.timeline) + ", \"Start-LSN\": \"" +
         pg::format_lsn(wal.start_lsn) + "\", \"End-LSN\": \"" + pg::format_lsn(wal.end_lsn) + "\" }\n],\n";
  return out + "\"Manifest-Checksum\": \"" + sha256_hex(out) + "\"}\n";
}

std::string stored_path_of(const std::string& backup_dir, const std::string& path, codec::Codec codec) {
  const std::string spc = "pg_tblspc/";
  if (path.compare(0, spc.size(), spc) == 0) {
    size_t slash = path.find('/', spc.size());
    if (slash != std::string::npos)
      return join_path(join_path(backup_dir, path.substr(spc.size(), slash - spc.size())), path.substr(slash + 1)) +
             codec::codec_suffix(codec);
  }
  return join_path(layout::backup_data_dir(backup_dir), path) + codec::codec_suffix(codec);
}

}  // namespace cellar::catalog
