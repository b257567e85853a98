# Writes OUT, a C++ source that holds each of FILES (comma-separated names in DIR) as a
# raw string literal: the reproducer's C library as inflight embeds it at build time
# (repro/c_library.h). Run as: cmake -DOUT=... -DDIR=... -DFILES=a,b -P embed_files.cmake
cmake_minimum_required(VERSION 3.25)
set(delim "inflight_c")
string(REPLACE "," ";" names "${FILES}")
set(entries "")
foreach(name IN LISTS names)
  file(READ "${DIR}/${name}" text)
  string(FIND "${text}" ")${delim}\"" at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "${DIR}/${name} holds )${delim}\", the end of the raw string it goes in")
  endif()
  string(APPEND entries "    {\"${name}\", R\"${delim}(${text})${delim}\"},\n")
endforeach()
file(WRITE "${OUT}.tmp"
  "// Generated from ${DIR} by repro/embed_files.cmake at build time: do not edit.\n"
  "#include \"repro/c_library.h\"\n\n"
  "namespace inflight {\n\n"
  "namespace {\n\n"
  "constexpr CLibraryFile kFiles[] = {\n${entries}};\n\n"
  "}  // namespace\n\n"
  "std::span<const CLibraryFile> CLibraryFiles() {\n  return kFiles;\n}\n\n"
  "}  // namespace inflight\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
