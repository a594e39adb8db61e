#include "models/metadata.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "runtime/dataset.h"

namespace gradc {

std::string format(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

std::string exact(double v) { return format("%.17g", v); }

std::string grouped(int64_t v) {
  std::string t = std::to_string(v), out;
  for (size_t i = 0; i < t.size(); ++i) {
    if (i && (t.size() - i) % 3 == 0 && t[i - 1] != '-') out += ',';
    out += t[i];
  }
  return out;
}

int64_t metadata_int(const std::map<std::string, std::string>& metadata, const std::string& key, int64_t max,
                     const std::string& path) {
  auto it = metadata.find(key);
  if (it == metadata.end()) throw DataError("gradc: " + path + ": metadata has no '" + key + "'");
  const std::string& s = it->second;
  bool ok = !s.empty() && s.size() <= 18;  // 18 digits cannot overflow int64
  for (char ch : s) ok &= ch >= '0' && ch <= '9';
  const int64_t v = ok ? std::stoll(s) : -1;
  if (!ok || v > max)
    throw DataError("gradc: " + path + ": metadata '" + key + "' is '" + s.substr(0, 40) +
                    "', expected an integer in [0, " + std::to_string(max) + "]");
  return v;
}

double metadata_real(const std::map<std::string, std::string>& metadata, const std::string& key,
                     const std::string& path) {
  auto it = metadata.find(key);
  if (it == metadata.end()) throw DataError("gradc: " + path + ": metadata has no '" + key + "'");
  const char* b = it->second.c_str();
  char* end = nullptr;
  const double v = std::strtod(b, &end);
  if (end == b || *end != '\0' || std::isnan(v))
    throw DataError("gradc: " + path + ": metadata '" + key + "' is '" + it->second.substr(0, 40) +
                    "', expected a number");
  return v;
}

}  // namespace gradc

namespace gradc {

double metadata_real_in(const std::map<std::string, std::string>& metadata, const std::string& key,
                        const std::string& path, double lo, double hi, bool lo_open) {
  const double v = metadata_real(metadata, key, path);
  if ((lo_open ? v > lo : v >= lo) && v <= hi) return v;
  throw DataError("gradc: " + path + ": metadata '" + key + "' is '" + metadata.at(key).substr(0, 40) +
                  "', expected a number in " + (lo_open ? "(" : "[") + format("%g", lo) + ", " + format("%g", hi) +
                  "]");
}

}  // namespace gradc
