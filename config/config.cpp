#include "config/config.h"

#include <sys/stat.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>

#include "common/fs.h"
#include "config/grammar.h"
#include "config/layout.h"
#include "config/names.h"
#include "pg/connection.h"

namespace cellar {
namespace {

const char* type_name(KeyType t) {
  switch (t) {
    case KeyType::string:
      return "a string";
    case KeyType::boolean:
      return "a boolean";
    case KeyType::integer:
      return "an integer";
    case KeyType::duration:
      return "a duration (a string such as \"30s\" or \"1 DAYS\", or an integer number of seconds)";
    case KeyType::string_list:
      return "a string or an array of strings (or of integers)";
  }
  return "?";
}

std::string in_range(int64_t v, int64_t lo, int64_t hi) {
  if (v >= lo && v <= hi) return "";
  return "must be between " + std::to_string(lo) + " and " + std::to_string(hi);
}

// One file's contribution.
struct Layer {
  std::string file;
  std::map<Key, Setting> global;
  std::map<std::string, std::map<Key, Setting>> servers;
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

// A string, or an array of strings, as one ","-joined string; none when an
// element is not a string or holds a ",".
std::optional<ConfigValue> joined_strings(const toml::node& n) {
  if (n.is_string()) return ConfigValue(*n.value<std::string>());
  const toml::array* a = n.as_array();
  if (!a) return std::nullopt;
  std::string joined;
  for (const auto& item : *a) {
    // Integers too (daemon_exit_codes = [0, 2]): their rules read the text.
    if (auto i = item.value<int64_t>(); item.is_integer() && i) {
      joined += (joined.empty() ? "" : ",") + std::to_string(*i);
      continue;
    }
    auto s = item.value<std::string>();
    if (!item.is_string() || !s || s->find(',') != std::string::npos) return std::nullopt;
    joined += (joined.empty() ? "" : ",") + *s;
  }
  return ConfigValue(joined);
}

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
    case KeyType::duration:
      if (n.is_integer()) return ConfigValue(*n.value<int64_t>());
      if (n.is_string()) return ConfigValue(*n.value<std::string>());
      break;
    case KeyType::string_list:
      return joined_strings(n);
  }
  return std::nullopt;
}

void read_keys(const toml::table& table, const std::string& section, bool is_server, const std::string& file,
               std::map<Key, Setting>& out, Problems& problems) {
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
    TypedValue typed;
    std::string why = spec->parse(*value, typed);
    if (!why.empty()) {
      problems.add(file, line, "key \"" + key + "\" in [" + section + "]: \"" + value_to_string(*value) + "\" " + why);
      continue;
    }
    out[spec->key] = Setting{*value, Source{file, line}, true, std::move(typed)};
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
    problems.add(file, static_cast<int>(e.source().begin.line),
                 std::string("malformed TOML: ") + std::string(e.description()));
    return std::nullopt;
  } catch (const std::exception& e) {
    problems.add(file, 0, std::string("could not read: ") + e.what());
    return std::nullopt;
  }
  for (const auto& [key_node, node] : root) {
    std::string key(key_node.str());
    if (key == "global" && allow_global) {
      if (const toml::table* g = node.as_table())
        read_keys(*g, "global", false, file, layer.global, problems);
      else
        problems.add(file, line_of(node), "\"global\" must be a table");
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
    auto found = it->global.find(spec.key);
    if (found != it->global.end()) return found->second;
  }
  return default_setting(spec);
}

// A default that derives from another key's value, e.g. log_file from home.
Setting derived(std::string value, const Source& source) { return Setting{value, source, true, value}; }

ServerConfig resolve_server(const std::string& name, const std::vector<Layer>& layers, const Settings& global) {
  ServerConfig server;
  server.name = name;
  for (const KeySpec& spec : key_specs()) {
    if (spec.scope == KeyScope::global_only) continue;
    std::optional<Setting> chosen;
    for (auto it = layers.rbegin(); it != layers.rend() && !chosen; ++it) {
      auto s = it->servers.find(name);
      if (s == it->servers.end()) continue;
      auto k = s->second.find(spec.key);
      if (k != s->second.end()) chosen = k->second;
    }
    server.settings[spec.key] = chosen ? *chosen : global[spec.key];
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
  auto where = [&](Key key) { return s.get(key).source; };
  if (!s.passive() && !s.has(Key::conninfo)) {
    problems.add(table.file.empty() ? "(configuration)" : table.file, table.line,
                 "server \"" + s.name + "\" has no conninfo: set conninfo in [servers." + s.name +
                     "] (or primary_ssh_command or primary_repository for a passive node)");
  }
  if (s.has(Key::primary_repository)) {
    auto own = parse_repository(read_setting<std::string>(s.get(Key::repository)));
    auto primary = parse_repository(read_setting<std::string>(s.get(Key::primary_repository)));
    if (own && primary && own->kind == primary->kind && own->path == primary->path && own->bucket == primary->bucket &&
        own->prefix == primary->prefix)
      problems.add(where(Key::primary_repository).file, where(Key::primary_repository).line,
                   "server \"" + s.name +
                       "\" has primary_repository equal to its own repository: a passive node keeps its own copy; "
                       "set repository to another place (\"local\" is the default)");
  }
  if (s.has(Key::primary_ssh_command) && s.has(Key::primary_repository))
    problems.add(where(Key::primary_repository).file, where(Key::primary_repository).line,
                 "server \"" + s.name +
                     "\" sets both primary_ssh_command and primary_repository: a passive node reads its primary one "
                     "way; remove one of them");
  for (Key key : {Key::conninfo, Key::streaming_conninfo, Key::primary_conninfo}) {
    if (!s.has(key)) continue;
    Status st = pg::check_conninfo(read_setting<std::string>(s.get(key)));
    if (!st)
      problems.add(where(key).file, where(key).line,
                   "key \"" + std::string(spec_of(key).name) + "\" of server \"" + s.name + "\": " + st.message());
  }
  if (auto level = s.compression_level()) {
    std::string codec = s.compression();
    std::string why;
    if (codec == "gzip")
      why = in_range(*level, 1, 9);
    else if (codec == "lz4")
      why = in_range(*level, 1, 12);
    else if (codec == "zstd")
      why = in_range(*level, 1, 19);
    else
      why = "has no meaning with compression \"none\"";
    if (!why.empty())
      problems.add(where(Key::compression_level).file, where(Key::compression_level).line,
                   "key \"compression_level\" of server \"" + s.name + "\" (" + codec + ") " + why);
  }
}

}  // namespace

const Setting& ServerConfig::get(Key key) const {
  if (spec_of(key).scope == KeyScope::global_only) {
    // A bug in the caller, not in anyone's configuration: never answer "unset".
    std::fprintf(stderr, "cellar: internal error: key %s is [global]-only and has no per-server value\n",
                 spec_of(key).name);
    std::abort();
  }
  return settings[key];
}

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
  auto conf_dir_setting = resolve_global(layers, spec_of(Key::config_dir));
  std::string conf_dir = absolute_from(base, read_setting<std::string>(conf_dir_setting));
  if (auto names = list_dir(conf_dir)) {
    for (const auto& n : *names) {
      if (n.size() > 5 && n.substr(n.size() - 5) == ".toml")
        if (auto layer = read_layer(join_path(conf_dir, n), false, problems)) layers.push_back(std::move(*layer));
    }
  } else if (conf_dir_setting.source.file.size() && path_exists(conf_dir)) {
    problems.add(conf_dir_setting.source.file, conf_dir_setting.source.line, names.status().message());
  }

