#include "config/config.h"
#include "config/layout.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <regex>
#include <toml++/toml.h>

#include "common/fs.h"
#include "config/names.h"
#include "pg/connection.h"

namespace cellar {
namespace {

const std::vector<KeySpec> kKeys = {
    {"home", KeyType::string, KeyScope::global_only, "/var/lib/cellar", "catalogue root"},
    {"lock_directory", KeyType::string, KeyScope::global_only, nullptr, "where lock files live (default: home)"},
    {"log_file", KeyType::string, KeyScope::global_only, nullptr,
     "spdlog file sink (default: <home>/cellar.log; \"\" disables)"},
    {"config_dir", KeyType::string, KeyScope::global_only, "conf.d", "extra *.toml files, relative to the main file"},
    {"log_level", KeyType::string, KeyScope::any, "info", "debug, info, warning, error or off"},
    {"description", KeyType::string, KeyScope::any, "", "free text"},
    {"active", KeyType::boolean, KeyScope::any, "true", "inactive servers are skipped by cron and all"},
    {"conninfo", KeyType::string, KeyScope::any, nullptr, "libpq conninfo for normal connections (required)"},
    {"streaming_conninfo", KeyType::string, KeyScope::any, nullptr,
     "libpq conninfo for replication connections (default: conninfo)"},
    {"slot_name", KeyType::string, KeyScope::any, "cellar", "physical replication slot used by receive-wal"},
    {"create_slot", KeyType::string, KeyScope::any, "manual", "auto: receive-wal creates a missing slot"},
    {"streaming_archiver", KeyType::boolean, KeyScope::any, "true", "cron keeps receive-wal running"},
    {"compression", KeyType::string, KeyScope::any, "none", "none, gzip, lz4 or zstd"},
    {"compression_level", KeyType::integer, KeyScope::any, nullptr, "codec level (default: the codec's)"},
    {"parallel_jobs", KeyType::integer, KeyScope::any, "1", "worker threads for backup and recover"},
    {"reuse_backup", KeyType::string, KeyScope::any, "link", "link or off"},
    {"retention_policy", KeyType::string, KeyScope::any, nullptr,
     "REDUNDANCY n or RECOVERY WINDOW OF n DAYS|WEEKS|MONTHS"},
    {"wal_retention_policy", KeyType::string, KeyScope::any, "main", "main"},
    {"minimum_redundancy", KeyType::integer, KeyScope::any, "0", "backups never deleted below this count"},
    {"last_backup_maximum_age", KeyType::string, KeyScope::any, nullptr, "e.g. \"1 DAYS\"; check fails past it"},
    {"backup_schedule", KeyType::string, KeyScope::any, nullptr, "\"daily HH:MM\" or an interval \"6 HOURS\""},
    {"primary_ssh_command", KeyType::string, KeyScope::any, nullptr, "makes this a passive node"},
    {"receive_wal_backoff_limit", KeyType::integer, KeyScope::any, "10", "seconds; reconnect delay cap"},
};

const char* type_name(KeyType t) {
  switch (t) {
    case KeyType::string: return "a string";
    case KeyType::boolean: return "a boolean";
    case KeyType::integer: return "an integer";
  }
  return "?";
}

bool matches(const std::string& s, const char* pattern, bool ignore_case = true) {
  auto flags = ignore_case ? std::regex::ECMAScript | std::regex::icase : std::regex::ECMAScript;
  return std::regex_match(s, std::regex(pattern, flags));
}

std::string one_of(const std::string& v, std::initializer_list<const char*> allowed) {
  std::string list;
  for (const char* a : allowed) {
    if (v == a) return "";
    list += list.empty() ? "" : ", ";
    list += a;
  }
  return "must be one of " + list;
}

std::string in_range(int64_t v, int64_t lo, int64_t hi) {
  if (v >= lo && v <= hi) return "";
  return "must be between " + std::to_string(lo) + " and " + std::to_string(hi);
}

ConfigValue parse_default(const KeySpec& k) {
  switch (k.type) {
    case KeyType::string: return std::string(k.default_value);
    case KeyType::boolean: return std::string(k.default_value) == "true";
    case KeyType::integer: return static_cast<int64_t>(std::atoll(k.default_value));
  }
  return std::string();
}

// One file's contribution.
struct Layer {
  std::string file;
  std::map<std::string, Setting> global;
  std::map<std::string, std::map<std::string, Setting>> servers;
  std::map<std::string, Source> server_tables;  // where each [servers.<name>] is
};

// Collects every problem with its place, then fails once.
class Problems {
 public:
  void add(const std::string& file, int line, const std::string& what) {
    std::string where = "\"" + file + "\"";
    if (line > 0) where += " line " + std::to_string(line);
    list_.push_back(where + ": " + what);
  }
  bool empty() const { return list_.empty(); }
  Status status() const {
    std::string msg = "invalid configuration: " + list_.front();
    for (size_t i = 1; i < list_.size(); ++i) msg += "\nERROR: invalid configuration: " + list_[i];
    return Status::usage(msg,
                         "fix the configuration and run the command again (keys: see docs/commands.md#configuration)");
  }

