// Configuration (SPEC §4): the main TOML file, every *.toml of config_dir, then
// <home>/.cellar.auto.toml, merged with their precedence; every key of §4.2
// with its type, default and validation. This is the only module that sees
// toml++. Loading collects every problem (file, line, key, what to do) and
// fails once with all of them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/status.h"

namespace cellar {

// Where a value came from: a file and line, or the built-in default.
struct Source {
  std::string file;  // "" for a default
  int line = 0;      // 0 when unknown
  std::string describe() const;
};

using ConfigValue = std::variant<std::string, bool, int64_t>;
std::string value_to_string(const ConfigValue& v);

struct Setting {
  ConfigValue value;
  Source source;
  bool is_set = true;  // false: optional key with no value ("none")
};

enum class KeyScope { global_only, any };
enum class KeyType { string, boolean, integer };

struct KeySpec {
  const char* name;
  KeyType type;
  KeyScope scope;
  const char* default_value;  // textual default; nullptr = none
  const char* meaning;
};

// Every key of SPEC §4.2 (plus config_dir), in documentation order.
const std::vector<KeySpec>& key_specs();
const KeySpec* find_key(const std::string& name);

// Validates one value for key `spec` (type already checked); "" if fine, else
// what is wrong and what to do.
std::string validate_value(const KeySpec& spec, const ConfigValue& value);

struct ServerConfig {
  std::string name;
  std::map<std::string, Setting> settings;  // every non-global-only key, resolved

  const Setting& get(const std::string& key) const;
  std::string str(const std::string& key) const;
  bool flag(const std::string& key) const;
  int64_t integer(const std::string& key) const;
  bool has(const std::string& key) const { return get(key).is_set; }

  bool active() const { return flag("active"); }
  bool passive() const { return has("primary_ssh_command"); }
  std::string conninfo() const { return str("conninfo"); }
  std::string streaming_conninfo() const;
};

struct Config {
  std::string main_file;
  std::map<std::string, Setting> global;  // every key, resolved
  std::vector<ServerConfig> servers;      // sorted by name

  std::string home() const;
  std::string lock_directory() const;
  std::string log_file() const;
  std::string log_level() const;
  const ServerConfig* find_server(const std::string& name) const;
  std::string server_dir(const std::string& name) const;
};

// Loads and validates `main_file` and what it brings in. Fails with
// ErrorCode::usage; the message holds every problem, one per line.
Result<Config> load_config(const std::string& main_file);

// The main file cellar uses: `explicit_path`, else $CELLAR_CONFIG, else
// /etc/cellar/cellar.toml.
std::string default_config_path(const std::string& explicit_path);

}  // namespace cellar
