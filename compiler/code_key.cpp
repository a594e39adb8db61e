#include "compiler/code_key.h"

#include <cstring>
#include <string_view>
#include <type_traits>

namespace gradc {

namespace {
class Bytes {
 public:
  template <class T>
  requires std::is_trivially_copyable_v<T> Bytes& operator<<(const T& v) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));  // bit patterns: 0.1f and 0.1000001f, -0.f and 0.f differ
    s_.append(b, sizeof(T));
    return *this;
  }
  Bytes& operator<<(const Shape& sh) {
    *this << sh.rank;
    for (int k = 0; k < sh.rank; ++k) *this << sh[k];
    return *this;
  }
  template <class T>
  Bytes& operator<<(const std::vector<T>& v) {
    *this << v.size();
    for (const T& x : v) *this << x;
    return *this;
  }
  Bytes& operator<<(const std::string& v) {
    *this << v.size();
    s_ += v;
    return *this;
  }
  std::string take() { return std::move(s_); }

 private:
  std::string s_;
};

// One node: op, dtype, role, shape, inputs `in` and every attribute. A parameter's init, scale and
// seed only give its initial values, which are data, not code.
void write_node(Bytes& b, const Node& n, const std::vector<int>& in) {
  b << n.op << n.dtype << n.role << n.shape << in;
  const bool init_only = n.op == Op::Parameter;
  for_each_attr(n.a, [&](std::string_view name, const auto& field) {
    if (init_only && (name == "init" || name == "value" || name == "seed")) return;
    b << field;
  });
}
}  // namespace

std::string node_key(const Node& n, const std::vector<int>& in) {
  Bytes b;
  write_node(b, n, in);
  return b.take();
}

std::string code_key(const Graph& g) {
  Bytes b;
  b << g.size();
  for (const Node& n : g.nodes()) write_node(b, n, n.in);
  b << g.outputs();
  b << g.updates().size();
  for (const Graph::Update& u : g.updates()) b << u.param << u.value;
  return b.take();
}

std::string target_key(const Target& t) {
  Bytes b;
  b << t.cpu << t.tune_cpu << t.features << t.isa << t.lanes << t.vector_regs << t.mask_regs << t.l1d_bytes
    << t.l2_bytes << t.fma_latency << t.fma_pipes << t.cores;
  return b.take();
}

uint64_t key_hash(const std::string& key) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : key) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  return h;
}

}  // namespace gradc
