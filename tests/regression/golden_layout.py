#!/usr/bin/env python3
"""Opens a dssim golden file with h5py, checks the layout documented in
docs/golden-and-check.md, and writes candidate files for the `dssim check` regression tests:

  corrupt.h5          a copy of the golden with ONE element of step0/layers.1.attn_residual
                      changed (a high mantissa bit of its BF16 pattern flipped);
  layers.npz          three golden tensors as numpy arrays (bf16 widened to float32);
  embed_candidate.npy one tensor, named through names.json;
  names.json          {"embed_candidate": "step0/embed"};
  wrong_shape.npz     a golden tensor transposed;
  unknown.npz         a tensor whose name is not in the golden;
  truncated.h5        the first half of the golden's bytes.

Usage: golden_layout.py GOLDEN.h5 OUT_DIR
"""
import json
import os
import shutil
import sys

import h5py
import numpy as np


def fail(msg):
    print(f"golden_layout: FAIL: {msg}")
    sys.exit(1)


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def bf16_to_f32(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def main():
    golden, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    with h5py.File(golden, "r") as f:
        attrs = {k: f.attrs[k] for k in f.attrs}
        for key in ("config", "mode", "attention", "scale_fmt", "numerics_spec_version",
                    "dssim_version", "checkpoint_sha256", "prompts", "tensors",
                    "layout_version", "tensor_count", "max_new_tokens"):
            if key not in attrs:
                fail(f"root attribute {key} missing")
        config = json.loads(text(attrs["config"]))
        vocab = config["vocab_size"]
        prompts = json.loads(text(attrs["prompts"]))
        if len(text(attrs["checkpoint_sha256"])) != 64:
            fail("checkpoint_sha256 is not a SHA-256 hex digest")

        tokens = f["tokens"]
        if tokens.dtype != np.int64 or tokens.ndim != 2 or tokens.shape[0] != len(prompts):
            fail(f"/tokens must be int64 [sequences, longest], got {tokens.dtype} {tokens.shape}")
        tok = tokens[()]
        lengths = f["sequence_lengths"][()]
        plen = f["prompt_lengths"][()]
        for s, p in enumerate(prompts):
            if list(tok[s, :len(p)]) != p or plen[s] != len(p):
                fail(f"/tokens row {s} does not start with prompt {p}")
            if np.any(tok[s, lengths[s]:] != -1):
                fail(f"/tokens row {s} not padded with -1 after its length")

        logits = f["logits"]
        index = f["logits_index"][()]
        if logits.dtype != np.float32 or logits.shape[1] != vocab:
            fail(f"/logits must be float32 [rows, {vocab}], got {logits.dtype} {logits.shape}")
        if index.shape != (logits.shape[0], 3):
            fail("/logits_index must be [rows, 3]")
        if np.any(np.diff(index[:, 0]) < 0):
            fail("/logits_index steps not ascending")

        orders = []

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                for key in ("dtype", "order"):
                    if key not in obj.attrs:
                        fail(f"/tensors/{name} lacks the {key} attribute")
                dt = text(obj.attrs["dtype"])
                if dt == "bf16" and obj.dtype != np.uint16:
                    fail(f"/tensors/{name}: bf16 must be stored as uint16")
                orders.append((int(obj.attrs["order"]), name))

        f["tensors"].visititems(visit)
        orders.sort()
        if [o for o, _ in orders] != list(range(len(orders))):
            fail("execution orders are not 0..n-1")
        if len(orders) != int(attrs["tensor_count"]):
            fail("tensor_count disagrees with /tensors")
        names = [n for _, n in orders]
        target = "step0/layers.1.attn_residual"
        if target not in names:
            fail(f"{target} missing")
        # The head output of step 0, widened, must equal the first /logits rows.
        head = f["tensors/step0/head"]
        rows0 = int(np.sum(index[:, 0] == 0))
        if not np.array_equal(bf16_to_f32(head[()]), logits[:rows0]):
            fail("step0/head (bf16) does not widen to the step-0 rows of /logits")
        embed = f["tensors/step0/embed"][()]
        layer1 = f[f"tensors/{target}"][()]
        last = names[-1]
        last_arr = f[f"tensors/{last}"][()]
        last_dt = text(f[f"tensors/{last}"].attrs["dtype"])
    print(f"layout ok: {len(names)} tensors, {logits.shape[0]} logit rows, vocab {vocab}")

    shutil.copyfile(golden, os.path.join(out, "corrupt.h5"))
    with h5py.File(os.path.join(out, "corrupt.h5"), "r+") as f:
        d = f[f"tensors/{target}"]
        a = d[()]
        a.flat[a.size // 2] ^= np.uint16(0x0040)
        d[...] = a

    def widen(arr, dt):
        return bf16_to_f32(arr) if dt == "bf16" else arr

    np.savez(os.path.join(out, "layers.npz"),
             **{"step0/embed": bf16_to_f32(embed), target: bf16_to_f32(layer1),
                last: widen(last_arr, last_dt)})
    np.save(os.path.join(out, "embed_candidate.npy"), bf16_to_f32(embed))
    with open(os.path.join(out, "names.json"), "w") as fh:
        json.dump({"embed_candidate": "step0/embed"}, fh)
    np.savez(os.path.join(out, "wrong_shape.npz"), **{"step0/embed": bf16_to_f32(embed).T.copy()})
    np.savez(os.path.join(out, "unknown.npz"), **{"step0/no_such_tensor": bf16_to_f32(embed)})
    with open(golden, "rb") as fh:
        data = fh.read()
    with open(os.path.join(out, "truncated.h5"), "wb") as fh:
        fh.write(data[: len(data) // 2])
    print("candidates written")


if __name__ == "__main__":
    main()
