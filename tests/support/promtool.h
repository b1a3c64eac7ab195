// The real Prometheus parser for the metrics tests: `promtool check metrics`
// (Debian's prometheus package, installed by scripts/setup).
#pragma once

#include <string>

namespace cellar::test {

// REQUIREs that promtool is installed (a missing one fails, never skips)
// and that it accepts `text` with no lint output.
void require_promtool_clean(const std::string& text);

}  // namespace cellar::test
