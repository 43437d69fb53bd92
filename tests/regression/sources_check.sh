#!/usr/bin/env bash
# Citations stay inside the repository (issue 21): sources_check.sh EXE
# No config cites a path outside the repository (../shared, shared/research); every
# docs/sources/ file a config, `dssim devices --show`, `dssim devices --systems` or
# `dssim validate` cites exists.
set -euo pipefail
exe=$1
fail=0
if grep -rnE '(\.\./)?shared/(research|data)/' configs; then
  echo "sources_check: configs cite files outside the repository (above)"; fail=1
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
{
  for d in configs/devices/*.json; do "$exe" devices --show "$(basename "$d" .json)"; done
  "$exe" devices --systems
  "$exe" validate || true  # exit 1 = a case outside its band: the citations still print
  cat configs/*/*.json
} >"$out" 2>&1
if grep -n "shared/research" "$out"; then
  echo "sources_check: an output cites shared/research"; fail=1
fi
for f in $(grep -oE 'docs/sources/[A-Za-z0-9_.-]+\.md' "$out" | sort -u); do
  [[ -f "$f" ]] || { echo "sources_check: cited $f does not exist"; fail=1; }
done
n=$(grep -c 'docs/sources/' "$out" || true)
[[ $n -gt 50 ]] || { echo "sources_check: only $n citations of docs/sources found"; fail=1; }
[[ $fail == 0 ]] && echo "sources_check: $n citations, all inside the repository"
exit $fail
