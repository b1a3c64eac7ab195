// list-backups, show-backup, verify-backup, delete, keep: parse, call
// catalog/, render.
#include <iostream>

#include "catalog/catalogue.h"
#include "catalog/delete_backup.h"
#include "catalog/listing.h"
#include "catalog/verify.h"
#include "cli/handlers.h"
#include "locks/lock_backend.h"
#include "locks/typed_lock.h"

namespace cellar::cli {
namespace {

struct Target {
  const ServerConfig* server = nullptr;
  catalog::Catalogue catalogue;
  const catalog::BackupEntry* backup = nullptr;
};

// BACKUP of the command line, resolved in the catalogue of `server`.
Result<Target> resolve_target(const Invocation& inv, const ServerConfig& server) {
  Target t;
  t.server = &server;
  auto cat = catalog::load_catalogue(*inv.config, t.server->name);
  if (!cat) return cat.status();
  t.catalogue = std::move(*cat);
  auto b = t.catalogue.resolve(inv.str("backup"));
  if (!b) return b.status();
  t.backup = *b;
  return t;
}

}  // namespace

Outcome run_list_backups(Invocation& inv, const ServerList& servers) {
  Json all = Json::array();
  for (const ServerConfig* s : servers) {
    auto cat = catalog::load_catalogue(*inv.config, s->name);
    if (!cat) return cat.status();
    auto views = catalog::describe_backups(*cat, *s);
    if (!views) return views.status();
    for (const auto& v : *views) {
      if (inv.json())
        all.push(catalog::backup_json(v));
      else
        std::cout << catalog::list_line(s->name, v) << "\n";
    }
  }
  if (inv.json()) std::cout << all.dump() << "\n";
  return Status::ok();
}

Outcome run_show_backup(Invocation& inv, const ServerConfig& server) {
  auto t = resolve_target(inv, server);
  if (!t) return t.status();
  auto views = catalog::describe_backups(t->catalogue, *t->server);
  if (!views) return views.status();
  for (const auto& v : *views) {
    if (v.entry != t->backup) continue;
    if (inv.json())
      std::cout << catalog::backup_json(v).dump() << "\n";
    else
      std::cout << catalog::show_text(v);
  }
  return Status::ok();
}

Outcome run_verify_backup(Invocation& inv, const ServerConfig& server) {
  auto t = resolve_target(inv, server);
  if (!t) return t.status();
  const std::string id = t->backup->info.backup_id;
  auto lock = locks::BackupIdLock::acquire(locks::lock_manager(*inv.config), t->server->name, id);
  if (!lock) return lock.status();
  auto chain = catalog::verify_chain(*lock, t->catalogue, *t->backup);
  if (!chain) return chain.status();
  const catalog::VerifyReport* r = &chain->report;
  if (!r->ok()) {
    for (const auto& p : r->problems) std::cerr << "ERROR: " << p << "\n";
    return Status::failed("backup " + id + " of server '" + t->server->name +
                          "' failed verification: " + std::to_string(r->problems.size()) + " problem(s)");
  }
  info(inv, "Backup " + id + " of server '" + t->server->name + "' verified: " + std::to_string(r->files_checked) +
                " files match the backup manifest" +
                (chain->chain_length > 1
                     ? "s of it and the " + std::to_string(chain->chain_length - 1) + " backup(s) it builds on"
                     : std::string()));
  return Status::ok();
}

Outcome run_delete(Invocation& inv, const ServerConfig& server) {
  auto r = catalog::delete_backup(*inv.config, server, inv.str("backup"));
  if (!r) return r.status();
  info(inv, "Deleted backup " + r->id + " of server '" + server.name + "'");
  for (const auto& w : r->removed_wals) info(inv, "\t" + w);
  return Status::ok();
}

void declare_keep(po::options_description& d) {
  d.add_options()("target", po::value<std::string>(),
                  "full (keep the backup and all WAL after it) or standalone (only its own WAL)")(
      "status", "print the keep status")("release", "remove the keep");
}

Outcome run_keep(Invocation& inv, const ServerConfig& server) {
  int modes = static_cast<int>(inv.has("target") + inv.has("status") + inv.has("release"));
  if (modes != 1) return Status::usage("keep needs exactly one of --target, --status, --release");
  std::string target = inv.str("target");
  if (inv.has("target") && target != "full" && target != "standalone")
    return Status::usage("invalid --target \"" + target + "\"", "use full or standalone");
  if (inv.has("status")) {
    auto t = resolve_target(inv, server);
    if (!t) return t.status();
    std::string keep = t->backup->info.keep;
    std::cout << "Keep: " << (keep.empty() ? "nokeep" : keep) << "\n";
    return Status::ok();
  }
  return catalog::set_keep(*inv.config, server, inv.str("backup"), target);
}

}  // namespace cellar::cli