  // <home>/.cellar.auto.toml, written by config-update, overrides both.
  std::string home = read_setting<std::string>(resolve_global(layers, spec_of(Key::home)));
  std::string auto_file = layout::auto_config_file(home);
  if (path_exists(auto_file)) {
    if (auto layer = read_layer(auto_file, true, problems)) {
      for (Key k : {Key::home, Key::config_dir})
        if (auto it = layer->global.find(k); it != layer->global.end())
          problems.add(auto_file, it->second.source.line,
                       std::string("key \"") + spec_of(k).name + "\" cannot be set here");
      layers.push_back(std::move(*layer));
    }
  }

  Config config;
  config.main_file = main_file;
  for (const KeySpec& spec : key_specs()) config.global[spec.key] = resolve_global(layers, spec);
  // Defaults that derive from other keys are shown as such by show-servers.
  Settings& g = config.global;
  if (!g[Key::lock_directory].is_set) g[Key::lock_directory] = g[Key::home];
  if (!g[Key::log_file].is_set)
    g[Key::log_file] = derived(layout::default_log_file(config.home()), g[Key::home].source);
  if (!g[Key::daemon_socket].is_set)
    g[Key::daemon_socket] =
        derived(layout::default_daemon_socket(config.lock_directory()), g[Key::lock_directory].source);
  if (!g[Key::daemon_transcript].is_set)
    g[Key::daemon_transcript] = derived(layout::default_daemon_transcript(config.home()), g[Key::home].source);
  std::vector<std::string> names;
  for (const auto& layer : layers)
    for (const auto& [name, _] : layer.servers) names.push_back(name);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  for (const auto& name : names) {
    config.servers.push_back(resolve_server(name, layers, config.global));
    Settings& settings = config.servers.back().settings;
    if (!settings[Key::streaming_conninfo].is_set) settings[Key::streaming_conninfo] = settings[Key::conninfo];
    cross_check(config.servers.back(), server_table_of(name, layers), problems);
  }
  if (!problems.empty()) return problems.status();
  return config;
}

}  // namespace cellar
