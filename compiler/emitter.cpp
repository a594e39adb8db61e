#include "compiler/emitter.h"

#include <llvm/IR/Intrinsics.h>

namespace gradc {

Emitter::Emitter(llvm::Module& m, const Graph& graph, const Plan& p, const std::string& name, int vector_lanes)
    : b(m.getContext()), g(graph), plan(p), lanes(vector_lanes), m_(m) {
  auto& ctx = m.getContext();
  f32 = llvm::Type::getFloatTy(ctx);
  i32 = llvm::Type::getInt32Ty(ctx);
  i64 = llvm::Type::getInt64Ty(ctx);
  ptr = llvm::PointerType::get(ctx, 0);
  auto* fty = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr, i64, i64, ptr}, false);
  fn = llvm::Function::Create(fty, llvm::Function::ExternalLinkage, name, m);
  fn->addFnAttr(llvm::Attribute::NoUnwind);
  // The loop vectoriser and the backend use exactly the target's register width.
  fn->addFnAttr("prefer-vector-width", std::to_string(lanes * 32));
  fn->addFnAttr("min-legal-vector-width", std::to_string(lanes * 32));
  fn->addParamAttr(0, llvm::Attribute::NoAlias);
  bufs_ = fn->getArg(0);
  lo = fn->getArg(1);
  hi = fn->getArg(2);
  scratch = fn->getArg(3);
  fn->addParamAttr(3, llvm::Attribute::NoAlias);
  entry_ = llvm::BasicBlock::Create(ctx, "entry", fn);
  auto* body = llvm::BasicBlock::Create(ctx, "body", fn);
  b.SetInsertPoint(body);
}

void Emitter::finish() {
  b.CreateRetVoid();
  llvm::IRBuilder<> eb(entry_);
  eb.CreateBr(&*std::next(fn->begin()));
}

llvm::Value* Emitter::cf(float v) { return llvm::ConstantFP::get(f32, static_cast<double>(v)); }

llvm::Value* Emitter::base(int node) {
  for (auto& [n, v] : bases_)
    if (n == node) return v;
  const int buf = plan.node_buffer[static_cast<size_t>(node)];
  llvm::IRBuilder<> eb(entry_);
  llvm::Value* slotp = eb.CreateInBoundsGEP(ptr, bufs_, eb.getInt64(static_cast<uint64_t>(buf)));
  auto* v = eb.CreateLoad(ptr, slotp, "buf" + std::to_string(node));
  v->setMetadata(llvm::LLVMContext::MD_invariant_load, llvm::MDNode::get(b.getContext(), {}));
  bases_.emplace_back(node, v);
  return v;
}

llvm::Instruction* Emitter::emit_loop(llvm::Value* begin, llvm::Value* end,
                                      const std::function<void(llvm::Value*)>& body) {
  auto& ctx = b.getContext();
  llvm::BasicBlock* pre = b.GetInsertBlock();
  auto* head = llvm::BasicBlock::Create(ctx, "loop", fn);
  auto* inner = llvm::BasicBlock::Create(ctx, "body", fn);
  auto* exit = llvm::BasicBlock::Create(ctx, "exit", fn);
  b.CreateBr(head);
  b.SetInsertPoint(head);
  llvm::PHINode* i = b.CreatePHI(i64, 2, "i");
  i->addIncoming(begin, pre);
  b.CreateCondBr(b.CreateICmpSLT(i, end), inner, exit);
  b.SetInsertPoint(inner);
  body(i);
  i->addIncoming(add(i, c64(1)), b.GetInsertBlock());
  llvm::Instruction* latch = b.CreateBr(head);
  b.SetInsertPoint(exit);
  return latch;
}

void Emitter::loop(llvm::Value* begin, llvm::Value* end, const std::function<void(llvm::Value*)>& body) {
  emit_loop(begin, end, body);
}

