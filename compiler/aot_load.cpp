// AotLoaded: an exported object linked in-process by a private ORC LLJIT (compiler/aot.h).
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/Support/MemoryBuffer.h>

#include <stdexcept>

#include "compiler/aot.h"
#include "compiler/llvm_backend.h"

namespace gradc {

namespace {
template <class T>
T check(llvm::Expected<T> v, const char* what) {
  if (!v)
    throw std::runtime_error(std::string("gradc: loading an exported object: ") + what + ": " +
                             llvm::toString(v.takeError()));
  return std::move(*v);
}
}  // namespace

AotLoaded::AotLoaded(const AotModule& m) : prefix_(m.prefix) {
  require_runnable(m.target);
  init_llvm();
  jit_ = check(llvm::orc::LLJITBuilder().create(), "LLJIT");
  jit_->getMainJITDylib().addGenerator(
      check(llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(jit_->getDataLayout().getGlobalPrefix()),
            "symbol generator"));
  if (auto err = jit_->addObjectFile(llvm::MemoryBuffer::getMemBufferCopy(m.object, m.prefix + ".o")))
    throw std::runtime_error("gradc: loading an exported object: " + llvm::toString(std::move(err)));
}

AotLoaded::~AotLoaded() = default;

void* AotLoaded::symbol(const std::string& name) const {
  return check(jit_->lookup(prefix_ + "_" + name), "symbol lookup").toPtr<void*>();
}

}  // namespace gradc
