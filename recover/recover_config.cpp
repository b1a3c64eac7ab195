#include "recover/recover_config.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "common/fs.h"
#include "common/storage.h"

namespace cellar::recover {
namespace {

const char* const kMark = "#CELLAR# ";

// The setting name a configuration line sets, lowercased; "" for comments.
std::string key_of(const std::string& line) {
  size_t i = line.find_first_not_of(" \t");
  if (i == std::string::npos || line[i] == '#') return "";
  std::string key;
  for (; i < line.size() && (std::isalnum(static_cast<unsigned char>(line[i])) || line[i] == '_' || line[i] == '.');
       ++i)
    key += static_cast<char>(std::tolower(static_cast<unsigned char>(line[i])));
  return key;
}

bool replaced_by_cellar(const std::string& key) {
  return key == "archive_command" || key == "restore_command" || key == "recovery_end_command" ||
         key.rfind("recovery_target", 0) == 0;
}

bool points_outside(const std::string& key) {
  static const std::set<std::string> keys{"data_directory",    "config_file", "hba_file",    "ident_file",
                                          "external_pid_file", "include",     "include_dir", "include_if_exists"};
  return keys.count(key) > 0;
}

struct Edited {
  std::string text;
  bool changed = false;
};

Edited neutralise(const std::string& text, const std::string& file, std::vector<std::string>& warnings) {
  Edited out;
  size_t start = 0, line_no = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    std::string line = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    start = nl == std::string::npos ? text.size() : nl + 1;
    ++line_no;
    std::string key = key_of(line);
    if (replaced_by_cellar(key)) {
      line = kMark + line;
      out.changed = true;
    } else if (points_outside(key)) {
      warnings.push_back(file + " line " + std::to_string(line_no) + ": " + line);
    }
    out.text += line + "\n";
  }
  return out;
}

// Comments out what cellar replaces in `path` (kept as <path>.origin first).
// Returns the new text; a missing file is empty.
Result<std::string> edit_file(const std::string& path, std::vector<std::string>& warnings, bool always_origin) {
  if (!path_exists(path)) return std::string();
  auto text = read_file(path);
  if (!text) return text.status();
  Edited e = neutralise(*text, path.substr(path.rfind('/') + 1), warnings);
  if (e.changed || always_origin)
    if (Status st = storage::write_file(storage::root(), path + ".origin", *text); !st) return st;
  if (e.changed)
    if (Status st = storage::write_file(storage::root(), path, e.text); !st) return st;
  return e.text;
}

std::string cellar_block(const RecoveryConfig& config) {
  std::string block = config.header + "\n";
  block += "restore_command = " + pg_quote(config.restore_command) + "\n";
  if (!config.recovery_end_command.empty())
    block += "recovery_end_command = " + pg_quote(config.recovery_end_command) + "\n";
  block += "archive_command = 'false'\n";
  for (const auto& [name, value] : config.targets) block += name + " = " + pg_quote(value) + "\n";
  return block;
}

}  // namespace

Result<std::vector<std::string>> write_recovery_config(const std::string& pgdata, const RecoveryConfig& config) {
  std::vector<std::string> warnings;
  if (auto conf = edit_file(join_path(pgdata, "postgresql.conf"), warnings, false); !conf) return conf.status();
  std::string auto_path = join_path(pgdata, "postgresql.auto.conf");
  auto text = edit_file(auto_path, warnings, true);
  if (!text) return text.status();
  if (Status st = storage::write_file(storage::root(), auto_path, *text + cellar_block(config)); !st) return st;
  std::string signal = join_path(pgdata, config.standby ? "standby.signal" : "recovery.signal");
  if (Status st = storage::write_file(storage::root(), signal, ""); !st) return st;
  return warnings;
}

std::string pg_quote(const std::string& value) {
  std::string out = "'";
  for (char c : value) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string shell_quote(const std::string& word) {
  bool safe = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("/._-+:=,@%").find(c) != std::string::npos;
  });
  if (safe) return word;
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace cellar::recover
