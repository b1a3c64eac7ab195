#include "wal/identity.h"

#include "common/fs.h"
#include "common/json.h"
#include "common/storage.h"
#include "config/layout.h"

namespace cellar::wal {

std::string identity_path(const std::string& server_dir) { return layout::identity_file(server_dir); }

Result<std::optional<Identity>> load_identity(const std::string& server_dir) {
  std::string path = identity_path(server_dir);
  if (!storage::exists(storage::root(), path)) return std::optional<Identity>();
  auto text = storage::read_file(storage::root(), path);
  if (!text) return text.status();
  auto doc = Json::parse(*text);
  if (!doc || !doc->is_object())
    return Status::failed("\"" + path + "\" is corrupt", "remove it; cellar records it again on the next connection");
  Identity id;
  if (auto v = doc->find("systemid"); v && v->is_string()) id.systemid = v->as_string();
  if (auto v = doc->find("server_version"); v && v->is_number()) id.server_version = static_cast<int>(v->as_int());
  if (auto v = doc->find("xlog_segment_size"); v && v->is_number())
    id.xlog_segment_size = static_cast<uint64_t>(v->as_int());
  if (auto v = doc->find("first_seen"); v && v->is_number()) id.first_seen = v->as_int();
  return std::optional<Identity>(id);
}

Status save_identity(const std::string& server_dir, const Identity& id) {
  Json doc = Json::object();
  doc.set("systemid", id.systemid);
  doc.set("server_version", id.server_version);
  doc.set("xlog_segment_size", static_cast<int64_t>(id.xlog_segment_size));
  doc.set("first_seen", id.first_seen);
  storage::WriteOptions wo;
  wo.make_parents = true;  // a repository elsewhere may not have the server's directory yet
  return storage::write_file(storage::root(), identity_path(server_dir), doc.dump() + "\n", wo);
}

Status check_or_record_identity(const std::string& server_dir, const std::string& server, const Identity& seen) {
  auto stored = load_identity(server_dir);
  if (!stored) return stored.status();
  if (!*stored) return save_identity(server_dir, seen);
  if ((*stored)->systemid != seen.systemid)
    return Status::failed(
        "the system id of server '" + server + "' changed from " + (*stored)->systemid + " to " + seen.systemid,
        "conninfo points at a different cluster; fix it, or move \"" + identity_path(server_dir) +
            "\" away if the cluster was rebuilt on purpose");
  return Status::ok();
}

}  // namespace cellar::wal
