#include "common/redact.h"

#include <algorithm>
#include <cctype>
#include <regex>

namespace cellar {

std::string redact_secrets(const std::string& text) {
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower.find("password") == std::string::npos && lower.find("://") == std::string::npos) return text;
  // key/value form, as libpq reads it: password = 'a b\'c' (a missing closing
  // quote runs to the end) | password=ab'c\ d (up to unescaped white space;
  // a double quote ends it too, for a conninfo quoted inside a message).
  // Not after '?' or '&': that is the URI parameter, which ends at '&'.
  static const std::regex kv(R"((^|[^?&])(password\s*=\s*)('(?:[^'\\]|\\.)*'?|(?:[^\s'"\\]|\\.)(?:[^\s"\\]|\\.)*))",
                             std::regex::icase);
  // URI form: scheme://user:secret@host
  static const std::regex uri(R"(((?:postgres|postgresql)://[^:/@\s]*:)[^@\s]*@)", std::regex::icase);
  // URI parameter: ?password=... or &password=...
  static const std::regex uri_param(R"(([?&]password=)[^&\s]*)", std::regex::icase);
  std::string out = std::regex_replace(text, kv, "$1$2********");
  out = std::regex_replace(out, uri, "$1********@");
  out = std::regex_replace(out, uri_param, "$1********");
  return out;
}

}  // namespace cellar
