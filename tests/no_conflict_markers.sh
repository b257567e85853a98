#!/bin/sh
# Fails when a tracked file holds a line that git writes for a merge conflict: one starting
# with "<<<<<<< ", "||||||| " or ">>>>>>> " (a bare "=======" is left alone: markdown
# underlines headings with it). Usage: no_conflict_markers.sh SOURCE_DIR
# Exit 0: none; 1: some (each is printed); 77: not a git checkout (ctest skips).
cd "${1:?usage: no_conflict_markers.sh SOURCE_DIR}" || exit 2
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "skipped: $1 is not a git checkout, so there are no tracked files to check"
  exit 77
fi
git grep -nE '^(<<<<<<<|[|]{7}|>>>>>>>)( |$)' -- .
case $? in
  0) echo "merge-conflict markers in the tracked files above"; exit 1 ;;
  1) exit 0 ;;
  *) echo "git grep failed"; exit 2 ;;
esac