void Emitter::rolled_loop(llvm::Value* begin, llvm::Value* end, const std::function<void(llvm::Value*)>& body) {
  llvm::Instruction* latch = emit_loop(begin, end, body);
  auto& ctx = b.getContext();
  llvm::MDNode* unroll = llvm::MDNode::get(ctx, llvm::MDString::get(ctx, "llvm.loop.unroll.disable"));
  llvm::MDNode* vectorize = llvm::MDNode::get(
      ctx, {llvm::MDString::get(ctx, "llvm.loop.vectorize.enable"), llvm::ConstantAsMetadata::get(b.getFalse())});
  llvm::MDNode* self = llvm::MDNode::getDistinct(ctx, {nullptr, unroll, vectorize});
  self->replaceOperandWith(0, self);
  latch->setMetadata(llvm::LLVMContext::MD_loop, self);
}

void Emitter::if_else(llvm::Value* cond, const std::function<void()>& then_body,
                      const std::function<void()>& else_body) {
  auto& ctx = b.getContext();
  auto* then_bb = llvm::BasicBlock::Create(ctx, "then", fn);
  auto* else_bb = else_body ? llvm::BasicBlock::Create(ctx, "else", fn) : nullptr;
  auto* join = llvm::BasicBlock::Create(ctx, "join", fn);
  b.CreateCondBr(cond, then_bb, else_bb ? else_bb : join);
  b.SetInsertPoint(then_bb);
  then_body();
  b.CreateBr(join);
  if (else_bb) {
    b.SetInsertPoint(else_bb);
    else_body();
    b.CreateBr(join);
  }
  b.SetInsertPoint(join);
}

llvm::Value* Emitter::slot(llvm::Type* t, const char* name) {
  llvm::IRBuilder<> eb(entry_, entry_->begin());
  return eb.CreateAlloca(t, nullptr, name);
}

llvm::Value* Emitter::call_intrinsic(llvm::Intrinsic::ID id, llvm::Value* x) {
  llvm::Function* f = llvm::Intrinsic::getDeclaration(&m_, id, {x->getType()});
  return b.CreateCall(f, {x});
}

llvm::Value* Emitter::call_libm(const char* name, llvm::Value* x) {
  auto callee = m_.getOrInsertFunction(name, llvm::FunctionType::get(f32, {f32}, false));
  return b.CreateCall(callee, {x});
}

llvm::Type* Emitter::same_shape_i32(llvm::Type* t) {
  return t->isVectorTy() ? static_cast<llvm::Type*>(llvm::VectorType::getInteger(llvm::cast<llvm::VectorType>(t)))
                         : i32;
}

llvm::Value* Emitter::exp(llvm::Value* x) {
  // exp(x) = 2^n · e^r, n = round(x·log2 e), r = x - n·ln 2 (two-part ln 2), e^r by a degree-6
  // Taylor/Horner polynomial on |r| <= ln2/2; 2^n built in the exponent bits. Works on f32 and on
  // <lanes x f32> (constants are splatted to x's type).
  llvm::Type* t = x->getType();
  llvm::Type* it = same_shape_i32(t);
  auto k = [&](float v) { return llvm::ConstantFP::get(t, static_cast<double>(v)); };
  x = b.CreateSelect(b.CreateFCmpOLT(x, k(-87.3f)), k(-87.3f), x);  // also maps NaN through below
  x = b.CreateSelect(b.CreateFCmpOGT(x, k(88.7f)), k(88.7f), x);
  llvm::Value* n = call_intrinsic(llvm::Intrinsic::rint, b.CreateFMul(x, k(1.44269504f)));
  llvm::Value* r = b.CreateFSub(x, b.CreateFMul(n, k(0.693145752f)));
  r = b.CreateFSub(r, b.CreateFMul(n, k(1.42860677e-06f)));
  const float c[] = {1.f / 720, 1.f / 120, 1.f / 24, 1.f / 6, 0.5f, 1.f, 1.f};
  llvm::Value* p = k(c[0]);
  for (int i = 1; i < 7; ++i) p = b.CreateFAdd(b.CreateFMul(p, r), k(c[i]));
  llvm::Value* bits =
      b.CreateShl(b.CreateAdd(b.CreateFPToSI(n, it), llvm::ConstantInt::get(it, 127)), llvm::ConstantInt::get(it, 23));
  return b.CreateFMul(p, b.CreateBitCast(bits, t));
}

