# Writes OUT: GRADC_CODEGEN_ID, the SHA-256 of the code generator's sources listed (one path per
# line) in LIST, so the persistent code cache (compiler/code_cache.h) never serves code that
# another build generated. The file is rewritten only when the id changes.
file(STRINGS "${LIST}" sources)
set(all "")
foreach(f IN LISTS sources)
  file(READ "${f}" content)
  get_filename_component(name "${f}" NAME)
  string(APPEND all "${name}\n${content}\n")
endforeach()
string(SHA256 id "${all}")
set(text "#define GRADC_CODEGEN_ID \"${id}\"\n")
set(old "")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
