#!/usr/bin/env python3
"""Checks the text datasets of a golden file written from text prompts (docs/golden-and-check.md):
/prompt_texts and /generated_texts hold one UTF-8 string per sequence of /tokens, the
tokenizer_sha256 attribute is a SHA-256, and the chat prompts carry the template's markers.
Usage: golden_text_layout.py FILE.h5"""
import re
import sys

import h5py

with h5py.File(sys.argv[1], "r") as f:
    n = f["tokens"].shape[0]
    prompts = [s.decode("utf-8") for s in f["prompt_texts"][()]]
    texts = [s.decode("utf-8") for s in f["generated_texts"][()]]
    assert len(prompts) == n and len(texts) == n, (len(prompts), len(texts), n)
    # --prompt "Hi" first, then the lines of prompts.jsonl, all through the chat template.
    assert prompts[0] == "<｜begin▁of▁sentence｜><｜User｜>Hi<｜Assistant｜>", prompts[0]
    assert prompts[1] == "<｜begin▁of▁sentence｜><｜User｜>Hello, world!<｜Assistant｜>", prompts[1]
    assert prompts[2] == "<｜begin▁of▁sentence｜>Be brief.<｜User｜>你好<｜Assistant｜>", prompts[2]
    assert prompts[3].endswith("line one\nline two<｜Assistant｜>"), prompts[3]
    assert re.fullmatch(r"[0-9a-f]{64}", f.attrs["tokenizer_sha256"].decode()), f.attrs["tokenizer_sha256"]
    assert all(t != "" for t in texts), texts
print("golden_text_layout: ok")
