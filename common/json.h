// A small JSON value with a writer and a strict parser. cellar prints JSON for
// `--format json` and reads it for config-update and sync-info; no JSON library
// is among the allowed dependencies, so this is the one place that knows the
// syntax. Objects keep insertion order so output is stable and readable.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "common/status.h"

namespace cellar {

class Json {
 public:
  using Array = std::vector<Json>;
  using Object = std::vector<std::pair<std::string, Json>>;

  Json() = default;  // null
  Json(std::nullptr_t) {}
  Json(bool b) : v_(b) {}
  Json(int i) : v_(static_cast<int64_t>(i)) {}
  Json(int64_t i) : v_(i) {}
  Json(uint64_t i) : v_(static_cast<int64_t>(i)) {}
  Json(double d) : v_(d) {}
  Json(const char* s) : v_(std::string(s)) {}
  Json(std::string s) : v_(std::move(s)) {}
  Json(Array a) : v_(std::move(a)) {}
  Json(Object o) : v_(std::move(o)) {}

  static Json object() { return Json(Object{}); }
  static Json array() { return Json(Array{}); }

  bool is_null() const { return v_.index() == 0; }
  bool is_bool() const { return v_.index() == 1; }
  bool is_int() const { return v_.index() == 2; }
  bool is_double() const { return v_.index() == 3; }
  bool is_number() const { return is_int() || is_double(); }
  bool is_string() const { return v_.index() == 4; }
  bool is_array() const { return v_.index() == 5; }
  bool is_object() const { return v_.index() == 6; }

  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return is_int() ? std::get<int64_t>(v_) : static_cast<int64_t>(std::get<double>(v_)); }
  double as_double() const { return is_double() ? std::get<double>(v_) : static_cast<double>(std::get<int64_t>(v_)); }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const Array& as_array() const { return std::get<Array>(v_); }
  Array& as_array() { return std::get<Array>(v_); }
  const Object& as_object() const { return std::get<Object>(v_); }

  // Object access: set replaces an existing key or appends; find returns null if absent.
  Json& set(const std::string& key, Json value);
  const Json* find(const std::string& key) const;
  void push(Json value) { as_array().push_back(std::move(value)); }

  // Compact when indent < 0, else pretty with `indent` spaces.
  std::string dump(int indent = 2) const;

  // Strict RFC 8259 parse; errors give the line and column.
  static Result<Json> parse(const std::string& text);

 private:
  void dump_to(std::string& out, int indent, int depth) const;
  std::variant<std::nullptr_t, bool, int64_t, double, std::string, Array, Object> v_;
};

std::string json_quote(const std::string& s);

}  // namespace cellar
