#include "compiler/emitter.h"

#include <llvm/IR/Intrinsics.h>

namespace gradc {

Emitter::Emitter(llvm::Module& m, const Graph& graph, const Plan& p, const std::string& name)
    : b(m.getContext()), g(graph), plan(p), m_(m) {
  auto& ctx = m.getContext();
  f32 = llvm::Type::getFloatTy(ctx);
  i32 = llvm::Type::getInt32Ty(ctx);
  i64 = llvm::Type::getInt64Ty(ctx);
  ptr = llvm::PointerType::get(ctx, 0);
  auto* fty = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr, i64, i64}, false);
  fn = llvm::Function::Create(fty, llvm::Function::ExternalLinkage, name, m);
  fn->addFnAttr(llvm::Attribute::NoUnwind);
  fn->addFnAttr("prefer-vector-width", "512");
  fn->addFnAttr("min-legal-vector-width", "512");
  fn->addParamAttr(0, llvm::Attribute::NoAlias);
  bufs_ = fn->getArg(0);
  lo = fn->getArg(1);
  hi = fn->getArg(2);
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

void Emitter::loop(llvm::Value* begin, llvm::Value* end, const std::function<void(llvm::Value*)>& body) {
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
  b.CreateBr(head);
  b.SetInsertPoint(exit);
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

llvm::Value* Emitter::fmax(llvm::Value* x, llvm::Value* y) {
  return b.CreateSelect(b.CreateFCmpOGT(x, y), x, y);
}

}  // namespace gradc
