#!/bin/sh
# Fails when a source file includes a header of a layer that is not below its own
# (docs/design.md, Layers), or when bench/, tests/ or fuzzers/ include cli/. Linking proves
# the order for code; this proves it for headers, which link nothing.
# Usage: layering.sh SOURCE_DIR. Exit 0: in order; 1: not (each offence is printed).
cd "${1:?usage: layering.sh SOURCE_DIR}" || exit 2
rank() {
  case $1 in
    base) echo 0 ;; scenario) echo 1 ;; probe) echo 2 ;; run) echo 3 ;; stressors) echo 4 ;;
    executor | oracle) echo 5 ;; reports | repro) echo 6 ;; driver | vm) echo 7 ;; cli) echo 8 ;;
    *) echo 99 ;;
  esac
}
bad=0
for dir in base scenario probe run stressors executor oracle reports repro driver vm cli; do
  own=$(rank "$dir")
  for inc in $(grep -ho '^#include "[a-z_]*/' "$dir"/*.h "$dir"/*.cc 2>/dev/null | sed 's/#include "//; s#/##' | sort -u); do
    [ "$inc" = "$dir" ] && continue
    r=$(rank "$inc")
    [ "$r" = 99 ] && continue
    if [ "$r" -ge "$own" ]; then
      grep -n "^#include \"$inc/" "$dir"/*.h "$dir"/*.cc
      echo "$dir/ includes $inc/, which is not below it"
      bad=1
    fi
  done
done
if grep -n '^#include "cli/' bench/* tests/* fuzzers/* 2>/dev/null; then
  echo "bench/, tests/ and fuzzers/ include no cli/ header"
  bad=1
fi
exit $bad
