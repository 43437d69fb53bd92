#!/usr/bin/env python3
"""Writes a small random DeepSeek checkpoint in the HF layout (config.json, two safetensors
shards and model.safetensors.index.json) from an HF config.json.

A development fallback for tests/torch_ref while `dssim checkpoint synth` is unavailable; the
CTest registration uses dssim's own generator when it exists. Linear weights are FP8 E4M3 with
FP32 128x128 block scales (`weight_scale_inv`) when the config has a quantization_config, else
BF16; embeddings, norms, the gate, eh_proj and the head are BF16, the gate bias FP32.

Usage: synth_checkpoint.py --config configs/models/deepseek-tiny.json --seed 1 --out DIR
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deepseek_ref import BLOCK, e4m3_decode, e4m3_encode  # noqa: E402


def linear_tensors(name, out_dim, in_dim, fp8, gen):
    w = torch.randn(out_dim, in_dim, generator=gen, dtype=torch.float64) / math.sqrt(in_dim)
    if not fp8:
        return {name + ".weight": w.to(torch.bfloat16)}
    nb_o, nb_i = math.ceil(out_dim / BLOCK), math.ceil(in_dim / BLOCK)
    pad = torch.zeros(nb_o * BLOCK, nb_i * BLOCK, dtype=torch.float64)
    pad[:out_dim, :in_dim] = w
    blocks = pad.view(nb_o, BLOCK, nb_i, BLOCK)
    scale = (blocks.abs().amax(dim=(1, 3)) / 448.0).to(torch.float32)  # [nb_o, nb_i]
    full = scale.to(torch.float64).repeat_interleave(BLOCK, 0).repeat_interleave(BLOCK, 1)
    q = e4m3_encode((pad / full)[:out_dim, :in_dim])
    assert not torch.isnan(e4m3_decode(q)).any()
    return {name + ".weight": q, name + ".weight_scale_inv": scale}


def synth(cfg, seed):
    gen = torch.Generator().manual_seed(seed)
    fp8 = bool(cfg.get("quantization_config"))
    D, V, H = cfg["hidden_size"], cfg["vocab_size"], cfg["num_attention_heads"]
    nope, rope, vd = cfg["qk_nope_head_dim"], cfg["qk_rope_head_dim"], cfg["v_head_dim"]
    q_lora, kv_lora = cfg.get("q_lora_rank") or 0, cfg["kv_lora_rank"]
    E = cfg.get("n_routed_experts") or 0
    t = {}

    def norm(name, n):
        t[name] = (1.0 + 0.1 * torch.randn(n, generator=gen)).to(torch.bfloat16)

    def lin(name, o, i):
        t.update(linear_tensors(name, o, i, fp8, gen))

    def mlp(prefix, inter):
        lin(prefix + ".gate_proj", inter, D)
        lin(prefix + ".up_proj", inter, D)
        lin(prefix + ".down_proj", D, inter)

    def layer(i):
        p = f"model.layers.{i}."
        norm(p + "input_layernorm.weight", D)
        norm(p + "post_attention_layernorm.weight", D)
        if q_lora:
            lin(p + "self_attn.q_a_proj", q_lora, D)
            norm(p + "self_attn.q_a_layernorm.weight", q_lora)
            lin(p + "self_attn.q_b_proj", H * (nope + rope), q_lora)
        else:
            lin(p + "self_attn.q_proj", H * (nope + rope), D)
        lin(p + "self_attn.kv_a_proj_with_mqa", kv_lora + rope, D)
        norm(p + "self_attn.kv_a_layernorm.weight", kv_lora)
        lin(p + "self_attn.kv_b_proj", H * (nope + vd), kv_lora)
        lin(p + "self_attn.o_proj", D, H * vd)
        if E and i >= cfg.get("first_k_dense_replace", 0):
            t[p + "mlp.gate.weight"] = (torch.randn(E, D, generator=gen) / math.sqrt(D)).to(
                torch.bfloat16)
            if cfg.get("topk_method") == "noaux_tc":
                t[p + "mlp.gate.e_score_correction_bias"] = 0.05 * torch.randn(E, generator=gen)
            for e in range(E):
                mlp(f"{p}mlp.experts.{e}", cfg["moe_intermediate_size"])
            if cfg.get("n_shared_experts"):
                mlp(p + "mlp.shared_experts",
                    cfg["n_shared_experts"] * cfg["moe_intermediate_size"])
        else:
            mlp(p + "mlp", cfg["intermediate_size"])

    t["model.embed_tokens.weight"] = torch.randn(V, D, generator=gen).to(torch.bfloat16)
    for i in range(cfg["num_hidden_layers"]):
        layer(i)
    norm("model.norm.weight", D)
    t["lm_head.weight"] = (torch.randn(V, D, generator=gen) / math.sqrt(D)).to(torch.bfloat16)
    for k in range(cfg.get("num_nextn_predict_layers") or 0):
        i = cfg["num_hidden_layers"] + k
        p = f"model.layers.{i}."
        layer(i)
        t[p + "embed_tokens.weight"] = t["model.embed_tokens.weight"].clone()
        norm(p + "enorm.weight", D)
        norm(p + "hnorm.weight", D)
        t[p + "eh_proj.weight"] = (torch.randn(D, 2 * D, generator=gen) /
                                   math.sqrt(2 * D)).to(torch.bfloat16)
        norm(p + "shared_head.norm.weight", D)
        t[p + "shared_head.head.weight"] = t["lm_head.weight"].clone()
    return t


def write_safetensors(path, tensors):
    names = {torch.bfloat16: "BF16", torch.float32: "F32", torch.uint8: "F8_E4M3"}
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        x = tensors[name].contiguous()
        data = (x.view(torch.int16) if x.dtype == torch.bfloat16 else x).numpy().tobytes()
        header[name] = {"dtype": names[x.dtype], "shape": list(x.shape),
                        "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    with open(args.config) as f:
        cfg = json.load(f)
    tensors = synth(cfg, args.seed)
    os.makedirs(args.out, exist_ok=True)
    names = sorted(tensors)
    shards = [names[:len(names) // 2], names[len(names) // 2:]]
    weight_map = {}
    for k, part in enumerate(shards):
        fname = f"model-{k + 1:05d}-of-{len(shards):05d}.safetensors"
        write_safetensors(os.path.join(args.out, fname), {n: tensors[n] for n in part})
        weight_map.update({n: fname for n in part})
    with open(os.path.join(args.out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=1)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
