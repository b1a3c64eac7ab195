// receive-wal and switch-wal handlers: parse, call wal/, render.
#include <signal.h>

#include <chrono>
#include <ctime>
#include <iostream>
#include <thread>

#include "cli/handlers.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/storage.h"
#include "config/layout.h"
#include "locks/lock_backend.h"
#include "locks/typed_lock.h"
#include "pg/connection.h"
#include "pg/replication.h"
#include "wal/receiver.h"
#include "wal/switch_wal.h"

namespace cellar::cli {
namespace {

// receive-wal and switch-wal talk to PostgreSQL, which a passive node never does.
Status refuse_passive(const ServerConfig& s) {
  if (s.passive())
    return Status::usage("server '" + s.name + "' is a passive node", "a passive node never connects to PostgreSQL");
  return Status::ok();
}

// The holder of the server's receive-wal lock, if any.
Result<std::optional<locks::Owner>> receiver_owner(const Config& config, const std::string& server) {
  return locks::lock_manager(config).owner({locks::LockKind::receive_wal, server, ""});
}

bool is_local_process(const std::optional<locks::Owner>& o) {
  return o && !o->is_hold() && o->pid && (o->host.empty() || o->host == locks::this_host());
}

Status slot_command(const Invocation& inv, const ServerConfig& s, bool create) {
  std::string slot = s.slot_name();
  auto conn = pg::Connection::open(s.streaming_conninfo(), pg::ConnectionKind::replication, "cellar_receive_wal");
  if (!conn) return conn.status();
  if (create && inv.has("if-not-exists")) {
    auto state = pg::read_replication_slot(*conn, slot);
    if (!state) return state.status();
    if (state->exists) {
      info(inv, "Replication slot '" + slot + "' already exists for server '" + s.name + "'");
      return Status::ok();
    }
  }
  Status st = create ? pg::create_physical_slot(*conn, slot, inv.has("if-not-exists")) : pg::drop_slot(*conn, slot);
  if (!st) return st;
  info(inv, std::string(create ? "Replication slot '" : "Dropped replication slot '") + slot +
                (create ? "' created" : "'") + " for server '" + s.name + "'");
  return Status::ok();
}

Status stop_receiver(const Invocation& inv, const Config& config, const ServerConfig& s) {
  auto owner = receiver_owner(config, s.name);
  if (!owner) return owner.status();
  if (!*owner) return Status::failed("no receive-wal is running for server '" + s.name + "'");
  if (!is_local_process(*owner))
    return Status::failed(
        "the receive-wal lock of server '" + s.name + "' is held by " + locks::describe_owner(**owner),
        (*owner)->is_hold() ? "the client releases it with 'cellar release'" : "stop it on the host that runs it");
  std::optional<pid_t> pid = (*owner)->pid;
  auto still_running = [&] {
    auto now = receiver_owner(config, s.name);
    return now && is_local_process(*now) && (**now).pid == pid;
  };
  if (::kill(*pid, SIGTERM) != 0 && errno != ESRCH)
    return Status::from_errno("could not signal receive-wal (PID " + std::to_string(*pid) + ")", errno);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (still_running()) {
    if (std::chrono::steady_clock::now() > deadline)
      return Status::failed(
          "receive-wal (PID " + std::to_string(*pid) + ") of server '" + s.name + "' did not stop within 30 s",
          "check its log; 'kill -9 " + std::to_string(*pid) + "' is safe: WAL is fsynced");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  info(inv, "Stopped process receive-wal(" + std::to_string(*pid) + ") of server '" + s.name + "'");
  return Status::ok();
}

Status reset_receiver(const Invocation& inv, const Config& config, const ServerConfig& s) {
  auto lock = locks::ReceiveWalLock::acquire(locks::lock_manager(config), s.name);
  if (!lock) return lock.status();
  auto conn = pg::Connection::open(s.streaming_conninfo(), pg::ConnectionKind::replication, "cellar_receive_wal");
  if (!conn) return conn.status();
  auto id = pg::identify_system(*conn);
  if (!id) return id.status();
  auto seg_size = pg::show_wal_segment_size(*conn);
  if (!seg_size) return seg_size.status();
  std::string streaming = layout::streaming_dir(config.server_dir(s.name));
  if (Status st = make_dirs(streaming); !st) return st;
  auto names = list_dir(streaming);
  if (!names) return names.status();
  for (const auto& n : *names)
    if (n.size() > 8 && n.compare(n.size() - 8, 8, ".partial") == 0) ::unlink(join_path(streaming, n).c_str());
  std::string current = pg::make_segment_name(id->timeline, pg::segno_of(id->xlogpos, *seg_size), *seg_size);
  if (Status st = storage::write_file(storage::root(), join_path(streaming, layout::partial_name(current)), ""); !st)
    return st;
  info(inv, "Reset receive-wal of server '" + s.name + "': streaming resumes at " + current);
  return Status::ok();
}

Status print_status(const Invocation& inv, const Config& config, const ServerConfig& s) {
  auto owner = receiver_owner(config, s.name);
  std::optional<pid_t> pid;
  if (owner && is_local_process(*owner)) pid = (*owner)->pid;
  auto state = wal::load_receiver_state(config.server_dir(s.name));
  std::optional<wal::ReceiverState> st = state ? *state : std::nullopt;
  std::string server_lsn;
  if (auto conn = pg::Connection::open(s.conninfo(), pg::ConnectionKind::normal, "cellar")) {
    if (auto v = conn->query_value("SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() "
                                   "ELSE pg_current_wal_lsn() END"))
      server_lsn = *v;
  }
  if (!server_lsn.empty() || !st) {
  } else {
    server_lsn = st->server_lsn;
  }
  int64_t uptime = (pid && st && st->pid == *pid) ? std::time(nullptr) - st->started_at : -1;
  std::string flushed = (st && pid && st->pid == *pid) ? st->flushed_lsn : "";
  auto f = pg::parse_lsn(flushed), c = pg::parse_lsn(server_lsn);
  int64_t lag = (f && c && *c >= *f) ? static_cast<int64_t>(*c - *f) : -1;
  if (inv.json()) {
    Json o = Json::object();
    o.set("server", s.name);
    o.set("running", pid.has_value());
    o.set("pid", pid ? Json(static_cast<int64_t>(*pid)) : Json());
    o.set("uptime_seconds", uptime >= 0 ? Json(uptime) : Json());
    o.set("flushed_lsn", flushed.empty() ? Json() : Json(flushed));
    o.set("server_lsn", server_lsn.empty() ? Json() : Json(server_lsn));
    o.set("lag_bytes", lag >= 0 ? Json(lag) : Json());
    o.set("last_error", st ? Json(st->last_error) : Json());
    std::cout << o.dump() << "\n";
    return Status::ok();
  }
  std::cout << "Status of receive-wal for server '" << s.name << "':\n";
  std::cout << "\trunning: " << (pid ? "yes (PID " + std::to_string(*pid) + ")" : std::string("no")) << "\n";
  if (uptime >= 0) std::cout << "\tuptime: " << uptime << " s\n";
  std::cout << "\tlast flushed LSN: " << (flushed.empty() ? "-" : flushed) << "\n";
  std::cout << "\tserver LSN: " << (server_lsn.empty() ? "unknown" : server_lsn) << "\n";
  std::cout << "\tlag: " << (lag >= 0 ? std::to_string(lag) + " bytes" : std::string("unknown")) << "\n";
  if (st && !st->last_error.empty()) std::cout << "\tlast error: " << st->last_error << "\n";
  return Status::ok();
}

}  // namespace

void declare_receive_wal(po::options_description& d) {
  d.add_options()("stop", "stop the receive-wal of this server and wait until it has stopped")(
      "status", "show PID, uptime, last flushed LSN and lag")(
      "reset", "drop .partial files and resume at the server's current WAL segment (receiver must be stopped)")(
      "create-slot", "create the replication slot slot_name")(
      "if-not-exists", "with --create-slot: an existing slot is not an error")("drop-slot",
                                                                               "drop the replication slot slot_name");
}

Outcome run_receive_wal(Invocation& inv, const ServerConfig& s) {
  if (Status st = refuse_passive(s); !st) return st;
  const Config& config = *inv.config;
  int modes = static_cast<int>(inv.has("stop") + inv.has("status") + inv.has("reset") + inv.has("create-slot") +
                               inv.has("drop-slot"));
  if (modes > 1)
    return Status::usage("receive-wal: --stop, --status, --reset, --create-slot and --drop-slot exclude each other");
  if (inv.has("if-not-exists") && !inv.has("create-slot"))
    return Status::usage("receive-wal: --if-not-exists needs --create-slot");
  if (inv.has("create-slot")) return slot_command(inv, s, true);
  if (inv.has("drop-slot")) return slot_command(inv, s, false);
  if (inv.has("stop")) return stop_receiver(inv, config, s);
  if (inv.has("status")) return print_status(inv, config, s);
  if (inv.has("reset")) return reset_receiver(inv, config, s);
  auto lock = locks::ReceiveWalLock::acquire(locks::lock_manager(config), s.name);
  if (!lock) return lock.status();
  Status st = wal::run_receiver(*lock, wal::receiver_options(config, s));
  // A stop because the lock was lost is no clean stop: exit 1, so that a
  // supervisor restarts it (exit 0 is final under daemon_exit_codes).
  if (st && lock->lost())
    return Status::failed("receive-wal of server '" + s.name + "' stopped: it lost its receive-wal lock",
                          "another host may stream now; the next start finds out");
  return st;
}

void declare_switch_wal(po::options_description& d) {
  d.add_options()("force", "run a CHECKPOINT first, so that there is WAL to switch")(
      "archive", "wait until the closed segment is in the archive, running archive-wal meanwhile")(
      "archive-timeout", po::value<int>()->default_value(30), "seconds to wait with --archive");
}

Outcome run_switch_wal(Invocation& inv, const ServerConfig& s) {
  if (Status st = refuse_passive(s); !st) return st;
  int timeout = inv.get<int>("archive-timeout");
  if (timeout < 1) return Status::usage("--archive-timeout must be at least 1 second");
  auto r = wal::switch_wal(s.conninfo(), inv.has("force"));
  if (!r) return r.status();
  if (!r->switched) {
    info(inv, "No switch required for server '" + s.name + "' (no WAL written since the last switch)");
    if (inv.has("archive"))
      return Status::failed("nothing to archive: no WAL was switched on server '" + s.name + "'",
                            "use --force to write a checkpoint first");
    return Status::ok();
  }
  info(inv, "The WAL file " + r->closed_segment + " has been closed on server '" + s.name + "'");
  if (!inv.has("archive")) return Status::ok();
  auto options = wal::archive_options_for(*inv.config, s);
  if (!options) return options.status();
  Status st = wal::wait_archived(*options, r->closed_segment, std::chrono::seconds(timeout));
  if (!st) return st;
  info(inv, "The WAL file " + r->closed_segment + " has been archived for server '" + s.name + "'");
  return Status::ok();
}

}  // namespace cellar::cli
