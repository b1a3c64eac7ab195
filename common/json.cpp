#include "common/json.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace cellar {

Json& Json::set(const std::string& key, Json value) {
  auto& obj = std::get<Object>(v_);
  for (auto& [k, v] : obj) {
    if (k == key) {
      v = std::move(value);
      return v;
    }
  }
  obj.emplace_back(key, std::move(value));
  return obj.back().second;
}

const Json* Json::find(const std::string& key) const {
  if (!is_object()) return nullptr;
  for (const auto& [k, v] : as_object())
    if (k == key) return &v;
  return nullptr;
}

std::string json_quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

static void newline(std::string& out, int indent, int depth) {
  if (indent < 0) return;
  out += '\n';
  out.append(static_cast<size_t>(indent * depth), ' ');
}

void Json::dump_to(std::string& out, int indent, int depth) const {
  switch (v_.index()) {
    case 0:
      out += "null";
      break;
    case 1:
      out += as_bool() ? "true" : "false";
      break;
    case 2:
      out += std::to_string(std::get<int64_t>(v_));
      break;
    case 3: {
      double d = std::get<double>(v_);
      if (!std::isfinite(d)) {
        out += "null";
        break;
      }
      char buf[32];
      // The shortest of %.15g..%.17g that reads back as the same double.
      for (int precision = 15; precision <= 17; ++precision) {
        std::snprintf(buf, sizeof buf, "%.*g", precision, d);
        if (std::strtod(buf, nullptr) == d) break;
      }
      out += buf;
      // Keep it a double when read back: 1.0 is "1.0", not "1".
      if (std::string_view(buf).find_first_of(".eE") == std::string_view::npos) out += ".0";
      break;
    }
    case 4:
      out += json_quote(as_string());
      break;
    case 5: {
      const auto& arr = as_array();
      out += '[';
      for (size_t i = 0; i < arr.size(); ++i) {
        if (i) out += ',';
        newline(out, indent, depth + 1);
        arr[i].dump_to(out, indent, depth + 1);
      }
      if (!arr.empty()) newline(out, indent, depth);
      out += ']';
      break;
    }
    case 6: {
      const auto& obj = as_object();
      out += '{';
      for (size_t i = 0; i < obj.size(); ++i) {
        if (i) out += ',';
        newline(out, indent, depth + 1);
        out += json_quote(obj[i].first);
        out += indent < 0 ? ":" : ": ";
        obj[i].second.dump_to(out, indent, depth + 1);
      }
      if (!obj.empty()) newline(out, indent, depth);
      out += '}';
      break;
    }
  }
}

std::string Json::dump(int indent) const {
  std::string out;
  dump_to(out, indent, 0);
  return out;
}

namespace {

// Recursive-descent parser over the whole text; positions reported 1-based.
class Parser {
 public:
  explicit Parser(const std::string& t) : t_(t) {}

  Result<Json> run() {
    Json v;
    if (!value(v, 0)) return err();
    skip_ws();
    if (i_ != t_.size()) {
      fail("unexpected text after the JSON value");
      return err();
    }
    return v;
  }

