// Time as text, in UTC: one routine for every strftime of a unix time.
#pragma once

#include <ctime>
#include <string>

namespace cellar {

// `t` formatted by strftime's `format` in UTC, e.g. "%Y-%m-%d %H:%M:%S UTC".
std::string format_utc(std::time_t t, const char* format = "%Y-%m-%d %H:%M:%S UTC");

// "3d 4h", "2h 5m", "4m 12s", "9s": a duration in its two largest units.
std::string format_span(long long seconds);

}  // namespace cellar
