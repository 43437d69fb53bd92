#!/usr/bin/env bash
# Sweep identity checks.
#   sweep_check.sh EXE STUDY OUT            1 thread == 2 threads; stop after 2 points +
#                                           --resume == full run; every SVG parses as XML.
#   sweep_check.sh EXE STUDY OUT MPIEXEC    mpirun -np 2 == serial == --threads 2 (every output
#                                           file byte for byte), MPI stop + MPI --resume ==
#                                           serial, and MPI failures: exit 2, one line, no
#                                           outputs, no hang.
#   sweep_check.sh EXE --builtin OUT        runs the five built-in studies: every SVG is valid
#                                           XML (xmllint when present, and Python) and passes
#                                           svg_check.py (rsvg-convert), and every capacity
#                                           answer fits in HBM and meets the 50 ms SLO.
set -euo pipefail
exe=$1; study=$2; out=$3; mpiexec=${4:-}
rm -rf "$out"; mkdir -p "$out"

if [[ "$study" == "--builtin" ]]; then
  for s in chips-head-to-head ascend-910c-what-if h800-h20-h100-decode fp8-vs-bf16-vs-int8 capacity; do
    "$exe" sweep --study "$s" --out "$out/$s" --threads 2 >/dev/null
    grep -q "^## Answer" "$out/$s/summary.md"
  done
  if command -v xmllint >/dev/null; then xmllint --noout "$out"/*/*.svg; fi
  python3 "$(dirname "$0")/svg_check.py" "$out"/*/
  python3 - "$out" <<'PY'
import sys, glob, re, xml.etree.ElementTree as ET
files = glob.glob(sys.argv[1] + "/*/*.svg")
assert len(files) >= 5 * 3, files
for f in files:
    root = ET.parse(f).getroot()
    assert root.tag.endswith("svg"), f
    assert len(root.findall(".//{http://www.w3.org/2000/svg}text")) > 3, f
# capacity: | device | context | fewest | batch | tok/s | TPOT | memory GB | HBM GB | fewer |
rows = 0
for line in open(sys.argv[1] + "/capacity/summary.md"):
    c = [x.strip() for x in line.strip().strip("|").split("|")]
    if len(c) != 9 or not re.match(r"^\d+( or fewer)?$", c[2]):
        continue
    rows += 1
    assert float(c[5]) <= 50, line
    assert float(c[6]) <= float(c[7]), line
    assert "fit" in c[8] or "SLO" in c[8], line  # one step fewer fails for a stated reason
assert rows >= 20, rows
PY
  echo "built-in studies OK"
  exit 0
fi
outputs() { (cd "$1" && ls | sort); }
same_dirs() {  # every file of $1 exists in $2 with the same bytes, and no extra file
  [[ "$(outputs "$1")" == "$(outputs "$2")" ]] || { echo "file lists differ: $1 $2"; exit 1; }
  for f in $(outputs "$1"); do cmp "$1/$f" "$2/$f"; done
}
"$exe" sweep --study "$study" --out "$out/serial" --threads 1 >/dev/null
"$exe" sweep --study "$study" --out "$out/parallel" --threads 2 >/dev/null
same_dirs "$out/serial" "$out/parallel"

if [[ -z "$mpiexec" ]]; then
  "$exe" sweep --study "$study" --out "$out/resumed" --threads 2 --stop-after 2 >/dev/null
  test ! -e "$out/resumed/results.csv"
  "$exe" sweep --study "$study" --out "$out/resumed" --threads 2 --resume >/dev/null
  same_dirs "$out/serial" "$out/resumed"
  python3 - "$out/serial" <<'PY'
import sys, glob, xml.etree.ElementTree as ET
files = glob.glob(sys.argv[1] + "/*.svg")
assert len(files) >= 4, files
for f in files:
    root = ET.parse(f).getroot()
    assert root.tag.endswith("svg"), f
    assert len(root.findall(".//{http://www.w3.org/2000/svg}text")) > 3, f
PY
  echo "sweep identity OK"
  exit 0
fi

# OpenMPI refuses root unless told (CI containers run as root); vader's single-copy mode
# needs ptrace rights containers often lack.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
mpi() { timeout 300 "$mpiexec" -q --oversubscribe -np 2 "$exe" sweep "$@"; }
mpi --study "$study" --out "$out/mpi" --threads 1 >"$out/mpi.stdout"
same_dirs "$out/serial" "$out/mpi"
grep -q "^wrote $out/mpi/" "$out/mpi.stdout"
[[ $(grep -c "^# " "$out/mpi.stdout") == 1 ]] || { echo "summary printed more than once"; exit 1; }

# Interrupted under MPI (an odd count, so the ranks' shares differ), resumed under MPI.
mpi --study "$study" --out "$out/mpi-resumed" --stop-after 3 >/dev/null
test ! -e "$out/mpi-resumed/results.csv"
[[ $(wc -l <"$out/mpi-resumed/points.journal") == 4 ]] || { echo "journal after stop"; exit 1; }
mpi --study "$study" --out "$out/mpi-resumed" --resume >/dev/null
same_dirs "$out/serial" "$out/mpi-resumed"

# Failures: a bad study (every rank fails) and an unusable --out (rank 0 fails).
check_failure() {  # name, expected message, args...
  local name=$1 msg=$2; shift 2
  set +e
  mpi "$@" >"$out/$name.log" 2>&1
  local rc=$?
  set -e
  [[ $rc == 2 ]] || { echo "$name: exit $rc, expected 2"; cat "$out/$name.log"; exit 1; }
  [[ $(wc -l <"$out/$name.log") == 1 ]] || { echo "$name: not one line:"; cat "$out/$name.log"; exit 1; }
  grep -q "^dssim: error: .*$msg" "$out/$name.log" || { echo "$name:"; cat "$out/$name.log"; exit 1; }
}
check_failure bad-study "deployment.devices: must be positive" \
  --study "$(dirname "$study")/bad_field.json" --out "$out/bad-study"
test ! -e "$out/bad-study"
touch "$out/not-a-dir"
check_failure bad-out "cannot create directory" --study "$study" --out "$out/not-a-dir/x"
echo "sweep MPI identity OK"
