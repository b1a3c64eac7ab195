#include "config/keys.h"

#include <arpa/inet.h>

#include <cstdio>
#include <cstdlib>
#include <initializer_list>

namespace cellar {
namespace {

// --- rules: what a value of the right type must also satisfy -----------------

auto anything() {
  return [](const auto&) { return std::string(); };
}

auto absolute_path() {
  return [](const std::string& v) { return !v.empty() && v[0] == '/' ? std::string() : "must be an absolute path"; };
}

auto absolute_path_or_empty() {
  return [](const std::string& v) {
    return v.empty() || v[0] == '/' ? std::string() : "must be an absolute path or \"\"";
  };
}

auto not_empty(std::string what_to_do) {
  return [what_to_do](const std::string& v) { return v.empty() ? "must not be empty" + what_to_do : std::string(); };
}

auto one_of(std::initializer_list<const char*> allowed) {
  std::vector<std::string> words(allowed.begin(), allowed.end());
  return [words](const std::string& v) {
    std::string list;
    for (const auto& w : words) {
      if (v == w) return std::string();
      list += (list.empty() ? "" : ", ") + w;
    }
    return "must be one of " + list;
  };
}

// PostgreSQL's rule for replication slot names.
auto slot_name_rule() {
  return [](const std::string& v) {
    bool ok = !v.empty() && v.size() <= 63;
    for (char c : v) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
    return ok ? std::string() : "must be 1-63 of a-z, 0-9 and _";
  };
}

auto repository_rule() {
  return [](const std::string& v) {
    auto loc = parse_repository(v);
    return loc ? std::string() : loc.status().message();
  };
}

// Another node's repository: a path or a bucket, never this node's "local".
auto primary_repository_rule() {
  return [](const std::string& v) {
    auto loc = parse_repository(v);
    if (!loc) return loc.status().message();
    return loc->kind == RepositoryLocation::Kind::local
               ? std::string("must be an absolute path or \"s3://BUCKET[/PREFIX]\"")
               : std::string();
  };
}

auto url_rule() {
  return [](const std::string& v) {
    bool ok = (v.starts_with("http://") && v.size() > 7) || (v.starts_with("https://") && v.size() > 8);
    return ok ? std::string() : "must be an http:// or https:// URL";
  };
}

auto url_list_rule() {
  return [](const StringList& v) {
    if (v.empty()) return std::string("must name at least one URL");
    for (const auto& url : v)
      if (!(url.starts_with("http://") && url.size() > 7) && !(url.starts_with("https://") && url.size() > 8))
        return "must be http:// or https:// URLs (\"" + url + "\" is not)";
    for (const auto& url : v)
      if (url.find('@') != std::string::npos)
        return std::string("must not hold credentials (user@): use etcd_user and etcd_password_file");
    return std::string();
  };
}

// A unix socket's path: absolute and short enough for sun_path.
auto socket_path_rule() {
  return [](const std::string& v) {
    if (v.empty() || v[0] != '/') return std::string("must be an absolute path");
    if (v.size() > 100) return std::string("must be at most 100 bytes long (a unix socket path)");
    return std::string();
  };
}

auto exit_code_list_rule() {
  return [](const StringList& v) {
    for (const auto& code : v) {
      bool digits = !code.empty() && code.size() <= 3 && code.find_first_not_of("0123456789") == std::string::npos;
      if (!digits || std::stoi(code) > 255) return "must be exit statuses 0-255 (\"" + code + "\" is not)";
    }
    return std::string();
  };
}

// "KIND:SERVER", either part may be "*" (or a shell pattern).
auto lockable_rule() {
  return [](const StringList& v) {
    for (const auto& item : v) {
      size_t colon = item.find(':');
      if (colon == std::string::npos || colon == 0 || colon + 1 == item.size())
        return "must be KIND:SERVER patterns such as \"backup:main\" or \"*:*\" (\"" + item + "\" is not)";
    }
    return std::string();
  };
}

// "off", or IPv4-address:port.
auto listen_rule() {
  return [](const std::string& v) {
    if (v == "off") return std::string();
    size_t colon = v.rfind(':');
    std::string host = colon == std::string::npos ? "" : v.substr(0, colon);
    std::string port = colon == std::string::npos ? "" : v.substr(colon + 1);
    bool port_ok = !port.empty() && port.size() <= 5 && port.find_first_not_of("0123456789") == std::string::npos &&
                   std::stoi(port) >= 1 && std::stoi(port) <= 65535;
    in_addr addr{};
    if (!port_ok || ::inet_pton(AF_INET, host.c_str(), &addr) != 1)
      return std::string("must be \"off\" or ADDRESS:PORT, e.g. \"127.0.0.1:9187\"");
    return std::string();
  };
}

auto key_prefix_rule() {
  return [](const std::string& v) {
    bool ok = v.size() >= 2 && v.front() == '/' && v.back() == '/' && v.find("//") == std::string::npos;
    return ok ? std::string() : "must start and end with \"/\", e.g. \"/cellar/\"";
  };
}

auto in_range(int64_t lo, int64_t hi) {
  return [lo, hi](int64_t v) {
    if (v >= lo && v <= hi) return std::string();
    return "must be between " + std::to_string(lo) + " and " + std::to_string(hi);
  };
}

auto at_least(int64_t seconds) {
  return [seconds](Duration d) {
    return d.count() >= seconds ? std::string() : "must be at least " + std::to_string(seconds) + " seconds";
  };
}

auto duration_in(int64_t lo, int64_t hi) {
  return [lo, hi](Duration d) {
    if (d.count() >= lo && d.count() <= hi) return std::string();
    return "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + " seconds";
  };
}

// --- conversions: a TOML value into the accessor's type ----------------------

template <typename T>
std::string take(const ConfigValue& v, T& out, const char* what) {
  const T* p = std::get_if<T>(&v);
  if (!p) return std::string("must be ") + what;
  out = *p;
  return "";
}
std::string convert(const ConfigValue& v, std::string& out) { return take(v, out, "a string"); }
std::string convert(const ConfigValue& v, bool& out) { return take(v, out, "a boolean"); }
std::string convert(const ConfigValue& v, int64_t& out) { return take(v, out, "an integer"); }

// A parsed grammar: the value, or its "must be ..." message.
template <typename T>
std::string from_grammar(const ConfigValue& v, T& out, Result<T> (*parse)(std::string_view)) {
  const std::string* text = std::get_if<std::string>(&v);
  if (!text) return "must be a string";
  auto parsed = parse(*text);
  if (!parsed) return parsed.status().message();
  out = *parsed;
  return "";
}
std::string convert(const ConfigValue& v, RetentionPolicy& out) { return from_grammar(v, out, parse_retention_policy); }
std::string convert(const ConfigValue& v, Schedule& out) { return from_grammar(v, out, parse_schedule); }
// A list is kept joined with ",": split it back.
std::string convert(const ConfigValue& v, StringList& out) {
  const std::string* text = std::get_if<std::string>(&v);
  if (!text) return "must be a string or an array of strings";
  out.clear();
  size_t start = 0;
  for (;;) {
    size_t comma = text->find(',', start);
    std::string item = text->substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return "";
}
// A duration is a string of its grammar, or an integer number of seconds.
std::string convert(const ConfigValue& v, Duration& out) {
  if (const int64_t* secs = std::get_if<int64_t>(&v)) {
    if (*secs < 0) return "must not be negative";
    out = Duration(*secs);
    return "";
  }
  return from_grammar(v, out, parse_duration);
}

template <typename T>
constexpr KeyType toml_type_of() {
  if constexpr (std::is_same_v<T, bool>) return KeyType::boolean;
  if constexpr (std::is_same_v<T, int64_t>) return KeyType::integer;
  if constexpr (std::is_same_v<T, Duration>) return KeyType::duration;
  if constexpr (std::is_same_v<T, StringList>) return KeyType::string_list;
  return KeyType::string;
}

template <typename Accessor, typename Rule>
KeySpec make_spec(Key key, const char* name, KeyScope scope, const char* def, const char* meaning, Rule rule) {
  using T = typename AccessorValue<Accessor>::type;
  KeySpec spec{key, name, toml_type_of<T>(), scope, def, meaning, nullptr};
  spec.parse = [rule](const ConfigValue& value, TypedValue& out) -> std::string {
    T typed{};
    if (std::string why = convert(value, typed); !why.empty()) return why;
    if (std::string why = rule(typed); !why.empty()) return why;
    out = std::move(typed);
    return "";
  };
  return spec;
}

ConfigValue parse_default(const KeySpec& k) {
  std::string text = k.default_value;
  bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
  switch (k.type) {
    case KeyType::string:
    case KeyType::string_list:
      return text;
    case KeyType::boolean:
      return text == "true";
    case KeyType::integer:
      return static_cast<int64_t>(std::atoll(k.default_value));
    case KeyType::duration:
      return digits ? ConfigValue(static_cast<int64_t>(std::atoll(k.default_value))) : text;
  }
  return text;
}

std::vector<KeySpec> build_table() {
#define CELLAR_GLOBAL_SPEC(name, Type, def, rule, meaning) \
  make_spec<Type>(Key::name, #name, KeyScope::global_only, def, meaning, rule),
#define CELLAR_SERVER_SPEC(name, Type, def, rule, meaning) \
  make_spec<Type>(Key::name, #name, KeyScope::any, def, meaning, rule),
  std::vector<KeySpec> table = {CELLAR_GLOBAL_KEYS(CELLAR_GLOBAL_SPEC) CELLAR_SERVER_KEYS(CELLAR_SERVER_SPEC)};
#undef CELLAR_GLOBAL_SPEC
#undef CELLAR_SERVER_SPEC
  return table;
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

const std::vector<KeySpec>& key_specs() {
  static const std::vector<KeySpec> table = [] {
    std::vector<KeySpec> t = build_table();
    for (const KeySpec& spec : t) (void)default_setting(spec);  // aborts on a broken default
    return t;
  }();
  return table;
}

const KeySpec& spec_of(Key key) { return key_specs()[static_cast<size_t>(key)]; }

const KeySpec* find_key(const std::string& name) {
  for (const auto& k : key_specs())
    if (name == k.name) return &k;
  return nullptr;
}

std::string validate_value(const KeySpec& spec, const ConfigValue& value) {
  TypedValue ignored;
  return spec.parse(value, ignored);
}

Setting default_setting(const KeySpec& spec) {
  if (!spec.default_value) return Setting{std::string(), Source{}, false, {}};
  Setting s{parse_default(spec), Source{}, true, {}};
  if (std::string why = spec.parse(s.value, s.typed); !why.empty()) {
    // A bug in the table, not in anyone's configuration: stop at once.
    std::fprintf(stderr, "cellar: internal error: the default \"%s\" of key %s %s\n", spec.default_value, spec.name,
                 why.c_str());
    std::abort();
  }
  return s;
}

}  // namespace cellar
