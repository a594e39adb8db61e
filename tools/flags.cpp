#include "tools/flags.h"

#include <cerrno>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace gradc::cli {

namespace {
std::string short_num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}
}  // namespace

CLI::Validator finite_float(double lo, double hi, Bound low) {
  const std::string range = std::string(low == Bound::Open ? "(" : "[") + short_num(lo) + ", " + short_num(hi) + "]";
  return CLI::Validator(
      [lo, hi, low, range](std::string& text) -> std::string {
        const char* b = text.c_str();
        char* end = nullptr;
        errno = 0;
        const double v = std::strtod(b, &end);
        if (end == b || *end != '\0') return "'" + text + "' is not a number";
        if (!std::isfinite(v) || errno == ERANGE || std::fabs(v) > FLT_MAX)
          return "'" + text + "' is not a finite float";
        if (v < lo || v > hi || (low == Bound::Open && v == lo)) return "'" + text + "' is outside " + range;
        return "";
      },
      "FLOAT in " + range);
}

CLI::Validator unsigned64() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        bool digits = !text.empty();
        for (char c : text) digits &= c >= '0' && c <= '9';
        if (!digits) return "'" + text + "' is not a non-negative decimal integer";
        errno = 0;
        std::strtoull(text.c_str(), nullptr, 10);
        if (errno == ERANGE) return "'" + text + "' exceeds 18446744073709551615";
        return "";
      },
      "UINT64");
}

}  // namespace gradc::cli
