#!/usr/bin/env python3
"""End-to-end cross-check of dssim against the independent PyTorch reference.

Synthesises a checkpoint with `dssim checkpoint synth`, runs `dssim golden` and
deepseek_ref.py on the same prompt, and compares the logits with compare.py (tolerance derived
in docs/torch-crosscheck.md). Exit 0 agree, 1 disagree, 2 a tool failed, 77 torch missing.

Usage: crosscheck.py --dssim PATH --model deepseek-tiny [--mode demo|fp8]
                     [--attention absorbed|naive] [--tokens 1,2,3] [--workdir DIR]
"""
import argparse
import os
import subprocess
import sys
import tempfile

try:
    import torch  # noqa: F401
except ImportError as e:
    print(f"SKIP: {e} (scripts/setup.sh --test installs python3-torch)")
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PROMPT = "0,3,17,250,999,5,42,7,600,123,88,1,400,77,2,31"


def step(cmd):
    print("+", " ".join(cmd), flush=True)
    r = subprocess.run(cmd, cwd=ROOT)
    if r.returncode != 0:
        print(f"command failed with exit code {r.returncode}")
        sys.exit(2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dssim", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--mode", choices=["demo", "fp8"], default="demo")
    ap.add_argument("--attention", choices=["absorbed", "naive"], default="absorbed")
    ap.add_argument("--tokens", default=PROMPT)
    ap.add_argument("--workdir")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="crosscheck_") as tmp:
        work = args.workdir or tmp
        ckpt = os.path.join(work, args.model)
        golden = os.path.join(work, f"{args.model}-{args.mode}-{args.attention}.h5")
        ref = os.path.join(work, f"{args.model}-{args.mode}-{args.attention}.npz")
        step([args.dssim, "checkpoint", "synth", "--model", args.model, "--seed", "1",
              "--out", ckpt])
        step([args.dssim, "golden", "--checkpoint", ckpt, "--tokens", args.tokens, "--mode",
              args.mode, "--attention", args.attention, "--out", golden])
        step([sys.executable, os.path.join(HERE, "deepseek_ref.py"), "--checkpoint", ckpt,
              "--tokens", args.tokens, "--mode", args.mode, "--attention", args.attention,
              "--out", ref])
        r = subprocess.run([sys.executable, os.path.join(HERE, "compare.py"), "--golden",
                            golden, "--torch", ref, "--checkpoint", ckpt, "--mode", args.mode,
                            "--attention", args.attention])
        return r.returncode


if __name__ == "__main__":
    sys.exit(main())
