#!/usr/bin/env python3
"""Regenerates the malformed safetensors corpus used by tests/regression/checkpoint.cmake and
tests/unit/models_checkpoint. Each case holds exactly one defect; the expected error text is in
the CMake file. Run from anywhere: python3 tests/data/safetensors/make_corpus.py"""
import json
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
BAD = os.path.join(HERE, "bad")


def st_bytes(header, data=b"", length=None):
    text = header if isinstance(header, (bytes, str)) else json.dumps(header, separators=(",", ":"))
    if isinstance(text, str):
        text = text.encode()
    n = len(text) if length is None else length
    return struct.pack("<Q", n) + text + data


def write(name, content):
    path = os.path.join(BAD, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(content)


def t(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def main():
    shutil.rmtree(BAD, ignore_errors=True)
    os.makedirs(BAD)
    ok = {"a": t("F32", [2], 0, 8)}
    write("short_file.safetensors", b"\x10\x00\x00")
    write("header_over_cap.safetensors", st_bytes(ok, b"\0" * 8, length=200_000_000))
    write("header_past_eof.safetensors", st_bytes(ok, b"\0" * 8, length=4096))
    write("bad_json.safetensors", st_bytes('{"a": {"dtype": "F32",', b""))
    write("not_object.safetensors", st_bytes("[1, 2, 3]"))
    write("unknown_dtype.safetensors", st_bytes({"a": t("F128", [2], 0, 32)}, b"\0" * 32))
    write("offsets_out_of_range.safetensors", st_bytes({"a": t("F32", [4], 0, 16)}, b"\0" * 8))
    write("begin_after_end.safetensors", st_bytes({"a": t("F32", [0], 8, 4)}, b"\0" * 8))
    write("overlap.safetensors",
          st_bytes({"a": t("F32", [2], 0, 8), "b": t("F32", [2], 4, 12)}, b"\0" * 12))
    write("gap.safetensors",
          st_bytes({"a": t("F32", [1], 0, 4), "b": t("F32", [1], 8, 12)}, b"\0" * 12))
    write("trailing_bytes.safetensors", st_bytes(ok, b"\0" * 12))
    write("shape_mismatch.safetensors", st_bytes({"a": t("BF16", [3, 2], 0, 8)}, b"\0" * 8))
    write("shape_overflow.safetensors",
          st_bytes({"a": t("F32", [1 << 40, 1 << 40], 0, 8)}, b"\0" * 8))
    write("negative_dim.safetensors", st_bytes({"a": t("F32", [-2], 0, 8)}, b"\0" * 8))
    write("missing_dtype.safetensors",
          st_bytes({"a": {"shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8))
    write("duplicate_key.safetensors",
          st_bytes('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                   '"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', b"\0" * 8))
    write("metadata_not_string.safetensors",
          st_bytes({"__metadata__": {"format": 1}, "a": t("F32", [2], 0, 8)}, b"\0" * 8))
    write("deep_nesting.safetensors", st_bytes("{\"a\":" + "[" * 100 + "]" * 100 + "}"))

    good = st_bytes({"__metadata__": {"format": "pt"}, "x": t("F32", [2], 0, 8)}, b"\0" * 8)

    def ckpt(name, index, shards):
        d = os.path.join(BAD, name)
        os.makedirs(d)
        text = index if isinstance(index, str) else json.dumps(index, indent=2)
        with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
            f.write(text)
        for fname, content in shards.items():
            with open(os.path.join(d, fname), "wb") as f:
                f.write(content)

    ckpt("missing_shard", {"metadata": {"total_size": 8},
                           "weight_map": {"x": "model-00001-of-00002.safetensors",
                                          "y": "model-00002-of-00002.safetensors"}},
         {"model-00001-of-00002.safetensors": good})
    ckpt("index_names_absent_tensor", {"metadata": {"total_size": 8},
                                       "weight_map": {"x": "model-00001-of-00001.safetensors",
                                                      "y": "model-00001-of-00001.safetensors"}},
         {"model-00001-of-00001.safetensors": good})
    ckpt("unlisted_tensor", {"metadata": {"total_size": 8},
                             "weight_map": {"y": "model-00001-of-00001.safetensors"}},
         {"model-00001-of-00001.safetensors":
          st_bytes({"x": t("F32", [1], 0, 4), "y": t("F32", [1], 4, 8)}, b"\0" * 8)})
    ckpt("wrong_total_size", {"metadata": {"total_size": 9},
                              "weight_map": {"x": "model-00001-of-00001.safetensors"}},
         {"model-00001-of-00001.safetensors": good})
    ckpt("index_bad_json", '{"weight_map": {"x": ', {"model-00001-of-00001.safetensors": good})
    ckpt("index_path_escape", {"weight_map": {"x": "../short_file.safetensors"}}, {})
    ckpt("bad_shard", {"weight_map": {"x": "model-00001-of-00001.safetensors"}},
         {"model-00001-of-00001.safetensors": st_bytes({"x": t("F32", [3], 0, 8)}, b"\0" * 8)})
    os.makedirs(os.path.join(BAD, "empty_dir"))
    with open(os.path.join(BAD, "empty_dir", ".keep"), "w") as f:
        f.write("")

    # A well-formed checkpoint whose tensors do not match its config: inspect exits 1.
    d = os.path.join(HERE, "mismatch")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    shutil.copy(os.path.join(HERE, "..", "..", "..", "configs", "models", "deepseek-tiny-v2lite.json"),
                os.path.join(d, "config.json"))
    with open(os.path.join(d, "model.safetensors"), "wb") as f:
        f.write(st_bytes({"__metadata__": {"format": "pt"},
                          "model.norm.weight": t("F32", [192], 0, 768),
                          "not.a.deepseek.tensor": t("U8", [4], 768, 772)}, b"\0" * 772))


if __name__ == "__main__":
    main()