 private:
  std::vector<std::string> list_;
};

int line_of(const toml::node& n) { return static_cast<int>(n.source().begin.line); }

std::optional<ConfigValue> typed_value(const toml::node& n, KeyType t) {
  switch (t) {
    case KeyType::string:
      if (auto v = n.value<std::string>(); v && n.is_string()) return ConfigValue(*v);
      break;
    case KeyType::boolean:
      if (n.is_boolean()) return ConfigValue(*n.value<bool>());
      break;
    case KeyType::integer:
      if (n.is_integer()) return ConfigValue(*n.value<int64_t>());
      break;
  }
  return std::nullopt;
}

void read_keys(const toml::table& table, const std::string& section, bool is_server, const std::string& file,
               std::map<std::string, Setting>& out, Problems& problems) {
  for (const auto& [key_node, node] : table) {
    std::string key(key_node.str());
    int line = line_of(node);
    const KeySpec* spec = find_key(key);
    if (!spec) {
      problems.add(file, line, "unknown key \"" + key + "\" in [" + section + "]");
      continue;
    }
    if (is_server && spec->scope == KeyScope::global_only) {
      problems.add(file, line, "key \"" + key + "\" may only be set in [global], not in [" + section + "]");
      continue;
    }
    auto value = typed_value(node, spec->type);
    if (!value) {
      problems.add(file, line, "key \"" + key + "\" in [" + section + "] must be " + type_name(spec->type));
      continue;
    }
    std::string why = validate_value(*spec, *value);
    if (!why.empty()) {
      problems.add(file, line, "key \"" + key + "\" in [" + section + "]: \"" + value_to_string(*value) + "\" " + why);
      continue;
    }
    out[key] = Setting{*value, Source{file, line}, true};
  }
}

void read_servers(const toml::node& node, const std::string& file, Layer& layer, Problems& problems) {
  const toml::table* servers = node.as_table();
  if (!servers) {
    problems.add(file, line_of(node), "\"servers\" must be a table of [servers.<name>] tables");
    return;
  }
  for (const auto& [name_node, server_node] : *servers) {
    std::string name(name_node.str());
    int line = line_of(server_node);
    Status valid = validate_server_name(name);
    if (!valid) {
      problems.add(file, line, valid.message() + " (" + valid.hint() + ")");
      continue;
    }
    const toml::table* t = server_node.as_table();
    if (!t) {
      problems.add(file, line, "\"servers." + name + "\" must be a table");
      continue;
    }
    layer.server_tables[name] = Source{file, line};
    read_keys(*t, "servers." + name, true, file, layer.servers[name], problems);
  }
}

// Parses one file into a layer. `allow_global`: may it have a [global] table.
std::optional<Layer> read_layer(const std::string& file, bool allow_global, Problems& problems) {
  Layer layer;
  layer.file = file;
  toml::table root;
  try {
    root = toml::parse_file(file);
  } catch (const toml::parse_error& e) {
    problems.add(file, static_cast<int>(e.source().begin.line), std::string("malformed TOML: ") + std::string(e.description()));
    return std::nullopt;
  } catch (const std::exception& e) {
    problems.add(file, 0, std::string("could not read: ") + e.what());
    return std::nullopt;
  }
  for (const auto& [key_node, node] : root) {
    std::string key(key_node.str());
    if (key == "global" && allow_global) {
      if (const toml::table* g = node.as_table()) read_keys(*g, "global", false, file, layer.global, problems);
      else problems.add(file, line_of(node), "\"global\" must be a table");
    } else if (key == "servers") {
      read_servers(node, file, layer, problems);
    } else if (key == "global") {
      problems.add(file, line_of(node), "[global] is not allowed here: only [servers.<name>] tables");
    } else {
      problems.add(file, line_of(node), "unknown top-level key \"" + key + "\": use [global] or [servers.<name>]");
    }
  }
  return layer;
}

std::string absolute_from(const std::string& base_dir, const std::string& p) {
  if (!p.empty() && p[0] == '/') return p;
  return join_path(base_dir, p);
}

Setting resolve_global(const std::vector<Layer>& layers, const KeySpec& spec) {
  for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
    auto found = it->global.find(spec.name);
    if (found != it->global.end()) return found->second;
  }
  if (spec.default_value) return Setting{parse_default(spec), Source{}, true};
  return Setting{std::string(), Source{}, false};
}

ServerConfig resolve_server(const std::string& name, const std::vector<Layer>& layers,
                            const std::map<std::string, Setting>& global) {
  ServerConfig server;
  server.name = name;
  for (const KeySpec& spec : kKeys) {
    if (spec.scope == KeyScope::global_only) continue;
    std::optional<Setting> chosen;
    for (auto it = layers.rbegin(); it != layers.rend() && !chosen; ++it) {
      auto s = it->servers.find(name);
      if (s == it->servers.end()) continue;
      auto k = s->second.find(spec.name);
      if (k != s->second.end()) chosen = k->second;
    }
    server.settings[spec.name] = chosen ? *chosen : global.at(spec.name);
  }
  return server;
}

// Where a server is first declared, for problems about a key it lacks.
Source server_table_of(const std::string& name, const std::vector<Layer>& layers) {
  for (const auto& layer : layers)
    if (auto it = layer.server_tables.find(name); it != layer.server_tables.end()) return it->second;
  return Source{};
}

// Checks that need several keys at once. `table`: where the server is declared.
void cross_check(const ServerConfig& s, const Source& table, Problems& problems) {
  auto where = [&](const std::string& key) { return s.get(key).source; };
  if (!s.passive() && !s.has("conninfo")) {
    problems.add(table.file.empty() ? "(configuration)" : table.file, table.line,
                 "server \"" + s.name + "\" has no conninfo: set conninfo in [servers." + s.name +
                     "] (or primary_ssh_command for a passive node)");
  }
  for (const char* key : {"conninfo", "streaming_conninfo"}) {
    if (!s.has(key)) continue;
    Status st = pg::check_conninfo(s.str(key));
    if (!st) problems.add(where(key).file, where(key).line, "key \"" + std::string(key) + "\" of server \"" + s.name + "\": " + st.message());
  }
  if (s.has("compression_level")) {
    std::string codec = s.str("compression");
    int64_t level = s.integer("compression_level");
    std::string why;
    if (codec == "gzip") why = in_range(level, 1, 9);
    else if (codec == "lz4") why = in_range(level, 1, 12);
    else if (codec == "zstd") why = in_range(level, 1, 19);
    else why = "has no meaning with compression \"none\"";
    if (!why.empty())
      problems.add(where("compression_level").file, where("compression_level").line,
                   "key \"compression_level\" of server \"" + s.name + "\" (" + codec + ") " + why);
  }
}

}  // namespace

