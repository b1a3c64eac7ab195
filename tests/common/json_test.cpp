// The JSON value, writer and strict parser (common/json.h).
#include "common/json.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace cellar;
using Catch::Matchers::Contains;

namespace {

Json parse_ok(const std::string& text) {
  auto r = Json::parse(text);
  INFO(text);
  REQUIRE(r.is_ok());
  return *r;
}

std::string parse_error(const std::string& text) {
  auto r = Json::parse(text);
  INFO(text);
  REQUIRE_FALSE(r.is_ok());
  CHECK(r.status().code() == ErrorCode::usage);
  return r.status().message();
}

}  // namespace

TEST_CASE("values dump and parse back to the same text", "[common]") {
  Json doc = Json::object();
  doc.set("name", "main");
  doc.set("active", true);
  doc.set("passive", false);
  doc.set("count", 42);
  doc.set("big", int64_t{9007199254740993});
  doc.set("negative", -7);
  doc.set("ratio", 0.25);
  doc.set("whole", 1.0);
  doc.set("nothing", Json());
  Json arr = Json::array();
  arr.push(1);
  arr.push("two");
  arr.push(Json::object());
  arr.push(Json::array());
  doc.set("list", std::move(arr));

  for (int indent : {-1, 0, 2, 4}) {
    INFO("indent " << indent);
    std::string text = doc.dump(indent);
    Json back = parse_ok(text);
    CHECK(back.dump(indent) == text);
    CHECK(back.dump(-1) == doc.dump(-1));
  }
  Json back = parse_ok(doc.dump());
  CHECK(back.find("name")->as_string() == "main");
  CHECK(back.find("active")->as_bool());
  CHECK(back.find("count")->is_int());
  CHECK(back.find("count")->as_int() == 42);
  CHECK(back.find("big")->as_int() == 9007199254740993);
  CHECK(back.find("ratio")->as_double() == 0.25);
  // A double stays a double, even when it is whole.
  CHECK(back.find("whole")->is_double());
  CHECK(back.find("nothing")->is_null());
  CHECK(back.find("list")->as_array().size() == 4);
  CHECK(back.find("missing") == nullptr);
}

TEST_CASE("compact output has no white space and keeps insertion order", "[common]") {
  Json o = Json::object();
  o.set("z", 1);
  o.set("a", Json::array());
  o.set("m", "x");
  CHECK(o.dump(-1) == R"({"z":1,"a":[],"m":"x"})");
  o.set("z", 2);  // replacing keeps the position
  CHECK(o.dump(-1) == R"({"z":2,"a":[],"m":"x"})");
  CHECK(Json::array().dump() == "[]");
  CHECK(Json::object().dump() == "{}");
}

TEST_CASE("doubles dump as the shortest text that reads back exactly", "[common]") {
  for (double d : {0.1, 1.5, -2.0, 1e300, 123456.789, 0.30000000000000004}) {
    INFO(d);
    std::string text = Json(d).dump();
    CHECK(parse_ok(text).as_double() == d);
    CHECK(parse_ok(text).is_double());
  }
  CHECK(Json(0.1).dump() == "0.1");
  CHECK(Json(2.0).dump() == "2.0");
}

TEST_CASE("strings escape quotes, backslashes and control characters", "[common]") {
  const std::string raw = std::string("q\"b\\s/n\nr\rt\tb\bf\f") + '\x01' + '\x1f' + "end";
  std::string text = Json(raw).dump();
  CHECK(text == R"("q\"b\\s/n\nr\rt\tb\bf\f\u0001\u001fend")");
  CHECK(parse_ok(text).as_string() == raw);
  CHECK(json_quote("plain") == "\"plain\"");
  // UTF-8 passes through unchanged.
  CHECK(parse_ok(Json("héllo €").dump()).as_string() == "héllo €");
  CHECK(parse_ok(R"("a\/b")").as_string() == "a/b");
}

