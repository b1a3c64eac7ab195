// metrics::render without PostgreSQL: the text exposition format 0.0.4,
// line by line.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "metrics/metrics.h"

using cellar::metrics::Family;
using cellar::metrics::render;

TEST_CASE("render writes HELP and TYPE once per family, then its samples, families in the given order", "[metrics]") {
  std::vector<Family> families = {
      {"zeta_up", "is zeta up", "gauge", {{{{"server", "a"}}, 1}, {{{"server", "b"}}, 0}}},
      {"alpha_requests_total", "requests served", "counter", {{{}, 7}}},
  };
  CHECK(render(families) ==
        "# HELP zeta_up is zeta up\n"
        "# TYPE zeta_up gauge\n"
        "zeta_up{server=\"a\"} 1\n"
        "zeta_up{server=\"b\"} 0\n"
        "# HELP alpha_requests_total requests served\n"
        "# TYPE alpha_requests_total counter\n"
        "alpha_requests_total 7\n");
}

TEST_CASE("render keeps the labels of a sample in the order given", "[metrics]") {
  std::vector<Family> families = {{"x", "h", "gauge", {{{{"b", "2"}, {"a", "1"}, {"c", "3"}}, 5}}}};
  CHECK(render(families) == "# HELP x h\n# TYPE x gauge\nx{b=\"2\",a=\"1\",c=\"3\"} 5\n");
}

TEST_CASE("render escapes backslash, double quote and newline in label values", "[metrics]") {
  std::vector<Family> families = {{"x", "h", "gauge", {{{{"path", "C:\\dir \"q\"\nnext"}}, 1}}}};
  CHECK(render(families) == "# HELP x h\n# TYPE x gauge\nx{path=\"C:\\\\dir \\\"q\\\"\\nnext\"} 1\n");
}

TEST_CASE("render escapes backslash and newline in help text but leaves its quotes alone", "[metrics]") {
  std::vector<Family> families = {{"x", "a \\ b\n\"c\"", "gauge", {}}};
  CHECK(render(families) == "# HELP x a \\\\ b\\n\"c\"\n# TYPE x gauge\n");
}

TEST_CASE("render writes whole values without a fraction and others so that they read back the same", "[metrics]") {
  auto value_of = [](double v) {
    std::string text = render({{"x", "h", "gauge", {{{}, v}}}});
    return text.substr(text.rfind(' ') + 1);
  };
  CHECK(value_of(0) == "0\n");
  CHECK(value_of(-3) == "-3\n");
  CHECK(value_of(17179869184.0) == "17179869184\n");  // 16 GiB, not 1.7179869184e+10
  CHECK(value_of(0.25) == "0.25\n");
  CHECK(std::stod(value_of(1.0 / 3)) == 1.0 / 3);
  CHECK(value_of(1e300) == "1e+300\n");
  CHECK(value_of(std::numeric_limits<double>::quiet_NaN()) == "NaN\n");
  CHECK(value_of(std::numeric_limits<double>::infinity()) == "+Inf\n");
  CHECK(value_of(-std::numeric_limits<double>::infinity()) == "-Inf\n");
}

TEST_CASE("render of no families is empty", "[metrics]") { CHECK(render({}).empty()); }
