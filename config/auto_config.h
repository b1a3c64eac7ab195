// config-update (SPEC §4.3): parsing and validating the JSON list of changes,
// merging them into <home>/.cellar.auto.toml, and proving the merged
// configuration still loads before the file is replaced. Validation is the
// loader's own (key table, scope, type, validate_value, server names), so a
// change config-update accepts is one load_config accepts. Taking the
// config-update lock is the caller's job (locks/ comes after config/).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "config/config.h"

namespace cellar {

// One key set by one entry of the list.
struct ConfigChange {
  std::string server;  // "" for scope global
  std::string key;
  ConfigValue value;
};

// Parses the config-update argument: a JSON array of objects, each with
// "scope" ("server" or "global"), "server_name" (scope server only) and keys
// of §4.2. Fails with ErrorCode::usage on invalid JSON (with its line and
// column) or on the first invalid entry (naming its index and key); nothing
// is returned for a list with any invalid entry.
Result<std::vector<ConfigChange>> parse_config_changes(const std::string& json_text);

// <home>/.cellar.auto.toml
std::string auto_config_path(const Config& config);

// The auto file's text after applying `changes` to `existing` (its current
// text, "" if absent). Later changes of the same key win.
Result<std::string> merge_auto_config(const std::string& existing, const std::vector<ConfigChange>& changes);

// Applies `changes` to the auto file of `config`: merges, loads the whole
// configuration with the merged file (a usage error if it would not load,
// e.g. a new server without conninfo), then replaces the file atomically.
// Requires the config-update lock.
Status apply_config_update(const Config& config, const std::vector<ConfigChange>& changes);

}  // namespace cellar
