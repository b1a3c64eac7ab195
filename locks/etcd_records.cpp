#include "locks/etcd_records.h"

#include <ctime>

#include "common/json.h"

namespace cellar::locks {
namespace {

std::string string_at(const Json& object, const char* name) {
  const Json* f = object.find(name);
  return f && f->is_string() ? f->as_string() : "";
}

std::optional<int64_t> int_at(const Json& object, const char* name) {
  const Json* f = object.find(name);
  if (f && f->is_int()) return f->as_int();
  return std::nullopt;
}

// A value shown in a message: one line, bounded.
std::string excerpt(const std::string& raw) {
  std::string line = raw.substr(0, raw.find('\n'));
  if (line.size() > 80) line = line.substr(0, 80) + "...";
  return line;
}

}  // namespace

std::string make_process_record(const Owner& owner) {
  Json v = Json::object();
  v.set("host", owner.host);
  v.set("pid", static_cast<int64_t>(owner.pid.value_or(0)));
  v.set("command", owner.command);
  v.set("since", owner.since);
  return v.dump(-1);
}

std::string make_hold_record(const Owner& owner) {
  Json v = Json::object();
  v.set("host", owner.host);
  v.set("client", owner.client);
  v.set("reason", owner.reason);
  v.set("since", owner.since);
  v.set("expires", owner.expires ? Json(*owner.expires) : Json());
  return v.dump(-1);
}

EtcdRecord parse_record(const std::string& value) {
  EtcdRecord r;
  r.raw = value;
  auto json = Json::parse(value);
  if (!json || !json->is_object()) return r;
  const Json& v = *json;
  r.owner.host = string_at(v, "host");
  r.owner.since = int_at(v, "since").value_or(0);
  if (auto pid = int_at(v, "pid"); pid && *pid > 0) {
    r.kind = RecordKind::process;
    r.owner.pid = static_cast<pid_t>(*pid);
    r.owner.command = string_at(v, "command");
  } else if (std::string client = string_at(v, "client"); !client.empty()) {
    r.kind = RecordKind::hold;
    r.owner.client = client;
    r.owner.reason = string_at(v, "reason");
    r.owner.expires = int_at(v, "expires");
  }
  return r;
}

bool expired_at(const EtcdRecord& record, int64_t now) {
  return record.kind == RecordKind::hold && record.owner.expires && *record.owner.expires <= now;
}

std::string describe_holder(const EtcdRecord& record) {
  const Owner& o = record.owner;
  switch (record.kind) {
    case RecordKind::process: {
      std::string text = "PID " + std::to_string(*o.pid) + (o.host.empty() ? "" : " on host " + o.host);
      return o.command.empty() ? text : text + ": " + o.command;
    }
    case RecordKind::hold: {
      std::string text = "client '" + o.client + "' since " + utc_text(o.since);
      return o.reason.empty() ? text : text + ": " + o.reason;
    }
    case RecordKind::unknown:
      break;
  }
  return "an unreadable value \"" + excerpt(record.raw) + "\"";
}

std::string short_holder(const EtcdRecord& record) {
  const Owner& o = record.owner;
  switch (record.kind) {
    case RecordKind::process:
      return "PID " + std::to_string(*o.pid) + (o.host.empty() ? "" : " on host " + o.host);
    case RecordKind::hold:
      return "'" + o.client + "'";
    case RecordKind::unknown:
      break;
  }
  return "an unreadable value \"" + excerpt(record.raw) + "\"";
}

std::string utc_text(int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace cellar::locks