llvm::Value* Emitter::log(llvm::Value* x) {
  // x = m·2^e with m in [√½, √2); log m = 2·atanh(s), s = (m-1)/(m+1), odd series to s^9. Works on
  // f32 and on <lanes x f32> like exp.
  llvm::Type* t = x->getType();
  llvm::Type* it = same_shape_i32(t);
  auto k = [&](float v) { return llvm::ConstantFP::get(t, static_cast<double>(v)); };
  auto ki = [&](uint32_t v) { return llvm::ConstantInt::get(it, v); };
  llvm::Value* bits = b.CreateBitCast(x, it);
  llvm::Value* e = b.CreateSub(b.CreateLShr(bits, ki(23)), ki(127));
  llvm::Value* m = b.CreateBitCast(b.CreateOr(b.CreateAnd(bits, ki(0x007fffff)), ki(0x3f800000)), t);
  llvm::Value* big = b.CreateFCmpOGT(m, k(1.41421356f));
  m = b.CreateSelect(big, b.CreateFMul(m, k(0.5f)), m);
  e = b.CreateSelect(big, b.CreateAdd(e, ki(1)), e);
  llvm::Value* s = b.CreateFDiv(b.CreateFSub(m, k(1.f)), b.CreateFAdd(m, k(1.f)));
  llvm::Value* s2 = b.CreateFMul(s, s);
  llvm::Value* p = k(1.f / 9);
  for (float c : {1.f / 7, 1.f / 5, 1.f / 3, 1.f}) p = b.CreateFAdd(b.CreateFMul(p, s2), k(c));
  llvm::Value* lm = b.CreateFMul(b.CreateFMul(p, s), k(2.f));
  llvm::Value* r = b.CreateFAdd(lm, b.CreateFMul(b.CreateSIToFP(e, t), k(0.693147181f)));
  // Special cases as libm: log(0) = -inf, log(<0) = NaN, log(inf) = inf (denormals: treated as tiny normals).
  r = b.CreateSelect(b.CreateFCmpOEQ(x, k(0.f)), llvm::ConstantFP::getInfinity(t, true), r);
  r = b.CreateSelect(b.CreateFCmpOLT(x, k(0.f)), llvm::ConstantFP::getNaN(t), r);
  r = b.CreateSelect(b.CreateFCmpUNO(x, x), x, r);
  return b.CreateSelect(b.CreateFCmpOEQ(x, llvm::ConstantFP::getInfinity(t)), x, r);
}

namespace {
llvm::Constant* lane_mask(llvm::IRBuilder<>& b, int lanes, int64_t active) {
  std::vector<llvm::Constant*> bits;
  for (int l = 0; l < lanes; ++l) bits.push_back(b.getInt1(l < active));
  return llvm::ConstantVector::get(bits);
}
}  // namespace

llvm::Value* Emitter::vload(llvm::Value* p, int64_t active, int width) {
  const int w = width ? width : lanes;
  if (active == w) return b.CreateAlignedLoad(vec(w), p, llvm::Align(4));
  return b.CreateMaskedLoad(vec(w), p, llvm::Align(4), lane_mask(b, w, active), llvm::Constant::getNullValue(vec(w)));
}

void Emitter::vstore(llvm::Value* v, llvm::Value* p, int64_t active, int width) {
  const int w = width ? width : lanes;
  if (active == w)
    b.CreateAlignedStore(v, p, llvm::Align(4));
  else
    b.CreateMaskedStore(v, p, llvm::Align(4), lane_mask(b, w, active));
}

void Emitter::prefetch_write(llvm::Value* p) {
  llvm::Function* f = llvm::Intrinsic::getDeclaration(&m_, llvm::Intrinsic::prefetch, {ptr});
  b.CreateCall(f, {p, b.getInt32(1), b.getInt32(3), b.getInt32(1)});  // write, high locality, data cache
}

llvm::Value* Emitter::fmax(llvm::Value* x, llvm::Value* y) { return b.CreateSelect(b.CreateFCmpOGT(x, y), x, y); }

}  // namespace gradc
