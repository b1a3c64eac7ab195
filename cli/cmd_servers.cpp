// list-servers and show-servers: read-only views of the configuration.
#include <iostream>

#include "cli/handlers.h"
#include "common/json.h"
#include "common/redact.h"

namespace cellar::cli {

Outcome run_list_servers(Invocation& inv) {
  const Config& config = *inv.config;
  if (inv.json()) {
    Json arr = Json::array();
    for (const auto& s : config.servers) {
      Json o = Json::object();
      o.set("name", s.name);
      o.set("description", s.description());
      o.set("active", s.active());
      o.set("passive", s.passive());
      arr.push(std::move(o));
    }
    std::cout << arr.dump() << "\n";
    return Status::ok();
  }
  for (const auto& s : config.servers) {
    std::string line = s.name + " - " + (s.description().empty() ? "(no description)" : s.description());
    if (!s.active()) line += " (inactive)";
    if (s.passive()) line += " (passive)";
    std::cout << line << "\n";
  }
  return Status::ok();
}

static std::string shown(const Setting& s) {
  if (!s.is_set) return "(none)";
  return redact_secrets(value_to_string(s.value));
}

Outcome run_show_servers(Invocation& inv, const ServerList& servers) {
  const Config& config = *inv.config;
  Json doc = Json::object();
  for (const ServerConfig* s : servers) {
    Json keys = Json::object();
    if (!inv.json()) std::cout << "Server " << s->name << ":\n";
    auto emit = [&](const std::string& key, const Setting& setting) {
      if (inv.json()) {
        Json v = Json::object();
        v.set("value", setting.is_set ? Json(shown(setting)) : Json());
        v.set("source", setting.source.describe());
        keys.set(key, std::move(v));
      } else {
        std::cout << "\t" << key << ": " << shown(setting) << "  [" << setting.source.describe() << "]\n";
      }
    };
    for (const KeySpec& spec : key_specs()) {
      if (spec.scope == KeyScope::global_only)
        emit(spec.name, config.get(spec.key));
      else
        emit(spec.name, s->get(spec.key));
    }
    if (inv.json()) doc.set(s->name, std::move(keys));
  }
  if (inv.json()) std::cout << doc.dump() << "\n";
  return Status::ok();
}

}  // namespace cellar::cli