TEST_CASE("unicode escapes decode to UTF-8, surrogate pairs included", "[common]") {
  CHECK(parse_ok(R"("\u0041")").as_string() == "A");
  CHECK(parse_ok(R"("\u00e9")").as_string() == "\xC3\xA9");
  CHECK(parse_ok(R"("\u00E9")").as_string() == "\xC3\xA9");
  CHECK(parse_ok(R"("\u20AC")").as_string() == "\xE2\x82\xAC");
  CHECK(parse_ok(R"("\uD83D\uDE00")").as_string() == "\xF0\x9F\x98\x80");  // U+1F600
  CHECK(parse_ok(R"("\uDBFF\uDFFF")").as_string() == "\xF4\x8F\xBF\xBF");  // U+10FFFF
  CHECK_THAT(parse_error(R"("\uD83D")"), Contains("surrogate"));
  CHECK_THAT(parse_error(R"("\uD83Dx")"), Contains("surrogate"));
  CHECK_THAT(parse_error(R"("\uD83D\u0041")"), Contains("surrogate"));
  CHECK_THAT(parse_error(R"("\uDE00")"), Contains("surrogate"));
  CHECK_THAT(parse_error(R"("\u12")"), Contains("escape"));
  CHECK_THAT(parse_error(R"("\u12G4")"), Contains("escape"));
  CHECK_THAT(parse_error(R"("\x41")"), Contains("invalid escape"));
}

TEST_CASE("numbers follow RFC 8259", "[common]") {
  CHECK(parse_ok("0").as_int() == 0);
  CHECK(parse_ok("-0").as_int() == 0);
  CHECK(parse_ok("-12").as_int() == -12);
  CHECK(parse_ok("9223372036854775807").as_int() == INT64_MAX);
  CHECK(parse_ok("1.5e3").as_double() == 1500.0);
  CHECK(parse_ok("1E-2").as_double() == 0.01);
  CHECK(parse_ok("99999999999999999999").is_double());  // beyond int64
  for (const char* bad : {"01", "1.", ".5", "-", "+1", "1e", "1e+", "0x10", "NaN", "Infinity", "--1"}) {
    INFO(bad);
    CHECK_FALSE(Json::parse(bad).is_ok());
  }
}

TEST_CASE("parse errors give the line and the column", "[common]") {
  CHECK_THAT(parse_error("{\n  \"a\": 1,\n  \"b\" 2\n}"), Contains("line 3, column 7") && Contains("expected ':'"));
  CHECK_THAT(parse_error("[1, 2,\n]"), Contains("line 2, column 1"));
  CHECK_THAT(parse_error("[tru]"), Contains("line 1, column 2") && Contains("invalid literal"));
  CHECK_THAT(parse_error(""), Contains("unexpected end of input"));
  CHECK_THAT(parse_error("{\"a\": [1, 2}"), Contains("expected ',' or ']'"));
  CHECK_THAT(parse_error("\"abc"), Contains("unterminated string"));
  CHECK_THAT(parse_error("\"a\nb\""), Contains("control character") && Contains("line 1, column 3"));
  CHECK_THAT(parse_error("{1: 2}"), Contains("expected a string key"));
  CHECK_THAT(parse_error("{'a': 2}"), Contains("expected a string key"));
  CHECK_THAT(parse_error("@"), Contains("unexpected character '@'"));
}

TEST_CASE("duplicate keys are rejected", "[common]") {
  CHECK_THAT(parse_error(R"({"a": 1, "b": 2, "a": 3})"), Contains("duplicate key \"a\""));
  CHECK_THAT(parse_error(R"({"x": {"a": 1, "a": 1}})"), Contains("duplicate key \"a\""));
  // The same key in different objects is fine.
  CHECK(Json::parse(R"([{"a": 1}, {"a": 2}])").is_ok());
}

TEST_CASE("text after the value is rejected", "[common]") {
  CHECK_THAT(parse_error("{} {}"), Contains("unexpected text after the JSON value") && Contains("column 4"));
  CHECK_THAT(parse_error("[1]]"), Contains("unexpected text"));
  CHECK_THAT(parse_error("1 2"), Contains("unexpected text"));
  CHECK_THAT(parse_error("null x"), Contains("unexpected text"));
  CHECK(Json::parse("  {\"a\": 1}\n\t\r\n ").is_ok());
}

TEST_CASE("deep nesting is bounded instead of exhausting the stack", "[common]") {
  auto nested = [](int depth) {
    return std::string(static_cast<size_t>(depth), '[') + std::string(static_cast<size_t>(depth), ']');
  };
  CHECK(Json::parse(nested(100)).is_ok());
  CHECK_THAT(parse_error(nested(1000)), Contains("nesting too deep"));
  CHECK_THAT(parse_error(std::string(1000000, '[')), Contains("nesting too deep"));
  std::string objects;
  for (int i = 0; i < 500; ++i) objects += "{\"a\":";
  CHECK_THAT(parse_error(objects), Contains("nesting too deep"));
}
