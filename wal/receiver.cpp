#include "wal/receiver.h"

#include <unistd.h>

#include <ctime>

#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/signals.h"
#include "common/storage.h"
#include "common/storage_posix.h"
#include "config/layout.h"
#include "pg/connection.h"
#include "pg/replication.h"
#include "wal/identity.h"
#include "wal/segment_writer.h"
#include "wal/wal_store.h"

namespace cellar::wal {
namespace {

int64_t now_secs() { return static_cast<int64_t>(std::time(nullptr)); }

std::string state_path(const std::string& server_dir) { return layout::receive_wal_state_file(server_dir); }

// Sleeps up to `secs`, waking early on a stop request (a SIGHUP meanwhile
// reopens the log and sleeps on).
void interruptible_sleep(int secs) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(secs);
  while (!signals::stop_requested()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !signals::wait_for_signal(left)) return;
    if (signals::take_reopen_request()) log::reopen();
  }
}

void note_segment_name(const std::string& name, uint64_t seg_size, bool complete, std::optional<ResumePoint>& best,
                       bool& best_complete) {
  auto w = pg::parse_wal_file_name(name, seg_size);
  if (!w || (w->kind != pg::WalFileKind::segment && w->kind != pg::WalFileKind::partial)) return;
  complete = complete && w->kind == pg::WalFileKind::segment;
  pg::Lsn resume = pg::segment_start(w->segno + (complete ? 1 : 0), seg_size);
  pg::Lsn seg = pg::segment_start(w->segno, seg_size);
  pg::Lsn best_seg = best ? (best_complete ? best->lsn - seg_size : best->lsn) : 0;
  bool better = !best || seg > best_seg || (seg == best_seg && w->tli > best->tli) ||
                (seg == best_seg && w->tli == best->tli && complete && !best_complete);
  if (better) {
    best = ResumePoint{w->tli, resume};
    best_complete = complete;
  }
}

// Strips a codec suffix from an archived file name.
std::string strip_codec(const std::string& name) {
  for (const char* suffix : {".zst", ".lz4", ".gz"}) {
    std::string s(suffix);
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0)
      return name.substr(0, name.size() - s.size());
  }
  return name;
}

class Receiver {
 public:
  explicit Receiver(const ReceiverOptions& o) : o_(o) {
    state_.pid = ::getpid();
    state_.started_at = now_secs();
  }

  Status run() {
    int backoff = 1;
    while (!signals::stop_requested()) {
      bool got_data = false;
      Status st = stream_once(got_data);
      if (signals::stop_requested()) break;
      if (st.code() == ErrorCode::usage) return Status::failed(st.message(), st.hint());  // retrying cannot help
      if (got_data) backoff = 1;
      std::string why = st ? "the server ended the stream" : st.message();
      state_.last_error = st ? "" : st.message();
      save_state();
      log::warning("receive-wal for server '" + o_.server + "': " + why + "; reconnecting in " +
                   std::to_string(backoff) + " s");
      interruptible_sleep(backoff);
      backoff = std::min(backoff * 2, o_.backoff_limit_secs);
      if (signals::take_reopen_request()) log::reopen();
    }
    log::info("receive-wal for server '" + o_.server + "' stopped");
    return Status::ok();
  }

 private:
  // One connection's life: connect, decide where to start, stream timelines.
  Status stream_once(bool& got_data) {
    auto conn = pg::Connection::open(o_.conninfo, pg::ConnectionKind::replication, "cellar_receive_wal");
    if (!conn) return conn.status();
    auto id = pg::identify_system(*conn);
    if (!id) return id.status();
    auto seg_size = pg::show_wal_segment_size(*conn);
    if (!seg_size) return seg_size.status();
    seg_size_ = *seg_size;
    Identity seen{id->systemid, conn->server_version(), seg_size_, now_secs()};
    if (Status st = check_or_record_identity(o_.server_dir, o_.server, seen); !st)
      return Status::usage(st.message(), st.hint());
    if (o_.take_over_slot) end_stale_walsender();
    auto start = decide_start(*conn, *id);
    if (!start) return start.status();
    ResumePoint at = *start;
    log::info("receive-wal for server '" + o_.server + "': streaming from " + pg::format_lsn(at.lsn) + " on timeline " +
              std::to_string(at.tli));
    while (!signals::stop_requested()) {
      if (Status st = fetch_history(*conn, at.tli); !st) return st;
      auto next = stream_timeline(*conn, at, got_data);
      if (!next) return next.status();
      if (!*next) return Status::ok();
      at = **next;
    }
    return Status::ok();
  }

