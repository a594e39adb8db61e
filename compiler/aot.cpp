#include "compiler/aot.h"

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Support/raw_ostream.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <functional>
#include <stdexcept>

#include "compiler/code_key.h"
#include "compiler/codegen.h"
#include "compiler/jit.h"
#include "compiler/llvm_backend.h"

namespace gradc {

namespace {

constexpr char kMagic[9] = "GRADCWB1";

uint64_t magic_value() {
  uint64_t v = 0;
  std::memcpy(&v, kMagic, 8);
  return v;
}

void check_prefix(const std::string& p) {
  const bool ok =
      !p.empty() && !std::isdigit(static_cast<unsigned char>(p[0])) &&
      std::all_of(p.begin(), p.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
  if (!ok) throw std::invalid_argument("gradc: export: symbol prefix '" + p + "' is not a C identifier");
}

// The optimised graph's nodes the driver feeds and reads (-1: not fed).
struct Feeds {
  int x = -1, y = -1, lr = -1, key = -1, out = -1;
};

// Emits the driver functions around a plan's kernels into one module.
class Driver {
 public:
  Driver(llvm::Module& m, const CompiledProgram& prog, const AotSpec& spec, AotModule& out)
      : m_(m), ctx_(m.getContext()), b_(ctx_), prog_(prog), spec_(spec), out_(out) {
    i8_ = b_.getInt8Ty();
    i32_ = b_.getInt32Ty();
    i64_ = b_.getInt64Ty();
    ptr_ = b_.getPtrTy();
  }

  void emit(const Feeds& f) {
    make_buffers();
    make_state();
    llvm::Function* run = run_fn();
    if (spec_.train_step)
      train_step_fn(run, f);
    else
      predict_fn(run, f.x, f.out);
    load_weights_fn();
    save_weights_fn();
    set_threads_fn();
  }

 private:
  std::string sym(const std::string& s) const { return spec_.symbol_prefix + "_" + s; }
  const Plan& plan() const { return prog_.plan; }
  int buffer_of(int node) const { return plan().node_buffer.at(static_cast<size_t>(node)); }

  llvm::GlobalVariable* global(const std::string& name, llvm::Constant* init, bool constant = false) {
    auto* g = new llvm::GlobalVariable(m_, init->getType(), constant, llvm::GlobalValue::InternalLinkage, init,
                                       spec_.symbol_prefix + "." + name);
    g->setAlignment(llvm::Align(64));
    return g;
  }
  llvm::Constant* zeros(int64_t bytes) {
    return llvm::ConstantAggregateZero::get(
        llvm::ArrayType::get(i8_, static_cast<uint64_t>(std::max<int64_t>(64, bytes))));
  }

  // Buffers of parameters (with embedded weights) and constants are globals holding their values;
  // every other buffer is its planned offset in one zero-filled arena.
  void make_buffers() {
    const Graph& g = prog_.graph;
    std::vector<llvm::Constant*> table(plan().buffers.size(), nullptr);
    for (int id : plan().live) {
      const Node& n = g.node(id);
      if ((n.op != Op::Constant && n.op != Op::Parameter) || buffer_of(id) < 0) continue;
      const BufferInfo& bi = plan().buffers[static_cast<size_t>(buffer_of(id))];
      std::vector<float> v(static_cast<size_t>(bi.bytes / 4), 0.f);
      if (n.op == Op::Parameter) {
        const std::vector<float>& w = param_values(n);
        param_buffers_.push_back({static_cast<int64_t>(out_.weights.size()), buffer_of(id), n.shape.numel()});
        out_.params.push_back({n.name, n.shape, static_cast<int64_t>(out_.weights.size())});
        out_.weights.insert(out_.weights.end(), w.begin(), w.end());
        if (!spec_.embed_weights) continue;
        std::copy(w.begin(), w.end(), v.begin());
      } else if (n.a.data.empty()) {
        std::fill(v.begin(), v.begin() + n.shape.numel(), n.a.value);
      } else {
        std::copy(n.a.data.begin(), n.a.data.end(), v.begin());
      }
      table[static_cast<size_t>(buffer_of(id))] =
          global("w" + std::to_string(id), llvm::ConstantDataArray::get(ctx_, v));
    }
    arena_ = global("arena", zeros(plan().arena_bytes));
    for (size_t i = 0; i < table.size(); ++i)
      if (!table[i])
        table[i] = llvm::ConstantExpr::getInBoundsGetElementPtr(
            i8_, arena_, b_.getInt64(static_cast<uint64_t>(plan().buffers[i].offset)));
    bufs_ = global("bufs", llvm::ConstantArray::get(llvm::ArrayType::get(ptr_, table.size()), table), true);
    out_.arena_bytes = plan().arena_bytes;
  }

  const std::vector<float>& param_values(const Node& n) const {
    auto it = spec_.params.find(n.name);
    if (it == spec_.params.end())
      throw std::invalid_argument("gradc: export: no values for parameter '" + n.name + "' " + n.shape.str());
    if (static_cast<int64_t>(it->second.size()) != n.shape.numel())
      throw std::invalid_argument("gradc: export: parameter '" + n.name + "' " + n.shape.str() + " needs " +
                                  std::to_string(n.shape.numel()) + " values, got " +
                                  std::to_string(it->second.size()));
    return it->second;
  }

  void make_state() {
    for (const KernelInfo& k : plan().kernels) stride_ = std::max(stride_, (k.scratch_bytes + 63) / 64 * 64);
    out_.scratch_bytes = stride_ * spec_.threads;
    scratch_ = global("scratch", zeros(out_.scratch_bytes));
    loaded_ = global("loaded", b_.getInt32(spec_.embed_weights ? 1 : 0));
    threads_ = global("threads", b_.getInt32(static_cast<uint32_t>(spec_.threads)));
  }

  llvm::Function* fn(const std::string& name, llvm::Type* ret, std::vector<llvm::Type*> args, bool exported) {
    auto* f = llvm::Function::Create(llvm::FunctionType::get(ret, args, false),
                                     exported ? llvm::GlobalValue::ExternalLinkage : llvm::GlobalValue::InternalLinkage,
                                     name, m_);
    f->addFnAttr(llvm::Attribute::NoUnwind);
    b_.SetInsertPoint(llvm::BasicBlock::Create(ctx_, "entry", f));
    return f;
  }
  llvm::Value* null_ptr() { return llvm::ConstantPointerNull::get(llvm::PointerType::get(ctx_, 0)); }
  llvm::FunctionCallee libc(const char* name, llvm::Type* ret, std::vector<llvm::Type*> args) {
    return m_.getOrInsertFunction(name, llvm::FunctionType::get(ret, args, false));
  }
  llvm::Value* buffer_ptr(int buffer) {
    return b_.CreateLoad(ptr_,
                         b_.CreateConstInBoundsGEP2_64(bufs_->getValueType(), bufs_, 0, static_cast<uint64_t>(buffer)));
  }
  // if (cond) return code;
  void return_if(llvm::Value* cond, int code, const std::function<void()>& before = nullptr) {
    llvm::Function* f = b_.GetInsertBlock()->getParent();
    auto* bail = llvm::BasicBlock::Create(ctx_, "bail", f);
    auto* go = llvm::BasicBlock::Create(ctx_, "go", f);
    b_.CreateCondBr(cond, bail, go);
    b_.SetInsertPoint(bail);
    if (before) before();
    b_.CreateRet(b_.getInt32(static_cast<uint32_t>(code)));
    b_.SetInsertPoint(go);
  }

  llvm::Function* kernel(size_t k) const { return m_.getFunction(spec_.symbol_prefix + "_k_" + plan().kernels[k].fn); }

  // Calls kernel k on [lo, hi) with thread t's scratch.
  void call_kernel(size_t k, llvm::Value* lo, llvm::Value* hi, llvm::Value* t) {
    llvm::Value* scratch = b_.CreateInBoundsGEP(
        i8_, scratch_, b_.CreateMul(b_.CreateSExt(t, i64_), b_.getInt64(static_cast<uint64_t>(stride_))));
    b_.CreateCall(kernel(k), {bufs_, lo, hi, scratch});
  }

  llvm::Function* run_fn() {
    llvm::Function* micro = spec_.threads > 1 ? team_fn() : nullptr;
    llvm::Function* run = fn(spec_.symbol_prefix + ".run", b_.getVoidTy(), {}, false);
    if (micro) {
      llvm::Value* nt = b_.CreateLoad(i32_, threads_);
      auto* serial = llvm::BasicBlock::Create(ctx_, "serial", run);
      auto* team = llvm::BasicBlock::Create(ctx_, "team", run);
      b_.CreateCondBr(b_.CreateICmpSGT(nt, b_.getInt32(1)), team, serial);
      b_.SetInsertPoint(team);
      fork(micro, nt);
      b_.CreateRetVoid();
      b_.SetInsertPoint(serial);
    }
    for (size_t k = 0; k < plan().kernels.size(); ++k)
      call_kernel(k, b_.getInt64(0), b_.getInt64(static_cast<uint64_t>(plan().kernels[k].range)), b_.getInt32(0));
    b_.CreateRetVoid();
    return run;
  }

  // OpenMP through libomp's entry points (the calls clang emits for `#pragma omp parallel`): one
  // parallel region for all kernels, barriers where the plan asks for them, each kernel's range
  // split into the same static chunks the JIT's executor uses.
  llvm::GlobalVariable* ident() {
    if (ident_) return ident_;
    auto* loc = b_.CreateGlobalString(";gradc;" + spec_.symbol_prefix + ";0;0;;", spec_.symbol_prefix + ".loc", 0, &m_);
    auto* ty = llvm::StructType::get(ctx_, {i32_, i32_, i32_, i32_, ptr_});
    ident_ = global("ident",
                    llvm::ConstantStruct::get(ty, {b_.getInt32(0), b_.getInt32(2), b_.getInt32(0), b_.getInt32(0),
                                                   llvm::cast<llvm::Constant>(loc)}),
                    true);
    return ident_;
  }
  void fork(llvm::Function* micro, llvm::Value* nt) {
    llvm::Value* gtid = b_.CreateCall(libc("__kmpc_global_thread_num", i32_, {ptr_}), {ident()});
    b_.CreateCall(libc("__kmpc_push_num_threads", b_.getVoidTy(), {ptr_, i32_, i32_}), {ident(), gtid, nt});
    auto* fork_ty = llvm::FunctionType::get(b_.getVoidTy(), {ptr_, i32_, ptr_}, true);
    b_.CreateCall(m_.getOrInsertFunction("__kmpc_fork_call", fork_ty), {ident(), b_.getInt32(0), micro});
  }
  llvm::Function* team_fn() {
    llvm::Function* f = fn(spec_.symbol_prefix + ".team", b_.getVoidTy(), {ptr_, ptr_}, false);
    llvm::Value* gtid = b_.CreateLoad(i32_, f->getArg(0));
    llvm::Value* t = b_.CreateCall(libc("omp_get_thread_num", i32_, {}));
    llvm::Value* nt = b_.CreateCall(libc("omp_get_num_threads", i32_, {}));
    llvm::Value* first = b_.CreateICmpEQ(t, b_.getInt32(0));
    for (size_t k = 0; k < plan().kernels.size(); ++k) {
      const KernelInfo& ki = plan().kernels[k];
      if (k > 0 && ki.barrier_before)
        b_.CreateCall(libc("__kmpc_barrier", b_.getVoidTy(), {ptr_, i32_}), {ident(), gtid});
      if (runs_on_one_thread(ki)) {
        on(first,
           [&] { call_kernel(k, b_.getInt64(0), b_.getInt64(static_cast<uint64_t>(ki.range)), b_.getInt32(0)); });
        continue;
      }
      llvm::Value* n = b_.getInt64(static_cast<uint64_t>(ki.range));
      llvm::Value* t64 = b_.CreateSExt(t, i64_);
      llvm::Value* nt64 = b_.CreateSExt(nt, i64_);
      llvm::Value* lo = b_.CreateSDiv(b_.CreateMul(n, t64), nt64);
      llvm::Value* hi = b_.CreateSDiv(b_.CreateMul(n, b_.CreateAdd(t64, b_.getInt64(1))), nt64);
      on(b_.CreateICmpSLT(lo, hi), [&] { call_kernel(k, lo, hi, t); });
    }
    b_.CreateRetVoid();
    return f;
  }
  void on(llvm::Value* cond, const std::function<void()>& body) {
    llvm::Function* f = b_.GetInsertBlock()->getParent();
    auto* then = llvm::BasicBlock::Create(ctx_, "then", f);
    auto* next = llvm::BasicBlock::Create(ctx_, "next", f);
    b_.CreateCondBr(cond, then, next);
    b_.SetInsertPoint(then);
    body();
    b_.CreateBr(next);
    b_.SetInsertPoint(next);
  }

  // predict(x, n, out): whole batches, then the remainder zero-padded to one batch.
  void predict_fn(llvm::Function* run, int input, int output) {
    const Graph& g = prog_.graph;
    const int64_t batch = g.node(input).shape[0];
    const int64_t in_row = g.node(input).shape.numel() / batch * 4, out_row = g.node(output).shape.numel() / batch * 4;
    llvm::Function* f = fn(sym("predict"), i32_, {ptr_, i64_, ptr_}, true);
    llvm::Value *x = f->getArg(0), *n = f->getArg(1), *y = f->getArg(2);
    llvm::Value* null = null_ptr();
    return_if(b_.CreateOr(b_.CreateOr(b_.CreateICmpEQ(x, null), b_.CreateICmpEQ(y, null)),
                          b_.CreateICmpSLT(n, b_.getInt64(0))),
              1);
    return_if(b_.CreateICmpEQ(b_.CreateLoad(i32_, loaded_), b_.getInt32(0)), 2);
    llvm::Value* in = buffer_ptr(buffer_of(input));
    llvm::Value* res = buffer_ptr(buffer_of(output));
    loop(b_.getInt64(0), n, [&](llvm::Value* i) {
      llvm::Value* left = b_.CreateSub(n, i);
      llvm::Value* rows = b_.CreateSelect(b_.CreateICmpSLT(left, b_.getInt64(static_cast<uint64_t>(batch))), left,
                                          b_.getInt64(static_cast<uint64_t>(batch)));
      auto bytes = [&](llvm::Value* r, int64_t row) {
        return b_.CreateMul(r, b_.getInt64(static_cast<uint64_t>(row)));
      };
      b_.CreateMemCpy(in, llvm::MaybeAlign(64), b_.CreateInBoundsGEP(i8_, x, bytes(i, in_row)), llvm::MaybeAlign(4),
                      bytes(rows, in_row));
      b_.CreateMemSet(b_.CreateInBoundsGEP(i8_, in, bytes(rows, in_row)), b_.getInt8(0),
                      bytes(b_.CreateSub(b_.getInt64(static_cast<uint64_t>(batch)), rows), in_row),
                      llvm::MaybeAlign(4));
      b_.CreateCall(run);
      b_.CreateMemCpy(b_.CreateInBoundsGEP(i8_, y, bytes(i, out_row)), llvm::MaybeAlign(4), res, llvm::MaybeAlign(64),
                      bytes(rows, out_row));
      return rows;
    });
    b_.CreateRet(b_.getInt32(0));
  }

  // load_weights(path): the header must match this export; any short read leaves the model
  // without weights (predict then returns 2), never with half of them.
  void load_weights_fn() {
    llvm::Function* f = fn(sym("load_weights"), i32_, {ptr_}, true);
    llvm::Value* null = null_ptr();
    return_if(b_.CreateICmpEQ(f->getArg(0), null), 1);
    llvm::Value* file =
        b_.CreateCall(libc("fopen", ptr_, {ptr_, ptr_}), {f->getArg(0), b_.CreateGlobalString("rb", "", 0, &m_)});
    return_if(b_.CreateICmpEQ(file, null), 2);
    auto close = [this, file] {
      b_.CreateStore(b_.getInt32(0), loaded_);
      b_.CreateCall(libc("fclose", i32_, {ptr_}), {file});
    };
    auto read = [&](llvm::Value* dst, int64_t count, int64_t size) {
      llvm::Value* got = b_.CreateCall(
          libc("fread", i64_, {ptr_, i64_, i64_, ptr_}),
          {dst, b_.getInt64(static_cast<uint64_t>(size)), b_.getInt64(static_cast<uint64_t>(count)), file});
      return b_.CreateICmpNE(got, b_.getInt64(static_cast<uint64_t>(count)));
    };
    llvm::Value* hdr = b_.CreateAlloca(llvm::ArrayType::get(i64_, 3));
    return_if(read(hdr, 3, 8), 2, close);
    llvm::Value* ok = b_.getTrue();
    const uint64_t want[3] = {magic_value(), out_.fingerprint, out_.weights.size()};
    for (uint64_t j = 0; j < 3; ++j)
      ok = b_.CreateAnd(
          ok, b_.CreateICmpEQ(b_.CreateLoad(i64_, b_.CreateConstInBoundsGEP1_64(i64_, hdr, j)), b_.getInt64(want[j])));
    return_if(b_.CreateNot(ok), 3, close);
    b_.CreateStore(b_.getInt32(0), loaded_);
    for (const ParamBuffer& p : param_buffers_) return_if(read(buffer_ptr(p.buffer), p.count, 4), 2, close);
    llvm::Value* extra = b_.CreateCall(libc("fgetc", i32_, {ptr_}), {file});
    return_if(b_.CreateICmpNE(extra, b_.getInt32(static_cast<uint32_t>(-1))), 3, close);
    b_.CreateCall(libc("fclose", i32_, {ptr_}), {file});
    b_.CreateStore(b_.getInt32(1), loaded_);
    b_.CreateRet(b_.getInt32(0));
  }

  // train_step(x, y, lr, key, loss): one step on one batch; labels checked first, as the JIT does.
  void train_step_fn(llvm::Function* run, const Feeds& fd) {
    const Graph& g = prog_.graph;
    llvm::Function* f = fn(sym("train_step"), i32_, {ptr_, ptr_, b_.getFloatTy(), i32_, ptr_}, true);
    llvm::Value *x = f->getArg(0), *y = f->getArg(1), *loss = f->getArg(4);
    llvm::Value* null = null_ptr();
    return_if(b_.CreateOr(b_.CreateICmpEQ(x, null), b_.CreateICmpEQ(y, null)), 1);
    return_if(b_.CreateICmpEQ(b_.CreateLoad(i32_, loaded_), b_.getInt32(0)), 2);
    const int64_t labels = g.node(fd.y).shape.numel();
    loop(b_.getInt64(0), b_.getInt64(static_cast<uint64_t>(labels)), [&](llvm::Value* i) {
      llvm::Value* v = b_.CreateLoad(i32_, b_.CreateInBoundsGEP(i32_, y, i));
      // unsigned v >= classes catches the negative ones too
      return_if(b_.CreateICmpUGE(v, b_.getInt32(static_cast<uint32_t>(spec_.classes))), 4);
      return b_.getInt64(1);
    });
    b_.CreateMemCpy(buffer_ptr(buffer_of(fd.x)), llvm::MaybeAlign(64), x, llvm::MaybeAlign(4),
                    b_.getInt64(static_cast<uint64_t>(g.node(fd.x).shape.numel() * 4)));
    b_.CreateMemCpy(buffer_ptr(buffer_of(fd.y)), llvm::MaybeAlign(64), y, llvm::MaybeAlign(4),
                    b_.getInt64(static_cast<uint64_t>(labels * 4)));
    if (fd.lr >= 0) b_.CreateStore(f->getArg(2), buffer_ptr(buffer_of(fd.lr)));
    if (fd.key >= 0) b_.CreateStore(f->getArg(3), buffer_ptr(buffer_of(fd.key)));
    b_.CreateCall(run);
    on(b_.CreateICmpNE(loss, null),
       [&] { b_.CreateStore(b_.CreateLoad(b_.getFloatTy(), buffer_ptr(buffer_of(fd.out))), loss); });
    b_.CreateRet(b_.getInt32(0));
  }

  // for (i = lo; i < hi; i += body(i)): body may end its block with a return_if.
  void loop(llvm::Value* lo, llvm::Value* hi, const std::function<llvm::Value*(llvm::Value*)>& body) {
    llvm::Function* f = b_.GetInsertBlock()->getParent();
    auto* head = llvm::BasicBlock::Create(ctx_, "loop", f);
    auto* step = llvm::BasicBlock::Create(ctx_, "step", f);
    auto* done = llvm::BasicBlock::Create(ctx_, "done", f);
    llvm::BasicBlock* pre = b_.GetInsertBlock();
    b_.CreateBr(head);
    b_.SetInsertPoint(head);
    llvm::PHINode* i = b_.CreatePHI(lo->getType(), 2);
    i->addIncoming(lo, pre);
    b_.CreateCondBr(b_.CreateICmpSLT(i, hi), step, done);
    b_.SetInsertPoint(step);
    llvm::Value* by = body(i);
    i->addIncoming(b_.CreateAdd(i, by), b_.GetInsertBlock());
    b_.CreateBr(head);
    b_.SetInsertPoint(done);
  }

  // save_weights(path): the weights (and optimizer state of a training step) in the file format
  // load_weights reads.
  void save_weights_fn() {
    llvm::Function* f = fn(sym("save_weights"), i32_, {ptr_}, true);
    llvm::Value* null = null_ptr();
    return_if(b_.CreateICmpEQ(f->getArg(0), null), 1);
    return_if(b_.CreateICmpEQ(b_.CreateLoad(i32_, loaded_), b_.getInt32(0)), 2);
    llvm::Value* file =
        b_.CreateCall(libc("fopen", ptr_, {ptr_, ptr_}), {f->getArg(0), b_.CreateGlobalString("wb", "", 0, &m_)});
    return_if(b_.CreateICmpEQ(file, null), 2);
    llvm::FunctionCallee fclose = libc("fclose", i32_, {ptr_});
    auto write = [&](llvm::Value* src, int64_t count, int64_t size) {
      llvm::Value* put = b_.CreateCall(
          libc("fwrite", i64_, {ptr_, i64_, i64_, ptr_}),
          {src, b_.getInt64(static_cast<uint64_t>(size)), b_.getInt64(static_cast<uint64_t>(count)), file});
      return_if(b_.CreateICmpNE(put, b_.getInt64(static_cast<uint64_t>(count))), 2,
                [&] { b_.CreateCall(fclose, {file}); });
    };
    const uint64_t hdr[3] = {magic_value(), out_.fingerprint, out_.weights.size()};
    write(global("header", llvm::ConstantDataArray::get(ctx_, llvm::ArrayRef<uint64_t>(hdr, 3)), true), 3, 8);
    for (const ParamBuffer& p : param_buffers_) write(buffer_ptr(p.buffer), p.count, 4);
    return_if(b_.CreateICmpNE(b_.CreateCall(fclose, {file}), b_.getInt32(0)), 2);
    b_.CreateRet(b_.getInt32(0));
  }

  // set_threads(n): 1..the exported maximum; returns the count now in effect.
  void set_threads_fn() {
    llvm::Function* f = fn(sym("set_threads"), i32_, {i32_}, true);
    llvm::Value* n = f->getArg(0);
    llvm::Value* lo = b_.CreateSelect(b_.CreateICmpSLT(n, b_.getInt32(1)), b_.getInt32(1), n);
    llvm::Value* max = b_.getInt32(static_cast<uint32_t>(spec_.threads));
    llvm::Value* v = b_.CreateSelect(b_.CreateICmpSGT(lo, max), max, lo);
    b_.CreateStore(v, threads_);
    b_.CreateRet(v);
  }

  struct ParamBuffer {
    int64_t offset;
    int buffer;
    int64_t count;
  };
  llvm::Module& m_;
  llvm::LLVMContext& ctx_;
  llvm::IRBuilder<> b_;
  const CompiledProgram& prog_;
  const AotSpec& spec_;
  AotModule& out_;
  llvm::Type *i8_, *i32_, *i64_, *ptr_;
  llvm::GlobalVariable *arena_ = nullptr, *bufs_ = nullptr, *scratch_ = nullptr, *loaded_ = nullptr,
                       *threads_ = nullptr, *ident_ = nullptr;
  int64_t stride_ = 0;
  std::vector<ParamBuffer> param_buffers_;
};

uint64_t fingerprint(const Graph& g, const Plan& p) {
  std::string s = "gradc weights";
  for (int id : p.live) {
    const Node& n = g.node(id);
    if (n.op == Op::Parameter && p.node_buffer[static_cast<size_t>(id)] >= 0) s += "\n" + n.name + " " + n.shape.str();
  }
  return key_hash(s);
}

int fed_input(const Graph& g, const std::string& name, DType t, bool required) {
  const int id = name.empty() ? -1 : g.find_id(name);
  const bool ok = id >= 0 && g.node(id).op == Op::Input && g.node(id).dtype == t;
  if (!ok && required)
    throw std::invalid_argument("gradc: export: the graph has no " + std::string(dtype_name(t)) + " input '" + name +
                                "'");
  return ok ? id : -1;
}

// The optimised graph's ids of the fed inputs and the copied-out result; no other input may be read.
Feeds endpoints(const CompiledProgram& prog, const Graph& g, const AotSpec& spec) {
  Feeds f;
  const Graph& og = prog.graph;
  f.x = fed_input(og, spec.input, DType::F32, true);
  if (spec.train_step) {
    f.y = fed_input(og, spec.labels, DType::I32, true);
    f.lr = fed_input(og, spec.lr, DType::F32, false);
    f.key = fed_input(og, spec.key, DType::I32, false);
    if (spec.classes < 1) throw std::invalid_argument("gradc: export: a training step needs the class count");
  }
  if (spec.output < 0 || spec.output >= static_cast<int>(g.nodes().size()))
    throw std::invalid_argument("gradc: export: no output node");
  f.out = prog.node_map.at(static_cast<size_t>(spec.output));
  if (f.out < 0 || prog.plan.node_buffer.at(static_cast<size_t>(f.out)) < 0)
    throw std::invalid_argument("gradc: export: the output is not kept by the compiled program; mark it as an output");
  const int64_t batch = og.node(f.x).shape[0];
  const Shape& os = og.node(f.out).shape;
  if (spec.train_step ? os.numel() != 1 : os.rank < 1 || os[0] != batch)
    throw std::invalid_argument("gradc: export: the output " + os.str() +
                                (spec.train_step
                                     ? " is not a scalar loss"
                                     : " does not have the input's batch " + std::to_string(batch) + " first"));
  for (int id : prog.plan.live)  // sources are always planned; an input no kernel reads is harmless
    for (int j : og.node(id).in) {
      const Node& n = og.node(j);
      if (n.op == Op::Input && j != f.x && j != f.y && j != f.lr && j != f.key)
        throw std::invalid_argument("gradc: export: the result needs input '" + n.name + "' " + n.shape.str() +
                                    ", which the exported function does not feed");
    }
  return f;
}
}  // namespace

AotModule compile_aot(const Graph& g, const AotSpec& spec, const CompileOptions& opt) {
  check_prefix(spec.symbol_prefix);
  if (spec.threads < 1 || spec.threads > 1024) throw std::invalid_argument("gradc: export: threads must be in 1..1024");
  const Target& target = opt.target ? *opt.target : default_target();
  CompiledProgram prog;
  lower(g, opt, target, prog);
  const Feeds feeds = endpoints(prog, g, spec);
  AotModule res;
  res.prefix = spec.symbol_prefix;
  res.input_shape = prog.graph.node(feeds.x).shape;
  res.output_shape = prog.graph.node(feeds.out).shape;
  res.train_step = spec.train_step;
  res.classes = spec.classes;
  res.kernels = prog.plan.kernels.size();
  res.threads = spec.threads;
  res.embedded = spec.embed_weights;
  res.target = target;
  res.fingerprint = fingerprint(prog.graph, prog.plan);
  llvm::LLVMContext ctx;
  auto tm = make_target_machine(target, true);
  std::vector<size_t> all(prog.plan.kernels.size());
  for (size_t k = 0; k < all.size(); ++k) all[k] = k;
  auto m = emit_module(prog.graph, prog.plan, ctx, spec.symbol_prefix + "_k_", all);
  // Kernels stay separate external functions, optimised exactly as the JIT optimises them:
  // inlined into the driver or specialised on its constant buffer table (internal linkage lets
  // IPSCCP do that), LLVM vectorises some differently and the results part at the last bit.
  // Hidden: not exported from a shared library the object is linked into.
  for (llvm::Function& f : *m)
    if (!f.isDeclaration()) {
      f.setVisibility(llvm::GlobalValue::HiddenVisibility);
      f.addFnAttr(llvm::Attribute::NoInline);
    }
  Driver(*m, prog, spec, res).emit(feeds);
  std::string err;
  llvm::raw_string_ostream os(err);
  if (llvm::verifyModule(*m, &os)) throw std::logic_error("gradc: export: generated driver IR is invalid: " + err);
  prepare_module(*m, *tm, target);
  optimise_module(*m, *tm);
  if (opt.keep_asm) res.assembly = emit_assembly(*m, *tm);
  res.object = emit_object(*m, *tm);
  return res;
}

}  // namespace gradc
