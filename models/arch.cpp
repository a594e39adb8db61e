#include <cstdlib>
#include <sstream>
#include <stdexcept>

#include "autodiff/dsl.h"
#include "models/models.h"

namespace gradc {

std::string arch_text(const Arch& a, ArchKind kind) {
  std::ostringstream s;
  if (kind == ArchKind::Mlp) {
    s << "hidden=";
    for (size_t i = 0; i < a.hidden.size(); ++i) s << (i ? "," : "") << a.hidden[i];
    s << " activation=" << a.activation << " dropout=" << a.dropout;
  } else if (kind == ArchKind::Cnn) {
    s << "filters=" << a.filters << " kernel=" << a.kernel << " dense=" << a.dense;
  } else if (kind == ArchKind::Convnet) {
    s << "conv=";
    for (size_t i = 0; i < a.conv.size(); ++i) s << (i ? "," : "") << a.conv[i];
    s << " pool=" << a.pool << " batch_norm=" << (a.batch_norm ? 1 : 0);
  }
  return s.str();
}

namespace {
int64_t positive(const std::string& field, const std::string& v) {
  char* end = nullptr;
  const long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n < 1 || n > (1 << 20))
    throw std::invalid_argument("gradc: architecture field " + field + "='" + v +
                                "' is not an integer in [1, 1048576]");
  return n;
}
}  // namespace

Arch parse_arch(const std::string& text, ArchKind kind) {
  Arch a;
  std::istringstream in(text);
  std::string item;
  while (in >> item) {
    const auto eq = item.find('=');
    const std::string k = item.substr(0, eq), v = eq == std::string::npos ? "" : item.substr(eq + 1);
    if (k == "hidden" || k == "conv") {
      std::vector<int64_t>& list = k == "hidden" ? a.hidden : a.conv;
      list.clear();
      std::istringstream widths(v);
      for (std::string w; std::getline(widths, w, ',');) list.push_back(positive(k, w));
    } else if (k == "pool") {
      a.pool = v;
    } else if (k == "batch_norm") {
      if (v != "0" && v != "1") throw std::invalid_argument("gradc: architecture field batch_norm='" + v + "'");
      a.batch_norm = v == "1";
    } else if (k == "activation") {
      a.activation = v;
    } else if (k == "dropout") {
      char* end = nullptr;
      a.dropout = std::strtof(v.c_str(), &end);
      if (v.empty() || *end != '\0') throw std::invalid_argument("gradc: architecture field dropout='" + v + "'");
    } else if (k == "filters" || k == "kernel" || k == "dense") {
      (k == "filters" ? a.filters : k == "kernel" ? a.kernel : a.dense) = positive(k, v);
    } else {
      throw std::invalid_argument("gradc: unknown architecture field '" + item + "'");
    }
  }
  check_arch(a, kind);
  return a;
}

void check_arch(const Arch& a, ArchKind kind) {
  if (kind == ArchKind::Mlp) {
    for (int64_t w : a.hidden)
      if (w < 1) throw std::invalid_argument("gradc: --hidden widths must be at least 1");
    bool known = false;
    for (const ActivationInfo& act : activations()) known |= a.activation == act.name;
    if (!known) {
      std::string names;
      for (const ActivationInfo& act : activations()) names += (names.empty() ? "" : ", ") + std::string(act.name);
      throw std::invalid_argument("gradc: --activation '" + a.activation + "' is not one of " + names);
    }
    if (!(a.dropout >= 0 && a.dropout < 1)) throw std::invalid_argument("gradc: --dropout must be in [0, 1)");
  } else if (kind == ArchKind::Cnn) {
    if (a.filters < 1 || a.dense < 1) throw std::invalid_argument("gradc: --filters and --dense must be at least 1");
    if (a.kernel < 1 || a.kernel > 28)
      throw std::invalid_argument("gradc: --kernel " + std::to_string(a.kernel) + " does not fit a 28x28 image");
  } else if (kind == ArchKind::Convnet) {
    if (a.pool != "max" && a.pool != "avg")
      throw std::invalid_argument("gradc: --pool '" + a.pool + "' is not max or avg");
    int64_t side = 28;  // each block: a valid 3×3 convolution, then a 2×2 pooling
    for (size_t i = 0; i < a.conv.size(); ++i) {
      if (a.conv[i] < 1) throw std::invalid_argument("gradc: --conv widths must be at least 1");
      side = (side - 2) / 2;
      if (side < 1)
        throw std::invalid_argument("gradc: --conv has " + std::to_string(a.conv.size()) +
                                    " blocks; a 28x28 image fits at most 3 (3x3 convolution + 2x2 pooling each)");
    }
  }
}

}  // namespace gradc
