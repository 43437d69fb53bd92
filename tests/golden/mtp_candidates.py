#!/usr/bin/env python3
"""Writes the candidates of the `dssim check` MTP tests from a golden file written by
`dssim golden --mtp` (tests/golden/CMakeLists.txt):

  identical.h5    a byte copy of the golden;
  corrupt_mtp.h5  a copy with ONE element of /mtp_logits changed (bit 22 of its FP32 pattern
                  flipped, at the row's largest magnitude, so the change is about 25-50% of
                  the value); /logits and every /tensors entry, step<k>/mtp.0.head included,
                  are untouched, so /mtp_logits must be named as the first divergence;
  corrupt_both.h5 the same, plus one element of /logits changed: /logits comes first in
                  execution order, so it must be named instead;
  no_mtp.h5       a copy without /mtp_logits (reported missing, not a failure).

Usage: mtp_candidates.py GOLDEN.h5 OUT_DIR
"""
import os
import shutil
import sys

import h5py
import numpy as np


def fail(msg):
    print(f"mtp_candidates: FAIL: {msg}")
    sys.exit(1)


def flip_largest(dataset, row):
    """Flips mantissa bit 22 of the largest-magnitude element of `row`; returns its column."""
    values = dataset[row]
    col = int(np.argmax(np.abs(values)))
    if values[col] == 0.0:
        fail(f"{dataset.name} row {row} is all zeros")
    bits = np.array([values[col]], dtype=np.float32).view(np.uint32)
    bits ^= np.uint32(1 << 22)
    values[col] = bits.view(np.float32)[0]
    dataset[row] = values
    return col


def main():
    golden, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    with h5py.File(golden, "r") as f:
        if "mtp_logits" not in f or f["mtp_logits"].shape[0] == 0:
            fail("the golden has no /mtp_logits rows (was it written with --mtp?)")
        if not any(name.startswith("mtp.") for step in f["tensors"] for name in f["tensors"][step]):
            fail("the golden stores no mtp.* tensors (expected --tensors layers or all)")
    shutil.copyfile(golden, os.path.join(out, "identical.h5"))
    for name in ("corrupt_mtp.h5", "corrupt_both.h5", "no_mtp.h5"):
        shutil.copyfile(golden, os.path.join(out, name))
    with h5py.File(os.path.join(out, "corrupt_mtp.h5"), "r+") as f:
        flip_largest(f["mtp_logits"], 0)
    with h5py.File(os.path.join(out, "corrupt_both.h5"), "r+") as f:
        flip_largest(f["mtp_logits"], 0)
        flip_largest(f["logits"], f["logits"].shape[0] - 1)
    with h5py.File(os.path.join(out, "no_mtp.h5"), "r+") as f:
        del f["mtp_logits"]
    print("mtp candidates written")


if __name__ == "__main__":
    main()
