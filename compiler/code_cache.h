// The persistent cache of compiled kernels: one file per program under $XDG_CACHE_HOME/gradc (else
// ~/.cache/gradc), holding the machine code of every compile part with the full key it was built
// for — the graph's code key, the target, the options and pass list, the LLVM version and a hash of
// the code generator's own sources (so a rebuilt gradc never loads an older one's code). An entry
// is used only if its key matches byte for byte and its checksum holds; anything else is a warning
// and a recompile. Entries are written to a temporary name and renamed, so a concurrent process
// never reads half of one; a directory or file not owned by this user, or writable by others, is
// never read (its code would run here).
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace gradc {

struct CachedCode {
  std::string prefix;                // the kernels' symbol prefix inside the objects
  std::vector<std::string> objects;  // relocatable object files, one per compile part
};

// The cache directory: "" = no disk cache (the library's default; the gradc CLI turns it on).
void set_code_cache_dir(const std::string& dir);
const std::string& code_cache_dir();
// $XDG_CACHE_HOME/gradc, else $HOME/.cache/gradc, else "".
std::string default_code_cache_dir();

// A hash of the code generator's sources (autodiff/, compiler/) and the LLVM version: part of
// every key, so code from another build is never taken for this one's.
const std::string& codegen_build_id();

// The entry for `key`, or nothing (absent, unusable: *warning says why when it is not just absent).
std::optional<CachedCode> load_cached_code(const std::string& key, std::string* warning);
// Writes the entry for `key`; failures (a read-only cache) are silent: the cache is an optimisation.
void store_cached_code(const std::string& key, const CachedCode& code);

}  // namespace gradc
