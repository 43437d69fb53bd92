#!/usr/bin/env python3
"""Checks the MTP part of a golden file written with `dssim golden --mtp --tensors layers`
(docs/golden-and-check.md): /mtp_logits and /mtp_logits_index hold one row per position of
every sequence except its last token (row p predicts the token at p + 2), each step's rows
equal the BF16 tensor step<k>/mtp.0.head widened, and the mtp_* attributes are present.

Usage: golden_mtp_layout.py GOLDEN.h5
"""
import sys

import h5py
import numpy as np


def fail(msg):
    print(f"golden_mtp_layout: FAIL: {msg}")
    sys.exit(1)


def main():
    with h5py.File(sys.argv[1], "r") as f:
        for name in ("mtp_logits", "mtp_logits_index"):
            if name not in f:
                fail(f"no /{name}")
        logits, index = np.asarray(f["mtp_logits"]), np.asarray(f["mtp_logits_index"])
        if logits.dtype != np.float32 or logits.shape[1] != f["logits"].shape[1]:
            fail(f"/mtp_logits is {logits.dtype} {logits.shape}")
        if index.shape != (logits.shape[0], 3):
            fail(f"/mtp_logits_index shape {index.shape}")
        for a in ("mtp_drafted", "mtp_accepted"):
            if a not in f.attrs:
                fail(f"no attribute {a}")
        if not 0 <= f.attrs["mtp_accepted"] <= f.attrs["mtp_drafted"]:
            fail("mtp_accepted > mtp_drafted")
        lengths = np.asarray(f["sequence_lengths"])
        for s, n in enumerate(lengths):
            pos = sorted(index[index[:, 1] == s, 2].tolist())
            if pos != list(range(n - 1)):
                fail(f"sequence {s}: MTP positions {pos}, expected 0..{n - 2}")
        for step in sorted(set(index[:, 0].tolist())):
            head = np.asarray(f[f"tensors/step{step}/mtp.0.head"])
            widened = (head.astype(np.uint32) << 16).view(np.float32)
            if not np.array_equal(widened, logits[index[:, 0] == step]):
                fail(f"step {step}: /mtp_logits rows differ from mtp.0.head")
            if f[f"tensors/step{step}/mtp.0.head"].attrs["dtype"] not in (b"bf16", "bf16"):
                fail("mtp.0.head is not bf16")
    print(f"golden_mtp_layout: ok ({logits.shape[0]} MTP rows)")


if __name__ == "__main__":
    main()
