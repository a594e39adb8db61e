#include "runtime/engine.h"

#include <algorithm>
#include <stdexcept>

#include "runtime/interpreter.h"
#include "runtime/program.h"

namespace gradc {

EngineKind parse_engine(const std::string& s) {
  if (s == "jit") return EngineKind::Jit;
  if (s == "reference") return EngineKind::Reference;
  throw std::invalid_argument("gradc: unknown engine '" + s + "' (use jit or reference)");
}

namespace {
class JitEngine : public Engine {
 public:
  JitEngine(const Graph& g, const CompileOptions& o) : p_(g, o) {}
  bool has_buffer(int n) const override {
    const int id = p_.code().node_map.at(static_cast<size_t>(n));
    return id >= 0 && p_.code().plan.node_buffer[static_cast<size_t>(id)] >= 0;
  }
  void run() override { p_.run(); }
  std::span<float> f32(int n) override { return {p_.data(n), static_cast<size_t>(p_.numel(n))}; }
  std::span<int32_t> i32(int n) override { return {p_.data_i32(n), static_cast<size_t>(p_.numel(n))}; }
  void set_threads(int n) override { p_.set_threads(n); }
  double compile_ms() const override { return p_.code().compile_ms; }

 private:
  Program p_;
};

class RefEngine : public Engine {
 public:
  explicit RefEngine(const Graph& g) : ip_(g) {}
  void run() override { ip_.run(); }
  std::span<float> f32(int n) override { return ip_.value(n).f; }
  std::span<int32_t> i32(int n) override { return ip_.value(n).i; }
  void set_threads(int) override {}

 private:
  Interpreter ip_;
};
}  // namespace

std::unique_ptr<Engine> make_engine(const Graph& g, EngineKind kind, const CompileOptions& opt) {
  if (kind == EngineKind::Jit) return std::make_unique<JitEngine>(g, opt);
  return std::make_unique<RefEngine>(g);
}

void copy_params(const Graph& fg, Engine& from, const Graph& tg, Engine& to, const std::string& suffix) {
  for (const Node& n : tg.nodes()) {
    if (n.op != Op::Parameter) continue;
    const int src = fg.find_id(n.name + suffix);
    if (src < 0) continue;
    auto s = from.f32(src);
    auto d = to.f32(n.id);
    if (s.size() != d.size()) throw std::logic_error("gradc: parameter '" + n.name + "' differs in size");
    std::copy(s.begin(), s.end(), d.begin());
  }
}

}  // namespace gradc
