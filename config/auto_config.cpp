#include "config/auto_config.h"

#include <sys/stat.h>
#include <toml++/toml.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "common/fs.h"
#include "common/json.h"
#include "common/storage.h"
#include "config/layout.h"
#include "config/names.h"

namespace cellar {
namespace {

const char* const kHeader =
    "# Written by `cellar config-update`; rewritten whole on every update.\n"
    "# Values here override the main file and config_dir (SPEC 4.1).\n\n";

Status entry_error(size_t index, const std::string& what) {
  return Status::usage("config-update entry " + std::to_string(index) + ": " + what,
                       "nothing was changed; fix that entry and run config-update again");
}

// JSON value → the key's ConfigValue, or what is wrong with its type.
Result<ConfigValue> typed_json(const KeySpec& spec, const Json& v) {
  switch (spec.type) {
    case KeyType::string:
      if (v.is_string()) return ConfigValue(v.as_string());
      return Status::usage("must be a string");
    case KeyType::boolean:
      if (v.is_bool()) return ConfigValue(v.as_bool());
      return Status::usage("must be a boolean (true or false, unquoted)");
    case KeyType::integer:
      if (v.is_int()) return ConfigValue(v.as_int());
      return Status::usage("must be an integer (unquoted)");
    case KeyType::duration:
      if (v.is_int()) return ConfigValue(v.as_int());
      if (v.is_string()) return ConfigValue(v.as_string());
      return Status::usage(
          "must be a duration: a string such as \"30s\" or \"1 DAYS\", or an integer number of seconds");
    case KeyType::string_list: {
      if (v.is_string()) return ConfigValue(v.as_string());
      if (!v.is_array()) return Status::usage("must be a string or an array of strings");
      std::string joined;
      for (const Json& item : v.as_array()) {
        if (item.is_int()) {  // daemon_exit_codes = [0, 2]
          joined += (joined.empty() ? "" : ",") + std::to_string(item.as_int());
          continue;
        }
        if (!item.is_string() || item.as_string().find(',') != std::string::npos)
          return Status::usage("must be a string or an array of strings (without \",\")");
        joined += (joined.empty() ? "" : ",") + item.as_string();
      }
      return ConfigValue(joined);
    }
  }
  return Status::usage("has an unknown type");
}

// The scope and server of one entry.
Result<std::string> entry_server(size_t index, const Json& entry) {
  const Json* scope = entry.find("scope");
  if (!scope || !scope->is_string())
    return entry_error(index, "key \"scope\" is missing: it must be \"server\" or \"global\"");
  const Json* name = entry.find("server_name");
  if (scope->as_string() == "global") {
    if (name) return entry_error(index, "key \"server_name\" is not allowed with scope \"global\"");
    return std::string();
  }
  if (scope->as_string() != "server")
    return entry_error(index, "key \"scope\": \"" + scope->as_string() + "\" must be \"server\" or \"global\"");
  if (!name || !name->is_string())
    return entry_error(index, "key \"server_name\" is missing (a string is required with scope \"server\")");
  Status valid = validate_server_name(name->as_string());
  if (!valid) return entry_error(index, "key \"server_name\": " + valid.message());
  return name->as_string();
}

Status parse_entry(size_t index, const Json& entry, std::vector<ConfigChange>& out) {
  if (!entry.is_object()) return entry_error(index, "must be an object");
  auto server = entry_server(index, entry);
  if (!server) return server.status();
  const std::string section = server->empty() ? "global" : "servers." + *server;
  for (const auto& [key, value] : entry.as_object()) {
    if (key == "scope" || key == "server_name") continue;
    const KeySpec* spec = find_key(key);
    if (!spec) return entry_error(index, "unknown key \"" + key + "\"");
    if (!server->empty() && spec->scope == KeyScope::global_only)
      return entry_error(index, "key \"" + key + "\" may only be set with scope \"global\"");
    if (key == "home" || key == "config_dir")
      return entry_error(index, "key \"" + key + "\" cannot be set by config-update: edit the main file");
    auto typed = typed_json(*spec, value);
    if (!typed) return entry_error(index, "key \"" + key + "\" in [" + section + "] " + typed.status().message());
    std::string why = validate_value(*spec, *typed);
    if (!why.empty())
      return entry_error(index, "key \"" + key + "\" in [" + section + "]: \"" + value_to_string(*typed) + "\" " + why);
    out.push_back(ConfigChange{*server, key, *typed});
  }
  return Status::ok();
}

toml::table& child_table(toml::table& parent, const std::string& key) {
  if (!parent[key].is_table()) parent.insert_or_assign(key, toml::table{});
  return *parent[key].as_table();
}

void assign(toml::table& t, const std::string& key, const ConfigValue& v) {
  if (auto s = std::get_if<std::string>(&v))
    t.insert_or_assign(key, *s);
  else if (auto b = std::get_if<bool>(&v))
    t.insert_or_assign(key, *b);
  else
    t.insert_or_assign(key, std::get<int64_t>(v));
}

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = text.find(from, pos)) != std::string::npos; pos += to.size())
    text.replace(pos, from.size(), to);
}

