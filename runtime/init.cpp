#include "runtime/init.h"

#include <cmath>
#include <random>

namespace gradc {

std::vector<float> init_param(const Node& p) {
  const Shape& s = p.shape;
  std::vector<float> v(static_cast<size_t>(s.numel()), 0.f);
  std::mt19937_64 rng(p.a.seed);
  // Drawn from raw 64-bit words (not std distributions) so values do not depend on the library.
  auto uniform01 = [&rng] { return static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0); };
  switch (p.a.init) {
    case Init::None:
    case Init::Zeros:
      break;
    case Init::Fill:
      for (float& x : v) x = p.a.value;
      break;
    case Init::GlorotUniform: {
      double fan_in, fan_out;
      if (s.rank == 4) {
        double rf = static_cast<double>(s[0] * s[1]);
        fan_in = rf * static_cast<double>(s[2]);
        fan_out = rf * static_cast<double>(s[3]);
      } else {
        fan_out = static_cast<double>(s.cols());
        fan_in = static_cast<double>(s.rank >= 2 ? s.rows() : s.cols());
      }
      double limit = std::sqrt(6.0 / (fan_in + fan_out));
      for (float& x : v) x = static_cast<float>((2.0 * uniform01() - 1.0) * limit);
      break;
    }
    case Init::Normal: {  // Box-Muller, stddev = value
      for (size_t k = 0; k < v.size(); ++k) {
        double u1 = uniform01(), u2 = uniform01();
        if (u1 < 1e-300) u1 = 1e-300;
        v[k] = static_cast<float>(p.a.value * std::sqrt(-2.0 * std::log(u1)) * std::cos(2 * M_PI * u2));
      }
      break;
    }
  }
  return v;
}

}  // namespace gradc