  // We hold the receive-wal lock, so whoever still streams from the slot is
  // a former holder that lost it: end its walsender instead of waiting for
  // wal_sender_timeout. Failures only delay the takeover (START_REPLICATION
  // fails "slot is active" and the reconnect loop retries), so they are
  // warnings.
  void end_stale_walsender() {
    if (o_.slot_name.empty()) return;
    auto sql = pg::Connection::open(o_.sql_conninfo, pg::ConnectionKind::normal, "cellar_receive_wal");
    if (!sql) return log::warning("receive-wal for server '" + o_.server + "': " + sql.status().message());
    auto pid = sql->query_value("SELECT active_pid FROM pg_replication_slots WHERE active AND slot_name = " +
                                pg::sql_literal(o_.slot_name));
    if (!pid || pid->empty()) return;
    log::warning("receive-wal for server '" + o_.server + "': replication slot \"" + o_.slot_name +
                 "\" is still active for walsender PID " + *pid + " of a former lock holder; terminating it");
    auto done = sql->query_value("SELECT pg_terminate_backend(" + pg::sql_literal(*pid) + "::int, 5000)");
    if (!done) log::warning("receive-wal for server '" + o_.server + "': " + done.status().message());
  }

  Result<ResumePoint> decide_start(pg::Connection& conn, const pg::SystemIdentity& id) {
    std::optional<pg::SlotState> slot;
    if (!o_.slot_name.empty()) {
      auto s = pg::read_replication_slot(conn, o_.slot_name);
      if (!s) return s.status();
      if (!s->exists) {
        if (!o_.create_slot)
          return Status::usage(
              "replication slot \"" + o_.slot_name + "\" does not exist on server '" + o_.server + "'",
              "run 'cellar receive-wal --create-slot " + o_.server + "' or set create_slot = \"auto\"");
        if (Status st = pg::create_physical_slot(conn, o_.slot_name, true); !st) return st;
        log::info("created replication slot \"" + o_.slot_name + "\" on server '" + o_.server + "'");
        s = pg::read_replication_slot(conn, o_.slot_name);
        if (!s) return s.status();
      }
      slot = *s;
    }
    if (auto files = find_resume_point(o_.server_dir, seg_size_)) return *files;
    if (slot && slot->restart_lsn && slot->restart_tli)
      return ResumePoint{*slot->restart_tli, *slot->restart_lsn - *slot->restart_lsn % seg_size_};
    return ResumePoint{id.timeline, id.xlogpos - id.xlogpos % seg_size_};
  }

  Status fetch_history(pg::Connection& conn, pg::TimeLineId tli) {
    if (tli <= 1) return Status::ok();
    std::string name = pg::make_history_name(tli);
    std::string streaming = layout::streaming_dir(o_.server_dir);
    if (path_exists(join_path(streaming, name)) || is_archived(o_.server_dir, name)) return Status::ok();
    auto h = pg::timeline_history(conn, tli);
    if (!h) return h.status();
    return storage::write_file(storage::root(), join_path(streaming, name), h->content);
  }