// Loads the configuration as it would be with `auto_text` as the auto file:
// a copy of the main file whose home is a scratch directory (config_dir made
// absolute) plus the new auto file there, loaded by load_config itself.
Status check_loads(const Config& config, const std::string& auto_text) {
  std::string pattern = join_path(config.home(), ".config-update.XXXXXX");
  if (!::mkdtemp(pattern.data())) return Status::from_errno("could not create \"" + pattern + "\"", errno);
  const std::string scratch = pattern;
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{scratch};

  toml::table main;
  try {
    main = toml::parse_file(config.main_file);
  } catch (const std::exception& e) {
    return Status::usage("could not read \"" + config.main_file + "\": " + e.what());
  }
  std::string conf_dir = config.config_dir();
  if (conf_dir.empty() || conf_dir[0] != '/') conf_dir = join_path(dirname_of(config.main_file), conf_dir);
  toml::table& global = child_table(main, "global");
  global.insert_or_assign("home", scratch);
  global.insert_or_assign("config_dir", conf_dir);
  if (!global.contains("lock_directory")) global.insert_or_assign("lock_directory", config.lock_directory());
  if (!global.contains("log_file")) global.insert_or_assign("log_file", config.log_file());
  std::ostringstream main_text;
  main_text << main << "\n";
  const std::string scratch_main = join_path(scratch, "main.toml");
  if (Status s = storage::write_file(storage::root(), scratch_main, main_text.str()); !s) return s;
  if (Status s = storage::write_file(storage::root(), layout::auto_config_file(scratch), auto_text); !s) return s;
  auto loaded = load_config(scratch_main);
  if (loaded) return Status::ok();
  std::string msg = loaded.status().message();
  replace_all(msg, layout::auto_config_file(scratch), auto_config_path(config));
  replace_all(msg, scratch_main, config.main_file);
  return Status::usage(
      "the configuration would not load after this update: " + msg,
      "nothing was changed; a new server needs conninfo, primary_ssh_command or primary_repository in the same "
      "update");
}

// Scratch directories of config-updates killed mid-check (kill -9 skips
// check_loads' cleanup); only ever used under the config-update lock, which
// the caller holds, so none of them is in use.
void remove_stale_scratch(const Config& config) {
  auto names = list_dir(config.home());
  if (!names) return;
  for (const auto& n : *names) {
    if (n.rfind(".config-update.", 0) != 0 || n == ".config-update.lock") continue;
    std::error_code ec;
    std::filesystem::remove_all(join_path(config.home(), n), ec);
  }
}

}  // namespace

Result<std::vector<ConfigChange>> parse_config_changes(const std::string& json_text) {
  auto doc = Json::parse(json_text);
  if (!doc)
    return Status::usage(
        "config-update: invalid JSON: " + doc.status().message(),
        "give a JSON array of objects, e.g. '[{\"scope\":\"server\",\"server_name\":\"main\",\"active\":false}]'");
  if (!doc->is_array()) return Status::usage("config-update: the JSON must be an array of objects");
  std::vector<ConfigChange> changes;
  const auto& list = doc->as_array();
  for (size_t i = 0; i < list.size(); ++i)
    if (Status s = parse_entry(i, list[i], changes); !s) return s;
  return changes;
}

std::string auto_config_path(const Config& config) { return layout::auto_config_file(config.home()); }

Result<std::string> merge_auto_config(const std::string& existing, const std::vector<ConfigChange>& changes) {
  toml::table root;
  try {
    root = toml::parse(existing);
  } catch (const toml::parse_error& e) {
    return Status::usage(std::string("the current auto file is malformed TOML: ") + std::string(e.description()));
  }
  for (const ConfigChange& c : changes) {
    toml::table& section =
        c.server.empty() ? child_table(root, "global") : child_table(child_table(root, "servers"), c.server);
    assign(section, c.key, c.value);
  }
  std::ostringstream out;
  out << kHeader << root << "\n";
  return out.str();
}

Status apply_config_update(const Config& config, const std::vector<ConfigChange>& changes) {
  const std::string path = auto_config_path(config);
  std::string existing;
  if (path_exists(path)) {
    auto text = read_file(path);
    if (!text) return text.status();
    existing = *text;
  }
  auto merged = merge_auto_config(existing, changes);
  if (!merged) return Status(merged.status()).prefix("\"" + path + "\"");
  remove_stale_scratch(config);
  if (Status s = check_loads(config, *merged); !s) return s;
  return storage::write_file(storage::root(), path, *merged);
}

}  // namespace cellar
