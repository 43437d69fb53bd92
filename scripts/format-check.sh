#!/usr/bin/env bash
# Checks that C++ sources are formatted as clang-format-14 formats them with the repo's
# .clang-format, without changing any file; exits 1 listing the files that are not (fix one
# with `clang-format-14 -i FILE`). A fixed clang-format version, because other versions
# format a few constructs differently and the check must give the same answer everywhere.
# Usage: scripts/format-check.sh [FILE...]   (paths from the repo root; default: every tracked
# *.cpp, *.h and *.inc)
set -euo pipefail
cd "$(dirname "$0")/.."

cf=${CLANG_FORMAT:-clang-format-14}
if ! command -v "$cf" >/dev/null; then
  echo "format-check: $cf not found (scripts/setup.sh --test installs clang-format-14)" >&2
  exit 2
fi

if (($# > 0)); then
  files=("$@")
else
  mapfile -t files < <(git ls-files '*.cpp' '*.h' '*.inc')
fi
if ((${#files[@]} == 0)); then
  echo "format-check: no files to check" >&2
  exit 2
fi

for f in "${files[@]}"; do
  if [[ ! -f "$f" ]]; then
    echo "format-check: $f: no such file (tracked but deleted? commit or restore it)" >&2
    exit 2
  fi
done

# One clang-format run for all files (one per file takes half a minute); its diagnostics name
# each unformatted file as "FILE:LINE:COL: error: code should be clang-formatted".
set +e
out=$("$cf" --dry-run --Werror "${files[@]}" 2>&1)
rc=$?
set -e
if ((rc != 0)); then
  mapfile -t bad < <(grep -E '^.+:[0-9]+:[0-9]+: (error|warning): code should be clang-formatted' \
                       <<<"$out" | sed -E 's/:[0-9]+:[0-9]+: .*//' | sort -u)
  if ((${#bad[@]} == 0)); then
    # Not a formatting difference (an unreadable file, a bad .clang-format): show what it said.
    echo "format-check: $cf failed:" >&2
    echo "$out" >&2
    exit 2
  fi
  echo "format-check: ${#bad[@]} of ${#files[@]} files differ from $cf (.clang-format):"
  printf '  %s\n' "${bad[@]}"
  echo "fix: $cf -i FILE..."
  exit 1
fi
echo "format-check: ${#files[@]} files formatted ($cf)"
