#include "config/names.h"

#include <regex>

namespace cellar {

Status validate_server_name(const std::string& name) {
  auto bad = [&](const std::string& why) {
    return Status::usage("invalid server name \"" + name + "\": " + why,
                         "use 1-64 characters of A-Z a-z 0-9 _ . -, starting with a letter, digit or _");
  };
  if (name.empty()) return bad("it is empty");
  if (name.size() > 64) return bad("it is longer than 64 characters");
  for (char c : name) {
    bool ok =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok) return bad(std::string("it contains the character '") + c + "'");
  }
  if (name[0] == '.' || name[0] == '-') return bad("it starts with '" + name.substr(0, 1) + "'");
  if (name == "all" || name == "global" || name == "cellar") return bad("\"" + name + "\" is a reserved word");
  static const std::regex sync_suffix(R"(.*-[0-9]{8}T[0-9]{6}-sync)");
  if (std::regex_match(name, sync_suffix))
    return bad("a name ending in \"-<backup id>-sync\" would make lock file names ambiguous");
  return Status::ok();
}

bool is_valid_server_name(const std::string& name) { return validate_server_name(name).is_ok(); }

bool is_backup_id(const std::string& s) {
  if (s.size() != 15 || s[8] != 'T') return false;
  for (size_t i = 0; i < s.size(); ++i)
    if (i != 8 && (s[i] < '0' || s[i] > '9')) return false;
  return true;
}

std::string make_backup_id(std::time_t t) {
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%S", &tm);
  return buf;
}

}  // namespace cellar
