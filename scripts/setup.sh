#!/usr/bin/env bash
# Installs the Debian 12 packages dssim needs (idempotent: apt-get runs only if something is
# missing, and `apt-get update` at most once). Usage: scripts/setup.sh [--test]
#   --test  also installs what the test suite needs (clang for fuzzers, PyTorch and h5py for the
#           independent cross-checks, OpenMPI for the MPI identity tests, clang-format-14 for
#           scripts/format-check.sh, rsvg-convert for the sweep plot checks; node and npm for
#           the tokenizer's JavaScript reference, whose npm package scripts/npm-deps.sh installs).
set -euo pipefail

packages=(build-essential cmake ninja-build ccache pkg-config
          libsystemc-dev libboost-graph-dev libhdf5-dev libcli11-dev doctest-dev
          nlohmann-json3-dev libopenblas-dev libssl-dev libzip-dev zlib1g-dev
          libopenmpi-dev openmpi-bin libpcre2-dev)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(clang-14 libclang-rt-14-dev python3 python3-numpy python3-h5py python3-torch
             clang-format-14 librsvg2-bin)
  # A node from elsewhere (e.g. NodeSource's nodejs, which bundles npm and conflicts with
  # Debian's npm package) serves as well.
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    packages+=(nodejs npm)
  fi
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  sudo_cmd=(sudo)
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
