// list-backups, show-backup, verify-backup, delete, keep: parse, call
// backup/, render.
#include <iostream>

#include "catalog/catalogue.h"
#include "catalog/delete_backup.h"
#include "catalog/listing.h"
#include "catalog/verify.h"
#include "cli/handlers.h"
#include "locks/typed_lock.h"

namespace cellar::cli {
namespace {

struct Target {
  const ServerConfig* server = nullptr;
  catalog::Catalogue catalogue;
  const catalog::BackupEntry* backup = nullptr;
};

// SERVER BACKUP of the command line, resolved.
Result<Target> resolve_target(const Invocation& inv) {
  auto servers = select_servers(*inv.config, {inv.str("server")}, false);
  if (!servers) return servers.status();
  Target t;
  t.server = servers->front();
  auto cat = catalog::load_catalogue(*inv.config, t.server->name);
  if (!cat) return cat.status();
  t.catalogue = std::move(*cat);
  auto b = t.catalogue.resolve(inv.str("backup"));
  if (!b) return b.status();
  t.backup = *b;
  return t;
}

}  // namespace

int run_list_backups(Invocation& inv) {
  auto servers = select_servers(*inv.config, inv.get<std::vector<std::string>>("server"), true);
  if (!servers) return report(servers.status());
  Json all = Json::array();
  for (const ServerConfig* s : *servers) {
    auto cat = catalog::load_catalogue(*inv.config, s->name);
    if (!cat) return report(cat.status());
    auto views = catalog::describe_backups(*cat, *s);
    if (!views) return report(views.status());
    for (const auto& v : *views) {
      if (inv.json()) all.push(catalog::backup_json(v));
      else std::cout << catalog::list_line(s->name, v) << "\n";
    }
  }
  if (inv.json()) std::cout << all.dump() << "\n";
  return 0;
}

int run_show_backup(Invocation& inv) {
  auto t = resolve_target(inv);
  if (!t) return report(t.status());
  auto views = catalog::describe_backups(t->catalogue, *t->server);
  if (!views) return report(views.status());
  for (const auto& v : *views) {
    if (v.entry != t->backup) continue;
    if (inv.json()) std::cout << catalog::backup_json(v).dump() << "\n";
    else std::cout << catalog::show_text(v);
  }
  return 0;
}

int run_verify_backup(Invocation& inv) {
  auto t = resolve_target(inv);
  if (!t) return report(t.status());
  const std::string id = t->backup->info.backup_id;
  auto lock = locks::BackupIdLock::acquire(inv.config->lock_directory(), t->server->name, id);
  if (!lock) return report(lock.status());
  auto r = catalog::verify_backup(*lock, *t->backup);
  if (!r) return report(r.status());
  if (!r->ok()) {
    for (const auto& p : r->problems) std::cerr << "ERROR: " << p << "\n";
    return report(Status::failed("backup " + id + " of server '" + t->server->name + "' failed verification: " +
                                 std::to_string(r->problems.size()) + " problem(s)"));
  }
  info(inv, "Backup " + id + " of server '" + t->server->name + "' verified: " + std::to_string(r->files_checked) +
                " files match the backup manifest");
  return 0;
}

int run_delete(Invocation& inv) {
  auto servers = select_servers(*inv.config, {inv.str("server")}, false);
  if (!servers) return report(servers.status());
  auto r = catalog::delete_backup(*inv.config, *servers->front(), inv.str("backup"));
  if (!r) return report(r.status());
  info(inv, "Deleted backup " + r->id + " of server '" + servers->front()->name + "'");
  for (const auto& w : r->removed_wals) info(inv, "\t" + w);
  return 0;
}

void declare_keep(po::options_description& d) {
  d.add_options()
      ("target", po::value<std::string>(), "full (keep the backup and all WAL after it) or standalone (only its own WAL)")
      ("status", "print the keep status")
      ("release", "remove the keep");
}

int run_keep(Invocation& inv) {
  int modes = static_cast<int>(inv.has("target") + inv.has("status") + inv.has("release"));
  if (modes != 1) return report(Status::usage("keep needs exactly one of --target, --status, --release"));
  std::string target = inv.str("target");
  if (inv.has("target") && target != "full" && target != "standalone")
    return report(Status::usage("invalid --target \"" + target + "\"", "use full or standalone"));
  if (inv.has("status")) {
    auto t = resolve_target(inv);
    if (!t) return report(t.status());
    std::string keep = t->backup->info.keep;
    std::cout << "Keep: " << (keep.empty() ? "nokeep" : keep) << "\n";
    return 0;
  }
  auto servers = select_servers(*inv.config, {inv.str("server")}, false);
  if (!servers) return report(servers.status());
  return report(catalog::set_keep(*inv.config, *servers->front(), inv.str("backup"), target));
}

}  // namespace cellar::cli
