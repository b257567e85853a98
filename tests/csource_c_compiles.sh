#!/bin/sh
# The reproducer's C library (repro/c) compiles file by file with the system's C compiler,
# as a user's would, with cc -std=c11 -Wall -Wextra -Werror (at -O0 and at -O2, where more
# warnings fire), its header on its own too; then its tests link and the unit ones pass.
# Usage: csource_c_compiles.sh REPRO_C_DIR. Exit 0: all compiled and passed; 1: not;
# 77: no cc here (ctest skips).
dir=${1:?usage: csource_c_compiles.sh REPRO_C_DIR}
if ! command -v cc >/dev/null 2>&1; then
  echo "skipped: no C compiler (cc)"
  exit 77
fi
out=$(mktemp -d) || exit 1
trap 'rm -rf "$out"' EXIT
status=0
for f in "$dir"/*.c; do
  for opt in -O0 -O2; do
    cmd="cc -std=c11 $opt -Wall -Wextra -Werror -c $f -o $out/$(basename "$f" .c).o"
    if ! $cmd; then
      echo "FAILED: $cmd"
      status=1
    fi
  done
done
cmd="cc -std=c11 -Wall -Wextra -Werror -fsyntax-only -x c $dir/repro.h"
if ! $cmd; then
  echo "FAILED: $cmd"
  status=1
fi
[ $status -eq 0 ] || exit 1
cc -o "$out/repro_test" "$out"/*.o || exit 1
"$out/repro_test" unit