  // Streams one timeline; returns the next timeline's start, or none when the
  // stream ended for another reason (stop request, server shutdown).
  Result<std::optional<ResumePoint>> stream_timeline(pg::Connection& conn, ResumePoint at, bool& got_data) {
    auto stream = pg::WalStream::start(conn, o_.slot_name, at.lsn, at.tli);
    if (!stream) return stream.status();
    SegmentWriter writer(layout::streaming_dir(o_.server_dir), at.tli, seg_size_, at.lsn);
    state_.timeline = at.tli;
    auto last_status = std::chrono::steady_clock::now();
    auto last_heard = last_status;  // the server's last message: silence means a dead link
    bool pinged = false;
    pg::Lsn server_end = at.lsn;
    while (true) {
      if (signals::take_reopen_request()) log::reopen();
      if (signals::stop_requested()) return stop_stream(*stream, writer);
      // A short wait, so that a stop request (SIGTERM, or a lock lost
      // from the lease thread) ends the stream within a quarter second.
      auto ev = stream->next(std::chrono::milliseconds(250));
      if (!ev) {
        (void)writer.close_partial();
        return ev.status();
      }
      bool reply = false;
      if (!std::holds_alternative<pg::NoMessage>(*ev)) {
        last_heard = std::chrono::steady_clock::now();
        pinged = false;
      }
      if (auto* d = std::get_if<pg::XLogData>(&*ev)) {
        uint64_t completed = writer.completed();
        if (Status st = writer.write(d->start, d->wal()); !st) return st;
        reply = writer.completed() != completed;  // a finished segment: let the slot advance now
        server_end = std::max(server_end, d->wal_end);
        got_data = true;
      } else if (auto* k = std::get_if<pg::Keepalive>(&*ev)) {
        server_end = std::max(server_end, k->wal_end);
        reply = k->reply_requested;
      } else if (auto* end = std::get_if<pg::StreamEnd>(&*ev)) {
        if (Status st = writer.close_partial(); !st) return st;
        if (!end->next_tli) return std::optional<ResumePoint>();
        log::info("receive-wal for server '" + o_.server + "': timeline " + std::to_string(at.tli) +
                  " ended; following timeline " + std::to_string(*end->next_tli) + " from " +
                  pg::format_lsn(end->next_start));
        return std::optional<ResumePoint>(ResumePoint{*end->next_tli, end->next_start - end->next_start % seg_size_});
      }
      auto now = std::chrono::steady_clock::now();
      // As PostgreSQL's walreceiver: after half the timeout of silence ask the
      // server for a reply; after all of it, give the connection up.
      if (now - last_heard >= o_.receiver_timeout) {
        (void)writer.close_partial();
        return Status::failed("no message from the server for " + std::to_string(o_.receiver_timeout.count() / 1000) +
                              " s");
      }
      bool ping = !pinged && now - last_heard >= o_.receiver_timeout / 2;
      if (reply || ping || now - last_status >= o_.status_interval) {
        if (Status st = report(*stream, writer, server_end, ping); !st) return st;
        last_status = now;
        pinged = pinged || ping;
      }
    }
  }

  // The flush position to report: fsynced here, and with
  // acknowledge_archived_only also archived.
  pg::Lsn acknowledged(const SegmentWriter& writer) {
    if (!o_.acknowledge_archived_only) return writer.flushed();
    auto now = std::chrono::steady_clock::now();
    // Once per status interval: listing a bucket on every reply would slow
    // the stream; the slot advances a little later, never too early.
    if (now - archive_listed_ >= o_.status_interval) {
      archived_ = archived_end(o_.server_dir, seg_size_);
      archive_listed_ = now;
    }
    return std::min(writer.flushed(), archived_);
  }

  // fsync first, then tell the server: flush never runs ahead of the disk.
  Status report(pg::WalStream& stream, SegmentWriter& writer, pg::Lsn server_end, bool ping = false) {
    if (Status st = writer.flush(); !st) return st;
    if (Status st = stream.send_status(writer.written(), acknowledged(writer), ping); !st) return st;
    state_.flushed_lsn = pg::format_lsn(writer.flushed());
    state_.server_lsn = pg::format_lsn(server_end);
    state_.last_error.clear();
    // The state file is for --status and status: once a second is plenty, and
    // keeps its fsyncs out of the catch-up path.
    auto now = std::chrono::steady_clock::now();
    if (now - last_saved_ >= std::chrono::seconds(1)) {
      save_state();
      last_saved_ = now;
    }
    return Status::ok();
  }

  Result<std::optional<ResumePoint>> stop_stream(pg::WalStream& stream, SegmentWriter& writer) {
    if (Status st = writer.flush(); !st) return st;
    (void)stream.send_status(writer.written(), acknowledged(writer), false);
    state_.flushed_lsn = pg::format_lsn(writer.flushed());
    save_state();
    (void)writer.close_partial();
    (void)stream.finish();
    return std::optional<ResumePoint>();
  }

  void save_state() {
    state_.updated_at = now_secs();
    Json doc = Json::object();
    doc.set("pid", state_.pid);
    doc.set("started_at", state_.started_at);
    doc.set("updated_at", state_.updated_at);
    doc.set("flushed_lsn", state_.flushed_lsn);
    doc.set("server_lsn", state_.server_lsn);
    doc.set("timeline", static_cast<int64_t>(state_.timeline));
    doc.set("last_error", state_.last_error);
    Status st = storage::write_file(storage::root(), state_path(o_.server_dir), doc.dump() + "\n");
    if (!st) log::warning(st.message());
  }

