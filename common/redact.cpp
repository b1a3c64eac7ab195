#include "common/redact.h"

#include <regex>

namespace cellar {

std::string redact_secrets(const std::string& text) {
  if (text.find("password") == std::string::npos && text.find("://") == std::string::npos) return text;
  // key/value form: password = 'a b\'c' | password=abc
  static const std::regex kv(R"((password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s'"]+))", std::regex::icase);
  // URI form: scheme://user:secret@host
  static const std::regex uri(R"(((?:postgres|postgresql)://[^:/@\s]*:)[^@\s]*@)", std::regex::icase);
  // URI parameter: ?password=... or &password=...
  static const std::regex uri_param(R"(([?&]password=)[^&\s]*)", std::regex::icase);
  std::string out = std::regex_replace(text, kv, "$1********");
  out = std::regex_replace(out, uri, "$1********@");
  out = std::regex_replace(out, uri_param, "$1********");
  return out;
}

}  // namespace cellar