std::string Source::describe() const {
  if (file.empty()) return "default";
  return line > 0 ? file + ":" + std::to_string(line) : file;
}

std::string value_to_string(const ConfigValue& v) {
  if (auto s = std::get_if<std::string>(&v)) return *s;
  if (auto b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  return std::to_string(std::get<int64_t>(v));
}

const std::vector<KeySpec>& key_specs() { return kKeys; }

const KeySpec* find_key(const std::string& name) {
  for (const auto& k : kKeys)
    if (name == k.name) return &k;
  return nullptr;
}

std::string validate_value(const KeySpec& spec, const ConfigValue& value) {
  const std::string key = spec.name;
  if (spec.type == KeyType::integer) {
    int64_t v = std::get<int64_t>(value);
    if (key == "parallel_jobs") return in_range(v, 1, 64);
    if (key == "minimum_redundancy") return in_range(v, 0, 1000);
    if (key == "receive_wal_backoff_limit") return in_range(v, 1, 3600);
    if (key == "compression_level") return in_range(v, 1, 19);
    return "";
  }
  if (spec.type != KeyType::string) return "";
  const std::string& v = std::get<std::string>(value);
  if (key == "log_level") return one_of(v, {"debug", "info", "warning", "error", "off"});
  if (key == "create_slot") return one_of(v, {"auto", "manual"});
  if (key == "compression") return one_of(v, {"none", "gzip", "lz4", "zstd"});
  if (key == "reuse_backup") return one_of(v, {"link", "off"});
  if (key == "wal_retention_policy") return one_of(v, {"main"});
  if (key == "home" || key == "lock_directory")
    return (!v.empty() && v[0] == '/') ? "" : "must be an absolute path";
  if (key == "log_file") return (v.empty() || v[0] == '/') ? "" : "must be an absolute path or \"\"";
  if (key == "config_dir") return v.empty() ? "must not be empty" : "";
  if (key == "slot_name")
    return matches(v, "[a-z0-9_]{1,63}", false) ? "" : "must be 1-63 of a-z, 0-9 and _";
  if (key == "retention_policy")
    return matches(v, R"(REDUNDANCY\s+[1-9][0-9]*|RECOVERY\s+WINDOW\s+OF\s+[1-9][0-9]*\s+(DAYS?|WEEKS?|MONTHS?))")
               ? ""
               : "must be \"REDUNDANCY n\" or \"RECOVERY WINDOW OF n DAYS|WEEKS|MONTHS\"";
  if (key == "last_backup_maximum_age")
    return matches(v, R"([1-9][0-9]*\s+(HOURS?|DAYS?|WEEKS?|MONTHS?))") ? ""
                                                                        : "must be \"n HOURS|DAYS|WEEKS|MONTHS\"";
  if (key == "backup_schedule")
    return matches(v, R"(daily\s+([01][0-9]|2[0-3]):[0-5][0-9]|[1-9][0-9]*\s+(MINUTES?|HOURS?|DAYS?))")
               ? ""
               : "must be \"daily HH:MM\" or an interval \"n MINUTES|HOURS|DAYS\"";
  if (key == "primary_ssh_command") return v.empty() ? "must not be empty (remove the key instead)" : "";
  return "";
}

const Setting& ServerConfig::get(const std::string& key) const {
  static const Setting none{std::string(), Source{}, false};
  auto it = settings.find(key);
  return it == settings.end() ? none : it->second;
}
std::string ServerConfig::str(const std::string& key) const {
  const Setting& s = get(key);
  return s.is_set ? value_to_string(s.value) : "";
}
bool ServerConfig::flag(const std::string& key) const {
  const Setting& s = get(key);
  return s.is_set && std::holds_alternative<bool>(s.value) && std::get<bool>(s.value);
}
int64_t ServerConfig::integer(const std::string& key) const {
  const Setting& s = get(key);
  return s.is_set && std::holds_alternative<int64_t>(s.value) ? std::get<int64_t>(s.value) : 0;
}
std::string ServerConfig::streaming_conninfo() const { return str("streaming_conninfo"); }

std::string Config::home() const { return value_to_string(global.at("home").value); }
std::string Config::lock_directory() const { return value_to_string(global.at("lock_directory").value); }
std::string Config::log_file() const { return value_to_string(global.at("log_file").value); }
std::string Config::log_level() const { return value_to_string(global.at("log_level").value); }
const ServerConfig* Config::find_server(const std::string& name) const {
  for (const auto& s : servers)
    if (s.name == name) return &s;
  return nullptr;
}
std::string Config::server_dir(const std::string& name) const { return join_path(home(), name); }

std::string default_config_path(const std::string& explicit_path) {
  if (!explicit_path.empty()) return explicit_path;
  if (const char* env = std::getenv("CELLAR_CONFIG"); env && *env) return env;
  return "/etc/cellar/cellar.toml";
}

Result<Config> load_config(const std::string& main_file) {
  if (!path_exists(main_file))
    return Status::usage("configuration file \"" + main_file + "\" does not exist",
                         "create it or point to it with -c FILE or $CELLAR_CONFIG");
  Problems problems;
  std::vector<Layer> layers;
  if (auto main = read_layer(main_file, true, problems)) layers.push_back(std::move(*main));
  if (layers.empty()) return problems.status();

  // conf.d: every *.toml, in name order, servers only.
  std::string base = dirname_of(main_file);
  auto conf_dir_setting = resolve_global(layers, *find_key("config_dir"));
  std::string conf_dir = absolute_from(base, value_to_string(conf_dir_setting.value));
  if (auto names = list_dir(conf_dir)) {
    for (const auto& n : *names) {
      if (n.size() > 5 && n.substr(n.size() - 5) == ".toml")
        if (auto layer = read_layer(join_path(conf_dir, n), false, problems)) layers.push_back(std::move(*layer));
    }
  } else if (conf_dir_setting.source.file.size() && path_exists(conf_dir)) {
    problems.add(conf_dir_setting.source.file, conf_dir_setting.source.line, names.status().message());
  }

  // <home>/.cellar.auto.toml, written by config-update, overrides both.
  std::string home = value_to_string(resolve_global(layers, *find_key("home")).value);
  std::string auto_file = layout::auto_config_file(home);
  if (path_exists(auto_file)) {
    if (auto layer = read_layer(auto_file, true, problems)) {
      for (const char* k : {"home", "config_dir"})
        if (auto it = layer->global.find(k); it != layer->global.end())
          problems.add(auto_file, it->second.source.line, std::string("key \"") + k + "\" cannot be set here");
      layers.push_back(std::move(*layer));
    }
  }

  Config config;
  config.main_file = main_file;
  for (const KeySpec& spec : kKeys) config.global[spec.name] = resolve_global(layers, spec);
  // Defaults that derive from other keys are shown as such by show-servers.
  if (!config.global["lock_directory"].is_set) config.global["lock_directory"] = config.global["home"];
  if (!config.global["log_file"].is_set)
    config.global["log_file"] = Setting{layout::default_log_file(config.home()), config.global["home"].source, true};
  std::vector<std::string> names;
  for (const auto& layer : layers)
    for (const auto& [name, _] : layer.servers) names.push_back(name);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  for (const auto& name : names) {
    config.servers.push_back(resolve_server(name, layers, config.global));
    auto& settings = config.servers.back().settings;
    if (!settings["streaming_conninfo"].is_set) settings["streaming_conninfo"] = settings["conninfo"];
    cross_check(config.servers.back(), server_table_of(name, layers), problems);
  }
  if (!problems.empty()) return problems.status();
  return config;
}

}  // namespace cellar
