// `cellar hold`, `cellar release`, `cellar holds` (SPEC §9): client holds
// (gocept.lockd's semantics), kept by whichever lock backend is configured.
#include <ctime>
#include <iostream>

#include "cli/handlers.h"
#include "common/json.h"
#include "common/time_text.h"
#include "config/grammar.h"
#include "locks/lock_backend.h"

namespace cellar::cli {
namespace {

// KIND SERVER [BACKUP_ID], each word checked, the server a configured one.
Result<locks::LockName> hold_target(const Invocation& inv) {
  auto name = locks::make_lock_name(inv.str("kind"), inv.str("server"), inv.str("backup_id"));
  if (!name) return name.status();
  if (!name->server.empty())
    if (auto s = find_configured_server(*inv.config, name->server); !s) return s.status();
  return name;
}

std::string words_of(const locks::LockName& n) {
  std::string w = locks::kind_name(n.kind);
  if (!n.server.empty()) w += " " + n.server;
  if (!n.backup_id.empty()) w += " " + n.backup_id;
  return w;
}

std::string utc_text(int64_t t) { return format_utc(static_cast<std::time_t>(t), "%Y-%m-%dT%H:%M:%SZ"); }

Json hold_json(const locks::Hold& h) {
  auto text_or_null = [](const std::string& s) { return s.empty() ? Json() : Json(s); };
  Json o = Json::object();
  o.set("client", h.owner.client);
  o.set("kind", locks::kind_name(h.name.kind));
  o.set("server", text_or_null(h.name.server));
  o.set("backup_id", text_or_null(h.name.backup_id));
  o.set("reason", h.owner.reason);
  o.set("since", utc_text(h.owner.since));
  o.set("expires", h.owner.expires ? Json(utc_text(*h.owner.expires)) : Json());
  o.set("expired", h.expired);
  o.set("host", text_or_null(h.owner.host));
  return o;
}

std::string ttl_left(const locks::Hold& h) {
  if (!h.owner.expires) return "-";
  if (h.expired) return "expired";
  return std::to_string(*h.owner.expires - static_cast<int64_t>(std::time(nullptr))) + "s";
}

void print_holds(const std::vector<locks::Hold>& holds) {
  std::vector<std::vector<std::string>> rows{{"CLIENT", "KIND", "SERVER", "BACKUP_ID", "SINCE", "TTL_LEFT", "REASON"}};
  auto dash = [](const std::string& s) { return s.empty() ? std::string("-") : s; };
  for (const auto& h : holds)
    rows.push_back({h.owner.client, locks::kind_name(h.name.kind), dash(h.name.server), dash(h.name.backup_id),
                    utc_text(h.owner.since), ttl_left(h), dash(h.owner.reason)});
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i)
      line += r[i] + (i + 1 < r.size() ? std::string(width[i] - r[i].size() + 2, ' ') : "");
    std::cout << line << "\n";
  }
}

}  // namespace

void declare_hold(po::options_description& d) {
  d.add_options()("client", po::value<std::string>()->value_name("NAME"), "who holds it (required)")(
      "reason", po::value<std::string>()->value_name("TEXT"), "why, shown by holds, locks and busy errors")(
      "ttl", po::value<std::string>()->value_name("DURATION"),
      "release by itself after this long (\"2h\", \"1d\", seconds); default: until released");
}

void declare_release(po::options_description& d) {
  d.add_options()("client", po::value<std::string>()->value_name("NAME"), "the client that holds it (required)");
}

Outcome run_hold(Invocation& inv) {
  auto name = hold_target(inv);
  if (!name) return name.status();
  if (!inv.has("client")) return Status::usage("hold needs --client NAME", "name who holds it, e.g. --client dba");
  locks::HoldRequest request{*name, inv.str("client"), inv.str("reason"), std::nullopt};
  if (inv.has("ttl")) {
    auto ttl = parse_duration(inv.str("ttl"));
    if (!ttl || ttl->count() < 1)
      return Status::usage("invalid --ttl \"" + inv.str("ttl") + "\"", "e.g. 30min, 2h, 1d");
    request.ttl = *ttl;
  }
  auto outcome = locks::lock_manager(*inv.config).hold(request);
  if (!outcome) return outcome.status();
  info(inv, std::string(*outcome == locks::HoldOutcome::renewed ? "hold renewed: " : "hold taken: ") + words_of(*name) +
                " by '" + request.client + "'" +
                (request.ttl ? " for " + std::to_string(request.ttl->count()) + " s" : ""));
  return Status::ok();
}

Outcome run_release(Invocation& inv) {
  auto name = hold_target(inv);
  if (!name) return name.status();
  if (!inv.has("client")) return Status::usage("release needs --client NAME", "name the client that holds it");
  if (Status st = locks::lock_manager(*inv.config).release_hold(*name, inv.str("client")); !st) return st;
  info(inv, "hold released: " + words_of(*name) + " by '" + inv.str("client") + "'");
  return Status::ok();
}

Outcome run_holds(Invocation& inv) {
  std::string server = inv.str("server");
  if (!server.empty())
    if (auto s = find_configured_server(*inv.config, server); !s) return s.status();
  auto holds = locks::lock_manager(*inv.config).holds(server);
  if (!holds) return holds.status();
  if (inv.json()) {
    Json a = Json::array();
    for (const auto& h : *holds) a.push(hold_json(h));
    std::cout << a.dump() << "\n";
  } else if (holds->empty()) {
    info(inv, "no holds");
  } else {
    print_holds(*holds);
  }
  return Status::ok();
}

}  // namespace cellar::cli