  const ReceiverOptions& o_;
  std::chrono::steady_clock::time_point last_saved_{};
  std::chrono::steady_clock::time_point archive_listed_{};
  pg::Lsn archived_ = 0;
  uint64_t seg_size_ = pg::kDefaultSegmentSize;
  ReceiverState state_;
};

}  // namespace

ReceiverOptions receiver_options(const Config& config, const ServerConfig& server) {
  ReceiverOptions o;
  o.server = server.name;
  o.server_dir = config.server_dir(server.name);
  o.conninfo = server.streaming_conninfo();
  o.slot_name = server.slot_name();
  o.create_slot = server.create_slot() == "auto";
  o.backoff_limit_secs = static_cast<int>(server.receive_wal_backoff_limit().count());
  o.receiver_timeout = std::chrono::seconds(server.receive_wal_timeout().count());
  o.acknowledge_archived_only = config.lock_backend() == "etcd";
  o.take_over_slot = o.acknowledge_archived_only;
  o.sql_conninfo = server.conninfo();
  return o;
}

std::optional<ResumePoint> find_resume_point(const std::string& server_dir, uint64_t seg_size) {
  std::optional<ResumePoint> best;
  bool best_complete = false;
  if (auto names = list_dir(layout::streaming_dir(server_dir)))
    for (const auto& n : *names) note_segment_name(n, seg_size, true, best, best_complete);
  // The archive: only the newest hash directory can hold the newest segment.
  std::string wals = layout::wals_dir(server_dir);
  if (auto dirs = storage::root().list(wals)) {
    for (auto it = dirs->rbegin(); it != dirs->rend(); ++it) {
      if (!it->is_dir || it->name.size() != 16) continue;
      auto files = storage::root().list(join_path(wals, it->name));
      if (!files || files->empty()) continue;
      for (const auto& f : *files) note_segment_name(strip_codec(f.name), seg_size, true, best, best_complete);
      break;
    }
  }
  return best;
}

pg::Lsn archived_end(const std::string& server_dir, uint64_t seg_size) {
  std::optional<ResumePoint> best;
  bool complete = false;
  std::string wals = layout::wals_dir(server_dir);
  auto dirs = storage::root().list(wals);
  if (!dirs) return 0;
  for (auto it = dirs->rbegin(); it != dirs->rend(); ++it) {
    if (!it->is_dir || it->name.size() != 16) continue;
    auto files = storage::root().list(join_path(wals, it->name));
    if (!files || files->empty()) continue;
    for (const auto& f : *files) note_segment_name(strip_codec(f.name), seg_size, true, best, complete);
    break;
  }
  return best && complete ? best->lsn : 0;
}

Result<std::optional<ReceiverState>> load_receiver_state(const std::string& server_dir) {
  std::string path = state_path(server_dir);
  if (!path_exists(path)) return std::optional<ReceiverState>();
  auto text = read_file(path);
  if (!text) return text.status();
  auto doc = Json::parse(*text);
  if (!doc || !doc->is_object()) return Status::failed("\"" + path + "\" is corrupt");
  ReceiverState s;
  auto num = [&](const char* k) {
    auto v = doc->find(k);
    return v && v->is_number() ? v->as_int() : 0;
  };
  auto str = [&](const char* k) {
    auto v = doc->find(k);
    return v && v->is_string() ? v->as_string() : std::string();
  };
  s.pid = num("pid");
  s.started_at = num("started_at");
  s.updated_at = num("updated_at");
  s.flushed_lsn = str("flushed_lsn");
  s.server_lsn = str("server_lsn");
  s.timeline = static_cast<uint32_t>(num("timeline"));
  s.last_error = str("last_error");
  return std::optional<ReceiverState>(s);
}

Status run_receiver(const locks::ReceiveWalLock&, const ReceiverOptions& options) {
  signals::install_stop_handlers();
  for (const std::string& dir : layout::server_subdirs(options.server_dir))
    if (Status st = storage::root().make_dir(dir); !st) return st;
  // Zero-filled segments a killed receiver was still preparing.
  std::string streaming = layout::streaming_dir(options.server_dir);
  if (auto names = list_dir(streaming))
    for (const auto& n : *names)
      if (storage::is_temp_name(n)) ::unlink(join_path(streaming, n).c_str());
  Receiver receiver(options);
  return receiver.run();
}

}  // namespace cellar::wal
