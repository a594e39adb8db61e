// The targets the JIT tests run for: x86-64-v3 (AVX2+FMA) on every host gradc supports, and
// x86-64-v4 (AVX-512) wherever the host can execute it (skipped elsewhere, saying why). So CI on
// any machine covers the AVX2 code, and the AVX-512 code wherever it exists.
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "compiler/target.h"

namespace gradc::testing_targets {

inline const std::vector<std::string>& names() {
  static const std::vector<std::string> n = {"x86-64-v3", "x86-64-v4"};
  return n;
}

// gtest parameter names may hold only [A-Za-z0-9_].
inline std::string ident(const std::string& target) {
  std::string s = target;
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

// Makes `name` the process's default target for its scope: every compile() and Program built in
// the scope uses it. A test starts with
//   ScopedTarget t(name); if (!t.runnable()) GTEST_SKIP() << t.why();
class ScopedTarget {
 public:
  explicit ScopedTarget(const std::string& name) : previous_(default_target().name) { set_default_target(name); }
  explicit ScopedTarget(const Target& t) : previous_(default_target().name) { set_default_target(t); }
  ~ScopedTarget() { set_default_target(previous_); }
  ScopedTarget(const ScopedTarget&) = delete;
  ScopedTarget& operator=(const ScopedTarget&) = delete;
  bool runnable() const { return default_target().runnable; }
  std::string why() const { return default_target().name + " cannot run on this host: " + default_target().describe(); }

 private:
  std::string previous_;
};

}  // namespace gradc::testing_targets