 private:
  Status err() const {
    size_t line = 1, col = 1;
    for (size_t k = 0; k < where_ && k < t_.size(); ++k) {
      if (t_[k] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    return Status::usage("invalid JSON at line " + std::to_string(line) + ", column " + std::to_string(col) + ": " +
                         msg_);
  }
  bool fail(const std::string& m) {
    if (msg_.empty()) {
      msg_ = m;
      where_ = i_;
    }
    return false;
  }
  void skip_ws() {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\n' || t_[i_] == '\r')) ++i_;
  }
  bool literal(const char* word, Json v, Json& out) {
    std::string w(word);
    if (t_.compare(i_, w.size(), w) != 0) return fail("invalid literal");
    i_ += w.size();
    out = std::move(v);
    return true;
  }
  bool value(Json& out, int depth) {
    if (depth > 200) return fail("nesting too deep");
    skip_ws();
    if (i_ >= t_.size()) return fail("unexpected end of input");
    char c = t_[i_];
    if (c == '{') return object(out, depth);
    if (c == '[') return array(out, depth);
    if (c == '"') {
      std::string s;
      if (!string(s)) return false;
      out = Json(std::move(s));
      return true;
    }
    if (c == 't') return literal("true", Json(true), out);
    if (c == 'f') return literal("false", Json(false), out);
    if (c == 'n') return literal("null", Json(), out);
    if (c == '-' || (c >= '0' && c <= '9')) return number(out);
    return fail(std::string("unexpected character '") + c + "'");
  }
  bool object(Json& out, int depth) {
    ++i_;
    Json obj = Json::object();
    skip_ws();
    if (i_ < t_.size() && t_[i_] == '}') {
      ++i_;
      out = std::move(obj);
      return true;
    }
    for (;;) {
      skip_ws();
      if (i_ >= t_.size() || t_[i_] != '"') return fail("expected a string key");
      std::string key;
      if (!string(key)) return false;
      skip_ws();
      if (i_ >= t_.size() || t_[i_] != ':') return fail("expected ':'");
      ++i_;
      Json v;
      if (!value(v, depth + 1)) return false;
      if (obj.find(key)) return fail("duplicate key \"" + key + "\"");
      obj.set(key, std::move(v));
      skip_ws();
      if (i_ < t_.size() && t_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < t_.size() && t_[i_] == '}') {
        ++i_;
        out = std::move(obj);
        return true;
      }
      return fail("expected ',' or '}'");
    }
  }
  bool array(Json& out, int depth) {
    ++i_;
    Json arr = Json::array();
    skip_ws();
    if (i_ < t_.size() && t_[i_] == ']') {
      ++i_;
      out = std::move(arr);
      return true;
    }
    for (;;) {
      Json v;
      if (!value(v, depth + 1)) return false;
      arr.push(std::move(v));
      skip_ws();
      if (i_ < t_.size() && t_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < t_.size() && t_[i_] == ']') {
        ++i_;
        out = std::move(arr);
        return true;
      }
      return fail("expected ',' or ']'");
    }
  }
  static void put_utf8(std::string& s, uint32_t cp) {
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else if (cp < 0x800) {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += static_cast<char>(0xE0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      s += static_cast<char>(0xF0 | (cp >> 18));
      s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  bool hex4(uint32_t& cp) {
    if (i_ + 4 > t_.size()) return fail("truncated \\u escape");
    cp = 0;
    for (int k = 0; k < 4; ++k) {
      char h = t_[i_++];
      cp <<= 4;
      if (h >= '0' && h <= '9')
        cp |= static_cast<uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f')
        cp |= static_cast<uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F')
        cp |= static_cast<uint32_t>(h - 'A' + 10);
      else
        return fail("invalid \\u escape");
    }
    return true;
  }
  bool string(std::string& s) {
    ++i_;
    for (;;) {
      if (i_ >= t_.size()) return fail("unterminated string");
      char c = t_[i_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) {
        --i_;
        return fail("control character in string");
      }
      if (c != '\\') {
        s += c;
        continue;
      }
      if (i_ >= t_.size()) return fail("unterminated string");
      char e = t_[i_++];
      switch (e) {
        case '"':
          s += '"';
          break;
        case '\\':
          s += '\\';
          break;
        case '/':
          s += '/';
          break;
        case 'b':
          s += '\b';
          break;
        case 'f':
          s += '\f';
          break;
        case 'n':
          s += '\n';
          break;
        case 'r':
          s += '\r';
          break;
        case 't':
          s += '\t';
          break;
        case 'u': {
          uint32_t cp;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t lo;
            if (t_.compare(i_, 2, "\\u") != 0) return fail("unpaired surrogate");
            i_ += 2;
            if (!hex4(lo) || lo < 0xDC00 || lo > 0xDFFF) return fail("unpaired surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return fail("unpaired surrogate");  // a low half alone is not a character
          }
          put_utf8(s, cp);
          break;
        }
        default:
          --i_;
          return fail("invalid escape");
      }
    }
  }
  bool number(Json& out) {
    size_t start = i_;
    if (t_[i_] == '-') ++i_;
    if (i_ >= t_.size() || !isdigit(static_cast<unsigned char>(t_[i_]))) return fail("invalid number");
    if (t_[i_] == '0')
      ++i_;
    else
      while (i_ < t_.size() && isdigit(static_cast<unsigned char>(t_[i_]))) ++i_;
    bool is_float = false;
    if (i_ < t_.size() && t_[i_] == '.') {
      is_float = true;
      ++i_;
      if (i_ >= t_.size() || !isdigit(static_cast<unsigned char>(t_[i_]))) return fail("invalid number");
      while (i_ < t_.size() && isdigit(static_cast<unsigned char>(t_[i_]))) ++i_;
    }
    if (i_ < t_.size() && (t_[i_] == 'e' || t_[i_] == 'E')) {
      is_float = true;
      ++i_;
      if (i_ < t_.size() && (t_[i_] == '+' || t_[i_] == '-')) ++i_;
      if (i_ >= t_.size() || !isdigit(static_cast<unsigned char>(t_[i_]))) return fail("invalid number");
      while (i_ < t_.size() && isdigit(static_cast<unsigned char>(t_[i_]))) ++i_;
    }
    std::string num = t_.substr(start, i_ - start);
    if (is_float) {
      out = Json(std::strtod(num.c_str(), nullptr));
    } else {
      errno = 0;
      long long v = std::strtoll(num.c_str(), nullptr, 10);
      if (errno == ERANGE)
        out = Json(std::strtod(num.c_str(), nullptr));
      else
        out = Json(static_cast<int64_t>(v));
    }
    return true;
  }

  const std::string& t_;
  size_t i_ = 0;
  size_t where_ = 0;
  std::string msg_;
};

}  // namespace

Result<Json> Json::parse(const std::string& text) { return Parser(text).run(); }

}  // namespace cellar
