// The text exposition format 0.0.4 (Prometheus' "Exposition formats"): a
// family is "# HELP name text", "# TYPE name type", then one line per sample,
// "name{label="value",...} value".
#include <charconv>
#include <cmath>

#include "metrics/metrics.h"

namespace cellar::metrics {
namespace {

// Help text and label values may not hold a raw newline, and a backslash
// starts an escape; label values are quoted, so their quotes are escaped too.
std::string escape(const std::string& text, bool quoted) {
  std::string out;
  for (char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '"' && quoted)
      out += "\\\"";
    else
      out += c;
  }
  return out;
}

// Go's ParseFloat spellings for the special values; otherwise the shortest
// text that reads back as the same double (so counts and byte sizes print
// as integers, not 1e+06).
std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  std::to_chars_result r;
  if (std::trunc(v) == v && std::fabs(v) < 1e15)
    r = std::to_chars(buf, buf + sizeof buf, static_cast<long long>(v));
  else
    r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string sample_line(const std::string& name, const Sample& s) {
  std::string line = name;
  if (!s.labels.empty()) {
    line += '{';
    for (size_t i = 0; i < s.labels.size(); ++i)
      line += (i ? "," : "") + s.labels[i].first + "=\"" + escape(s.labels[i].second, true) + "\"";
    line += '}';
  }
  return line + " " + format_value(s.value) + "\n";
}

}  // namespace

std::string render(const std::vector<Family>& families) {
  std::string out;
  for (const Family& f : families) {
    out += "# HELP " + f.name + " " + escape(f.help, false) + "\n";
    out += "# TYPE " + f.name + " " + f.type + "\n";
    for (const Sample& s : f.samples) out += sample_line(f.name, s);
  }
  return out;
}

}  // namespace cellar::metrics
