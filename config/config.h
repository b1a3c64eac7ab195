// Configuration (SPEC §4): the main TOML file, every *.toml of config_dir, then
// <home>/.cellar.auto.toml, merged with their precedence, every value checked
// against the key table (keys.h) and parsed once into its typed value. This
// is the only module that sees toml++. Loading collects every problem (file,
// line, key, what to do) and fails once with all of them.
//
// Values are read through typed accessors generated from the key table, e.g.
// server.retention_policy() (std::optional<RetentionPolicy>) or
// server.slot_name() (std::string): there is no lookup by name that could
// answer "unset" for a misspelt key.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "config/keys.h"

namespace cellar {

// Each struct below names its settings `key_settings()` for these.
#define CELLAR_KEY_ACCESSOR(name, Type, ...) \
  Type name() const { return read_setting<Type>(key_settings()[Key::name]); }

struct ServerConfig {
  std::string name;
  Settings settings;  // every key of scope any, resolved (global-only keys unset)

  // Keys of scope any; a [global]-only key (read it from Config) aborts.
  const Setting& get(Key key) const;
  bool has(Key key) const { return get(key).is_set; }

  // One accessor per key of CELLAR_SERVER_KEYS: active(), slot_name(), ...
  CELLAR_SERVER_KEYS(CELLAR_KEY_ACCESSOR)

  bool passive() const { return has(Key::primary_ssh_command) || has(Key::primary_repository); }
  const Settings& key_settings() const { return settings; }
};

struct Config {
  std::string main_file;
  Settings global;                    // every key, resolved
  std::vector<ServerConfig> servers;  // sorted by name

  const Setting& get(Key key) const { return global[key]; }

  // One accessor per key of CELLAR_GLOBAL_KEYS: home(), lock_directory(), ...
  CELLAR_GLOBAL_KEYS(CELLAR_KEY_ACCESSOR)
  // The [global] value of a server key, for what is not per server (logging).
  std::string log_level() const { return read_setting<std::string>(global[Key::log_level]); }
  const Settings& key_settings() const { return global; }

  const ServerConfig* find_server(const std::string& name) const;
  std::string server_dir(const std::string& name) const;
};

#undef CELLAR_KEY_ACCESSOR

// Loads and validates `main_file` and what it brings in. Fails with
// ErrorCode::usage; the message holds every problem, one per line.
Result<Config> load_config(const std::string& main_file);

// The main file cellar uses: `explicit_path`, else $CELLAR_CONFIG, else
// /etc/cellar/cellar.toml.
std::string default_config_path(const std::string& explicit_path);

}  // namespace cellar
