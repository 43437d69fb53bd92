#!/usr/bin/env python3
"""Independent PyTorch forward pass of DeepSeek V2/V3 for cross-checking dssim.

Written from the spec (shared research notes, section 1 "official inference demo", 1.12, 3 and
4), not from dssim's C++ code. It loads a checkpoint in DeepSeek's HF layout (config.json plus
safetensors shards), runs a causal prefill over a token prompt and optional greedy decode steps
with a KV cache, and writes the logits of every processed position.

Numerics (docs/torch-crosscheck.md): the values are rounded to BF16 at exactly the points where
the official demo rounds (BF16 activations, FP32 softmax/RoPE/norm statistics, BF16 MoE
accumulation in ascending expert order). Every reduction in between (GEMM dot products, sums,
softmax denominators) is carried out in float64 and then rounded to FP32 and then to BF16, i.e.
this is the "exactly accumulated" version of the spec; it does not depend on BLAS blocking or
on the shape of a call, which makes decode-with-cache bit-identical to prefill here.

Usage: deepseek_ref.py --checkpoint DIR --tokens 1,2,3 [--max-new-tokens N] [--mode demo|fp8]
       [--attention absorbed|naive] [--mtp [--mtp-variant report|vllm]]
       [--max-seq-len 16384] --out logits.npz
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch

BF16, F32, F64 = torch.bfloat16, torch.float32, torch.float64
BLOCK = 128  # FP8 scaling block: activations 1x128, weights 128x128


class InputError(Exception):
    """Bad checkpoint or arguments; reported as one line, exit code 2."""


# ----------------------------------------------------------------------------- number formats

def _e4m3_values():
    """float64 value of each of the 256 E4M3FN codes (bias 7, no inf, 0x7F/0xFF NaN)."""
    vals = []
    for code in range(256):
        sign = -1.0 if code & 0x80 else 1.0
        exp, man = (code >> 3) & 0xF, code & 0x7
        if exp == 0xF and man == 0x7:
            vals.append(float("nan"))
        elif exp == 0:
            vals.append(sign * man * 2.0 ** -9)  # subnormal: m * 2^-9
        else:
            vals.append(sign * (1.0 + man / 8.0) * 2.0 ** (exp - 7))
    return torch.tensor(vals, dtype=F64)


E4M3 = _e4m3_values()
E4M3_POS = E4M3[:127]  # codes 0x00..0x7E: the non-negative finite values, ascending, max 448


def e4m3_decode(codes):
    """uint8 codes -> float64 values."""
    return E4M3[codes.long()]


def e4m3_encode(x):
    """float tensor -> uint8 codes, round to nearest even, saturating to +-448 (SatFinite)."""
    a = x.to(F64).abs().clamp(max=448.0)
    hi = torch.searchsorted(E4M3_POS, a).clamp(max=126)  # first grid value >= a
    lo = (hi - 1).clamp(min=0)
    dlo, dhi = a - E4M3_POS[lo], E4M3_POS[hi] - a
    pick_hi = (dhi < dlo) | ((dhi == dlo) & (hi % 2 == 0))  # ties: even code (even mantissa)
    code = torch.where(pick_hi, hi, lo)
    code = torch.where(x < 0, code | 0x80, code)
    return code.to(torch.uint8)


def bf16(x):
    """Round a float64/float32 result to FP32 (RNE) and then to BF16 (RNE)."""
    return x.to(F32).to(BF16)


def mm(a, b):
    """a [..., K] @ b [K, N] with float64 accumulation, rounded FP32 -> BF16."""
    return bf16(a.to(F64) @ b.to(F64))


# ------------------------------------------------------------------------------ safetensors

ST_DTYPES = {"BF16": (np.uint16, 2), "F16": (np.float16, 2), "F32": (np.float32, 4),
             "F64": (np.float64, 8), "F8_E4M3": (np.uint8, 1), "I64": (np.int64, 8),
             "I32": (np.int32, 4), "U8": (np.uint8, 1)}


def read_safetensors(path):
    """name -> torch tensor (BF16 as bfloat16, F8_E4M3 as raw uint8 codes)."""
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    if raw.size < 8:
        raise InputError(f"{path}: truncated (no header length)")
    n = struct.unpack("<Q", raw[:8].tobytes())[0]
    if 8 + n > raw.size:
        raise InputError(f"{path}: header length {n} exceeds file size {raw.size}")
    try:
        header = json.loads(raw[8:8 + n].tobytes())
    except ValueError as e:
        raise InputError(f"{path}: header is not JSON ({e})")
    out, base = {}, 8 + n
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        dt = meta.get("dtype")
        if dt not in ST_DTYPES:
            raise InputError(f"{path}: tensor {name}: unsupported dtype {dt}")
        np_dt, size = ST_DTYPES[dt]
        shape = [int(s) for s in meta["shape"]]
        begin, end = (int(v) for v in meta["data_offsets"])
        count = int(np.prod(shape)) if shape else 1
        if end - begin != count * size or base + end > raw.size:
            raise InputError(f"{path}: tensor {name}: data_offsets [{begin}, {end}] do not "
                             f"match shape {shape} {dt} or exceed the file")
        arr = np.frombuffer(raw[base + begin:base + end].tobytes(), dtype=np_dt).reshape(shape)
        if dt == "BF16":
            t = torch.from_numpy(arr.view(np.int16).copy()).view(BF16)
        else:
            t = torch.from_numpy(arr.copy())
        out[name] = t
    return out


class Checkpoint:
    """Tensors of a checkpoint directory (index + shards, or one model.safetensors)."""

    def __init__(self, directory):
        self.dir = directory
        index = os.path.join(directory, "model.safetensors.index.json")
        single = os.path.join(directory, "model.safetensors")
        if os.path.exists(index):
            with open(index) as f:
                files = sorted(set(json.load(f)["weight_map"].values()))
        elif os.path.exists(single):
            files = ["model.safetensors"]
        else:
            raise InputError(f"{directory}: no model.safetensors.index.json or model.safetensors")
        self.tensors = {}
        for name in files:
            self.tensors.update(read_safetensors(os.path.join(directory, name)))

    def get(self, name, shape=None):
        if name not in self.tensors:
            raise InputError(f"{self.dir}: missing tensor {name}")
        t = self.tensors[name]
        if shape is not None and list(t.shape) != list(shape):
            raise InputError(f"{self.dir}: tensor {name}: shape {list(t.shape)}, expected {shape}")
        return t

    def has(self, name):
        return name in self.tensors


class Weight:
    """A linear weight [out, in]: BF16, or FP8 E4M3 with FP32 128x128 block scales."""

    def __init__(self, ckpt, name, shape):
        w = ckpt.get(name + ".weight", shape)
        self.fp8 = w.dtype == torch.uint8
        if self.fp8:
            nb = [math.ceil(s / BLOCK) for s in shape]
            self.q = e4m3_decode(w)                                    # float64 grid values
            self.s = ckpt.get(name + ".weight_scale_inv", nb).to(F32)  # [ceil(N/128), ceil(K/128)]
            s_full = self.s.repeat_interleave(BLOCK, 0)[:shape[0]].repeat_interleave(BLOCK, 1)
            self.bf16 = (self.q.to(F32) * s_full[:, :shape[1]]).to(BF16)  # weight_dequant
        else:
            self.bf16 = w.to(BF16)
        if torch.isnan(self.bf16.float()).any():
            raise InputError(f"{ckpt.dir}: tensor {name}.weight: contains NaN")


# -------------------------------------------------------------------------------- kernels

def act_quant(x, scale_fmt):
    """x BF16 [T, K] -> (q float64 E4M3 values [T, K], s FP32 [T, ceil(K/128)])."""
    T, K = x.shape
    kb = math.ceil(K / BLOCK)
    xp = torch.zeros(T, kb * BLOCK, dtype=F32)
    xp[:, :K] = x.to(F32)
    tiles = xp.view(T, kb, BLOCK)
    amax = tiles.abs().amax(-1).clamp(min=torch.tensor(1e-4, dtype=F32).item())
    s = amax / torch.tensor(448.0, dtype=F32)
    if scale_fmt == "ue8m0":  # exact 2^ceil(log2 s)
        m, e = torch.frexp(s.to(F64))
        s = torch.where(m == 0.5, s.to(F64), torch.ldexp(torch.ones_like(m), e)).to(F32)
    q = e4m3_decode(e4m3_encode(tiles / s.unsqueeze(-1))).view(T, kb * BLOCK)[:, :K]
    return q, s


def fp8_gemm(q, qs, w):
    """FP8 block GEMM: per 128-deep K block an FP32 partial dot (exact in float64, then FP32),
    acc = acc + partial * (a_s * b_s) in FP32, blocks in ascending order; output BF16."""
    T, K = q.shape
    N = w.q.shape[0]
    acc = torch.zeros(T, N, dtype=F32)
    bs_rows = w.s.repeat_interleave(BLOCK, 0)[:N]  # [N, kb]: scale of output row n
    for b in range(math.ceil(K / BLOCK)):
        ks = slice(b * BLOCK, min(K, (b + 1) * BLOCK))
        partial = (q[:, ks] @ w.q[:, ks].T).to(F32)  # e4m3 products sum exactly in float64
        scale = qs[:, b:b + 1] * bs_rows[:, b].unsqueeze(0)
        acc = acc + partial * scale
    return acc.to(BF16)


def rms_norm(x, w, eps):
    """F.rms_norm as in torch 2.4: FP32 statistics, cast to BF16, times the BF16 weight."""
    ms = (x.to(F64) ** 2).mean(-1, keepdim=True).to(F32)
    r = (1.0 / torch.sqrt((ms + torch.tensor(eps, dtype=F32)).to(F64))).to(F32)
    y = (x.to(F32) * r).to(BF16)
    return bf16(y.to(F64) * w.to(F64))


def softmax_f32(x):
    """softmax(dim=-1, dtype=float32) of x; -inf entries give exactly 0. Returns FP32."""
    x = x.to(F64)
    e = torch.exp(x - x.amax(-1, keepdim=True))
    return (e / e.sum(-1, keepdim=True)).to(F32)


def silu(x):
    x = x.to(F64)
    return bf16(x / (1.0 + torch.exp(-x)))


def topk_lowest_index(v, k):
    """Indices of the k largest values per row, descending; ties go to the lower index."""
    a = v.to(F64).numpy()
    idx = np.broadcast_to(np.arange(a.shape[-1]), a.shape)
    order = np.lexsort((idx, -a), axis=-1)[..., :k]
    return torch.from_numpy(np.ascontiguousarray(order)).long()


def f32(value):
    """A Python float as the FP32 value the demo's kernels multiply by."""
    return float(np.float32(value))


# -------------------------------------------------------------------------------- model

class Config:
    def __init__(self, path, max_seq_len):
        try:
            with open(path) as f:
                c = json.load(f)
        except (OSError, ValueError) as e:
            raise InputError(f"{path}: cannot read config ({e})")

        def need(key):
            if key not in c:
                raise InputError(f"{path}: missing field {key}")
            return c[key]
        self.vocab = need("vocab_size")
        self.dim = need("hidden_size")
        self.inter = need("intermediate_size")
        self.moe_inter = need("moe_intermediate_size")
        self.n_layers = need("num_hidden_layers")
        self.n_dense = c.get("first_k_dense_replace", 0)
        self.moe_freq = c.get("moe_layer_freq", 1)
        self.n_heads = need("num_attention_heads")
        self.q_lora = c.get("q_lora_rank") or 0  # null/0: single q_proj
        self.kv_lora = need("kv_lora_rank")
        self.nope = need("qk_nope_head_dim")
        self.rope = need("qk_rope_head_dim")
        self.v_dim = need("v_head_dim")
        self.n_experts = c.get("n_routed_experts") or 0
        self.n_shared = c.get("n_shared_experts") or 0
        self.topk = c.get("num_experts_per_tok") or 0
        self.n_group = c.get("n_group") or 1
        self.topk_group = c.get("topk_group") or 1
        self.score_func = c.get("scoring_func", "softmax")
        self.route_scale = float(c.get("routed_scaling_factor", 1.0))
        self.eps = float(c.get("rms_norm_eps", 1e-6))
        self.theta = float(c.get("rope_theta", 10000.0))
        self.n_mtp = c.get("num_nextn_predict_layers", 0) or 0
        rs = c.get("rope_scaling") or {}
        self.yarn = rs.get("type", rs.get("rope_type")) == "yarn"
        self.factor = float(rs.get("factor", 1.0))
        self.orig_len = int(rs.get("original_max_position_embeddings", 4096))
        self.beta_fast = float(rs.get("beta_fast", 32))
        self.beta_slow = float(rs.get("beta_slow", 1))
        self.mscale = float(rs.get("mscale", 1.0))  # the demo's args.mscale
        qc = c.get("quantization_config") or {}
        self.scale_fmt = qc.get("scale_fmt", c.get("scale_fmt"))
        self.max_seq_len = max_seq_len
        # YaRN frequencies and mscale^2 only when max_seq_len > original_seq_len (spec 1.6).
        self.use_yarn = self.yarn and max_seq_len > self.orig_len
        if self.score_func not in ("sigmoid", "softmax"):
            raise InputError(f"{path}: scoring_func: unknown value {self.score_func}")

    def is_moe(self, layer):
        return (self.n_experts > 0 and layer >= self.n_dense
                and (layer - self.n_dense) % self.moe_freq == 0)


def rope_tables(cfg):
    """cos/sin [max_seq_len, rope/2] FP32 as precompute_freqs_cis (each op rounded to FP32)."""
    d = cfg.rope
    i = torch.arange(0, d, 2, dtype=F32)
    freqs = (1.0 / torch.pow(torch.tensor(cfg.theta, dtype=F64),
                             (i / d).to(F64))).to(F32)
    if cfg.use_yarn:
        def corr(n):
            return d * math.log(cfg.orig_len / (n * 2 * math.pi)) / (2 * math.log(cfg.theta))
        low = max(math.floor(corr(cfg.beta_fast)), 0)
        high = min(math.ceil(corr(cfg.beta_slow)), d - 1)
        if low == high:
            high += 0.001
        ramp = ((torch.arange(d // 2, dtype=F32) - low) / (high - low)).clamp(0, 1)
        smooth = 1 - ramp
        freqs = freqs / cfg.factor * (1 - smooth) + freqs * smooth
    t = torch.arange(cfg.max_seq_len, dtype=F32)
    ang = torch.outer(t, freqs)  # one FP32 product per entry
    return torch.cos(ang.to(F64)).to(F32), torch.sin(ang.to(F64)).to(F32)


def apply_rope(x, cos, sin):
    """Interleaved pairs (x[2i], x[2i+1]) times cos+i*sin; x BF16 [T, ..., rope]."""
    shape = x.shape
    a = x.to(F64).reshape(*shape[:-1], -1, 2)
    while cos.dim() < a.dim() - 1:
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    c, s = cos.to(F64), sin.to(F64)
    re = a[..., 0] * c - a[..., 1] * s
    im = a[..., 0] * s + a[..., 1] * c
    return bf16(torch.stack([re, im], -1).reshape(shape))


class Model:
    def __init__(self, ckpt_dir, mode="demo", attention="absorbed", max_seq_len=16384,
                 mtp_variant="report"):
        if mode not in ("demo", "fp8") or attention not in ("absorbed", "naive"):
            raise InputError(f"bad mode {mode} / attention {attention}")
        self.cfg = cfg = Config(os.path.join(ckpt_dir, "config.json"), max_seq_len)
        self.mode, self.attention = mode, attention
        ck = self.ck = Checkpoint(ckpt_dir)
        D = cfg.dim
        self.embed = ck.get("model.embed_tokens.weight", [cfg.vocab, D]).to(BF16)
        self.norm = ck.get("model.norm.weight", [D]).to(BF16)
        self.head = ck.get("lm_head.weight", [cfg.vocab, D]).to(BF16)
        self.layers = [self._layer(i) for i in range(cfg.n_layers)]
        self.cos, self.sin = rope_tables(cfg)
        scale = (cfg.nope + cfg.rope) ** -0.5
        if cfg.use_yarn:
            m = 0.1 * cfg.mscale * math.log(cfg.factor) + 1.0
            scale *= m * m
        self.softmax_scale = f32(scale)
        self.mtp = None
        # MTP input semantics (docs/torch-crosscheck.md, "MTP"). "report": the tech report's
        # eq. 21-23: the module reads h^0, the main model's last block output that the shared
        # OutHead (final norm + head) maps to logits, and Emb(t[i+1]) at every position.
        # "vllm": vLLM's serving code: the final norm's output, embedding zeroed at position 0.
        if mtp_variant not in ("report", "vllm"):
            raise InputError(f"bad mtp_variant {mtp_variant}")
        self.mtp_variant = mtp_variant
        # Routing replay of the MTP block alone (list of [T, k] indices, see route_replay).
        self.mtp_route_replay = None
        # Routing record/replay (tests): each MoE call appends its expert indices [T, k] to
        # route_log if it is a list, and takes them from route_replay (in call order) if set.
        self.route_log = None
        self.route_replay = None
        # Intermediate dump (crosscheck diagnosis): when a dict, the main model's prefill stores
        # its tensors here under the golden's stable names (docs/golden-and-check.md).
        self.dump = None
        self._where = None  # "layers.<i>." while the main model's prefill runs, else None

    def _d(self, name, t):
        if self.dump is not None and self._where is not None:
            self.dump[self._where + name] = t.detach().clone()

    def load_mtp(self):
        cfg, ck, D = self.cfg, self.ck, self.cfg.dim
        if cfg.n_mtp < 1:
            raise InputError(f"{ck.dir}: config has no MTP layer (num_nextn_predict_layers)")
        L = cfg.n_layers
        p = f"model.layers.{L}."
        emb = p + "embed_tokens.weight"
        head = p + "shared_head.head.weight"
        self.mtp = {
            "layer": self._layer(L),
            "embed": ck.get(emb, [cfg.vocab, D]).to(BF16) if ck.has(emb) else self.embed,
            "enorm": ck.get(p + "enorm.weight", [D]).to(BF16),
            "hnorm": ck.get(p + "hnorm.weight", [D]).to(BF16),
            "eh_proj": Weight(ck, p + "eh_proj", [D, 2 * D]),
            "norm": ck.get(p + "shared_head.norm.weight", [D]).to(BF16),
            "head": ck.get(head, [cfg.vocab, D]).to(BF16) if ck.has(head) else self.head,
        }

    def _mlp(self, prefix, inter):
        D = self.cfg.dim
        return {k: Weight(self.ck, f"{prefix}.{k}", s) for k, s in
                (("gate_proj", [inter, D]), ("up_proj", [inter, D]), ("down_proj", [D, inter]))}

    def _layer(self, i):
        cfg, ck, D, H = self.cfg, self.ck, self.cfg.dim, self.cfg.n_heads
        p = f"model.layers.{i}."
        qk = cfg.nope + cfg.rope
        a = {"kv_a": Weight(ck, p + "self_attn.kv_a_proj_with_mqa", [cfg.kv_lora + cfg.rope, D]),
             "kv_norm": ck.get(p + "self_attn.kv_a_layernorm.weight", [cfg.kv_lora]).to(BF16),
             "kv_b": Weight(ck, p + "self_attn.kv_b_proj",
                            [H * (cfg.nope + cfg.v_dim), cfg.kv_lora]),
             "o": Weight(ck, p + "self_attn.o_proj", [D, H * cfg.v_dim])}
        if cfg.q_lora:
            a["q_a"] = Weight(ck, p + "self_attn.q_a_proj", [cfg.q_lora, D])
            a["q_norm"] = ck.get(p + "self_attn.q_a_layernorm.weight", [cfg.q_lora]).to(BF16)
            a["q_b"] = Weight(ck, p + "self_attn.q_b_proj", [H * qk, cfg.q_lora])
        else:
            a["q"] = Weight(ck, p + "self_attn.q_proj", [H * qk, D])
        layer = {"attn": a,
                 "attn_norm": ck.get(p + "input_layernorm.weight", [D]).to(BF16),
                 "ffn_norm": ck.get(p + "post_attention_layernorm.weight", [D]).to(BF16)}
        if cfg.is_moe(i):
            E = cfg.n_experts
            bias_name = p + "mlp.gate.e_score_correction_bias"
            layer["moe"] = {
                "gate": ck.get(p + "mlp.gate.weight", [E, D]).to(BF16),
                "bias": ck.get(bias_name, [E]).to(F32) if ck.has(bias_name) else None,
                "experts": [self._mlp(f"{p}mlp.experts.{e}", cfg.moe_inter) for e in range(E)],
                "shared": (self._mlp(p + "mlp.shared_experts", cfg.n_shared * cfg.moe_inter)
                           if cfg.n_shared else None)}
        else:
            layer["mlp"] = self._mlp(p + "mlp", cfg.inter)
        return layer

    # -- ops
    def linear(self, x, w):
        if w.fp8 and self.mode == "fp8":
            q, s = act_quant(x, self.cfg.scale_fmt)
            return fp8_gemm(q, s, w)
        return mm(x, w.bf16.T)  # demo: weight_dequant to BF16, BF16 GEMM with FP32 accumulation

    def mlp(self, x, m, name=None):
        w1 = self.linear(x, m["gate_proj"])
        w3 = self.linear(x, m["up_proj"])
        h = bf16(silu(w1).to(F64) * w3.to(F64))
        out = self.linear(h, m["down_proj"])
        if name:
            for k, t in (("w1", w1), ("w3", w3), ("swiglu", h), ("w2", out)):
                self._d(f"{name}.{k}", t)
        return out

    def moe(self, x, m):
        cfg = self.cfg
        logits = mm(x, m["gate"].T)                                # BF16 [T, E]
        if cfg.score_func == "sigmoid":
            scores = bf16(torch.sigmoid(logits.to(F64)))           # BF16
        else:
            scores = softmax_f32(logits)                           # FP32
        sel = scores.to(F32) + m["bias"] if m["bias"] is not None else scores
        T, E = sel.shape
        if cfg.n_group > 1:
            g = sel.view(T, cfg.n_group, -1)
            if m["bias"] is None:
                gs = g.amax(-1)
            else:  # sum of each group's top-2 (FP32)
                top2 = torch.gather(g, -1, topk_lowest_index(g, 2))
                gs = (top2[..., 0].to(F64) + top2[..., 1].to(F64)).to(F32)
            self._d("moe.gate.group_scores", gs)
            keep = topk_lowest_index(gs, cfg.topk_group)
            mask = torch.ones(T, cfg.n_group, dtype=torch.bool).scatter_(1, keep, False)
            sel = sel.view(T, cfg.n_group, -1).masked_fill(mask.unsqueeze(-1), float("-inf"))
            sel = sel.view(T, E)
        idx = topk_lowest_index(sel, cfg.topk)                     # [T, k]
        self._d("moe.gate.sel", sel)
        if self.route_replay is not None:
            idx = self.route_replay.pop(0)
        if self.route_log is not None:
            self.route_log.append(idx)
        w = torch.gather(scores, 1, idx)                           # unbiased scores
        if cfg.score_func == "sigmoid":  # BF16 arithmetic: sum, divide, scale
            w = bf16(w.to(F64) / bf16(w.to(F64).sum(-1, keepdim=True)).to(F64))
            w = bf16(w.to(F64) * f32(cfg.route_scale))
        else:
            w = (w * torch.tensor(cfg.route_scale, dtype=F32)).to(BF16)
        self._d("moe.gate.indices", idx)
        self._d("moe.gate.weights", w)
        y = torch.zeros_like(x)
        for e in sorted(set(idx.flatten().tolist())):              # ascending expert index
            rows, slot = torch.nonzero(idx == e, as_tuple=True)
            out = self.mlp(x[rows], m["experts"][e])
            contrib = bf16(out.to(F64) * w[rows, slot].unsqueeze(-1).to(F64))
            y[rows] = bf16(y[rows].to(F64) + contrib.to(F64))
        self._d("moe.weighted_sum", y)
        if m["shared"] is not None:
            y = bf16(y.to(F64) + self.mlp(x, m["shared"], "moe.shared_experts").to(F64))
        return y

    def attn(self, x, a, pos, cache):
        """x BF16 [S, D] at absolute positions pos [S]; cache holds this layer's past."""
        cfg, H = self.cfg, self.cfg.n_heads
        S = x.shape[0]
        if cfg.q_lora:
            q = self.linear(rms_norm(self.linear(x, a["q_a"]), a["q_norm"], cfg.eps), a["q_b"])
        else:
            q = self.linear(x, a["q"])
        self._d("attn.wq_b" if cfg.q_lora else "attn.wq", q)
        q = q.view(S, H, cfg.nope + cfg.rope)
        q_nope, q_pe = q[..., :cfg.nope], q[..., cfg.nope:]
        cos, sin = self.cos[pos], self.sin[pos]
        q_pe = apply_rope(q_pe, cos, sin)
        kv = self.linear(x, a["kv_a"])
        kv_c, k_pe = kv[:, :cfg.kv_lora], apply_rope(kv[:, cfg.kv_lora:], cos, sin)
        kv_c = rms_norm(kv_c, a["kv_norm"], cfg.eps)
        self._d("attn.wkv_a", kv)
        self._d("attn.rope_q", q_pe)
        self._d("attn.rope_k", k_pe)
        self._d("attn.kv_norm", kv_c)
        wkv_b = a["kv_b"].bf16.view(H, cfg.nope + cfg.v_dim, cfg.kv_lora)
        if self.attention == "absorbed":
            cache["kv"] = torch.cat([cache.get("kv", kv_c[:0]), kv_c])        # [T, kv_lora]
            cache["pe"] = torch.cat([cache.get("pe", k_pe[:0]), k_pe])        # [T, rope]
            q_abs = bf16(torch.einsum("shd,hdc->shc", q_nope.to(F64),
                                      wkv_b[:, :cfg.nope].to(F64)))
            self._d("attn.wkv_b.k", q_abs)
            s1 = bf16(torch.einsum("shc,tc->sht", q_abs.to(F64), cache["kv"].to(F64)))
            s2 = bf16(torch.einsum("shr,tr->sht", q_pe.to(F64), cache["pe"].to(F64)))
            scores = bf16(s1.to(F64) + s2.to(F64))
        else:
            kvb = self.linear(kv_c, a["kv_b"]).view(S, H, cfg.nope + cfg.v_dim)
            k = torch.cat([kvb[..., :cfg.nope], k_pe.unsqueeze(1).expand(S, H, cfg.rope)], -1)
            cache["k"] = torch.cat([cache.get("k", k[:0]), k])                # [T, H, qk]
            cache["v"] = torch.cat([cache.get("v", k[:0, :, :cfg.v_dim]),
                                    kvb[..., cfg.nope:]])                     # [T, H, v]
            qf = torch.cat([q_nope, q_pe], -1)
            scores = bf16(torch.einsum("shd,thd->sht", qf.to(F64), cache["k"].to(F64)))
        scores = bf16(scores.to(F64) * self.softmax_scale)
        T = scores.shape[-1]
        if S > 1:  # causal mask (the demo masks only when seqlen > 1)
            future = torch.arange(T).unsqueeze(0) > pos.unsqueeze(1)         # [S, T]
            scores = scores.masked_fill(future.unsqueeze(1), float("-inf"))
        probs = softmax_f32(scores).to(BF16)
        if self.attention == "absorbed":
            o = bf16(torch.einsum("sht,tc->shc", probs.to(F64), cache["kv"].to(F64)))
            self._d("attn.core", o)  # the golden's attn.core: the latent P.V [S, H, kv_lora]
            o = bf16(torch.einsum("shc,hdc->shd", o.to(F64), wkv_b[:, cfg.nope:].to(F64)))
            self._d("attn.wkv_b.v", o)
        else:
            o = bf16(torch.einsum("sht,thd->shd", probs.to(F64), cache["v"].to(F64)))
        if self.attention == "naive":
            self._d("attn.core", o)
        out = self.linear(o.reshape(S, H * cfg.v_dim), a["o"])
        self._d("attn.wo", out)
        return out

    def block(self, x, layer, pos, cache):
        n = rms_norm(x, layer["attn_norm"], self.cfg.eps)
        self._d("attn_norm", n)
        h = self.attn(n, layer["attn"], pos, cache)
        x = bf16(x.to(F64) + h.to(F64))
        self._d("attn_residual", x)
        n = rms_norm(x, layer["ffn_norm"], self.cfg.eps)
        self._d("ffn_norm", n)
        h = self.moe(n, layer["moe"]) if "moe" in layer else self.mlp(n, layer["mlp"], "mlp")
        x = bf16(x.to(F64) + h.to(F64))
        self._d("ffn_residual", x)
        return x

    def forward(self, tokens, start, caches):
        """tokens [S] at positions start..start+S-1 -> (logits FP32 [S, V], hidden BF16
        [S, D]): the last block's output, before the final norm (what the MTP module reads)."""
        tokens = torch.as_tensor(tokens, dtype=torch.long)
        if (tokens < 0).any() or (tokens >= self.cfg.vocab).any():
            raise InputError(f"token id outside [0, {self.cfg.vocab})")
        pos = torch.arange(start, start + len(tokens))
        if pos[-1] >= self.cfg.max_seq_len:
            raise InputError(f"position {int(pos[-1])} >= max_seq_len {self.cfg.max_seq_len}")
        x = self.embed[tokens]
        prefill = start == 0 and self.dump is not None
        if prefill:
            self.dump["embed"] = x.clone()
        for i, (layer, cache) in enumerate(zip(self.layers, caches)):
            self._where = f"layers.{i}." if prefill else None
            x = self.block(x, layer, pos, cache)
        self._where = None
        h = rms_norm(x, self.norm, self.cfg.eps)
        logits = mm(h, self.head.T)
        if prefill:
            self.dump["norm"], self.dump["head"] = h.clone(), logits.clone()
        return logits.to(F32), x

    def mtp_forward(self, tokens, h_main):
        """The MTP module (spec section 3, D = 1) over positions 0..len(tokens)-2. Row i
        reads the shared embedding of t[i+1] and the main model's hidden state h[i] (the last
        block's output; see mtp_variant) and predicts t[i+2]:
            x_i = eh_proj([enorm(emb(t[i+1])) ; hnorm(h_i)])   (serving order: embedding first)
            y_i = TRM(x_i)                                     (one block, its own KV cache)
            logits_i = shared_head.head(shared_head.norm(y_i))
        Returns FP32 logits [len(tokens)-1, V]."""
        m = self.mtp
        nxt = torch.as_tensor(tokens[1:], dtype=torch.long)
        e = m["embed"][nxt].clone()
        h = h_main[:len(nxt)]
        if self.mtp_variant == "vllm":
            e[0] = 0  # inputs_embeds[positions == 0] = 0
            h = rms_norm(h, self.norm, self.cfg.eps)
        hn = rms_norm(h, m["hnorm"], self.cfg.eps)
        x = self.linear(torch.cat([rms_norm(e, m["enorm"], self.cfg.eps), hn], -1), m["eh_proj"])
        saved = self.route_replay
        if self.mtp_route_replay is not None:
            self.route_replay = list(self.mtp_route_replay)
        where, self._where = self._where, ("mtp.0." if self.dump is not None else None)
        x = self.block(x, m["layer"], torch.arange(len(nxt)), {})
        self._where, self.route_replay = where, saved
        return mm(rms_norm(x, m["norm"], self.cfg.eps), m["head"].T).to(F32)

    def generate(self, prompt, max_new_tokens=0, mtp=False, follow=None):
        """Prefill + greedy decode. Returns dict of logits [P+N-1, V], tokens, generated.
        With `follow`, decode step k feeds follow[k] instead of this model's own argmax (so a
        near-tie argmax flip in another implementation does not change the later inputs);
        `generated` still records this model's own argmax choices."""
        caches = [{} for _ in self.layers]
        logits, h = self.forward(prompt, 0, caches)
        all_logits, hidden, tokens, gen = [logits], [h], list(prompt), []
        for step in range(max_new_tokens):
            nxt = int(torch.argmax(all_logits[-1][-1]))  # first maximal index
            gen.append(nxt)
            if follow is not None:
                nxt = int(follow[step])
            tokens.append(nxt)
            if step + 1 < max_new_tokens:
                lg, h = self.forward([nxt], len(tokens) - 1, caches)
                all_logits.append(lg)
                hidden.append(h)
        out = {"logits": torch.cat(all_logits).numpy(),
               "tokens": np.array(tokens, dtype=np.int64),
               "generated": np.array(gen, dtype=np.int64)}
        if mtp:
            # One MTP row per position that went through the main model (as dssim's MTP
            # rows): its next token is the fed one, or for the last position the greedy choice.
            if self.mtp is None:
                self.load_mtp()
            h_all = torch.cat(hidden)
            seq = list(tokens)
            if len(seq) < h_all.shape[0] + 1:
                seq.append(int(torch.argmax(all_logits[-1][-1])))
            out["mtp_logits"] = self.mtp_forward(seq[:h_all.shape[0] + 1], h_all).numpy()
        return out


def golden_routing(path, model):
    """The expert indices dssim chose, in this model's MoE call order (step by step, layers
    ascending), read from a golden file written with --tensors all."""
    import h5py
    routes = []
    try:
        with h5py.File(path, "r") as f:
            steps = sorted((k for k in f["tensors"]), key=lambda k: int(k[4:]))
            for st in steps:
                for i in range(model.cfg.n_layers):
                    if model.cfg.is_moe(i):
                        name = f"tensors/{st}/layers.{i}.moe.gate.indices"
                        if name not in f:
                            raise InputError(f"{path}: no /{name} (write it with --tensors all)")
                        routes.append(torch.as_tensor(np.asarray(f[name]), dtype=torch.long))
    except OSError as e:
        raise InputError(f"{path}: {e}")
    return routes


def golden_mtp_routing(path, sequence=0):
    """dssim's MTP-block expert indices of one sequence, one row per position (ascending), read
    from a golden file written with --mtp --tensors all: the rows of step k's
    mtp.0.moe.gate.indices follow /mtp_logits_index."""
    import h5py
    try:
        with h5py.File(path, "r") as f:
            if "mtp_logits_index" not in f:
                raise InputError(f"{path}: no /mtp_logits_index (write it with --mtp)")
            index = np.asarray(f["mtp_logits_index"])
            by_pos, cursor = {}, {}
            for step, seq, pos in index.tolist():
                name = f"tensors/step{step}/mtp.0.moe.gate.indices"
                if name not in f:
                    raise InputError(f"{path}: no /{name} (write it with --tensors all)")
                row = cursor.get(step, 0)
                cursor[step] = row + 1
                if seq == sequence:
                    by_pos[pos] = np.asarray(f[name][row])
    except OSError as e:
        raise InputError(f"{path}: {e}")
    return [torch.as_tensor(np.stack([by_pos[p] for p in sorted(by_pos)]), dtype=torch.long)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", required=True, help="checkpoint directory (HF layout)")
    ap.add_argument("--tokens", required=True, help="comma-separated prompt token ids")
    ap.add_argument("--max-new-tokens", type=int, default=0, help="greedy decode steps")
    ap.add_argument("--mode", choices=["demo", "fp8"], default="demo",
                    help="demo: FP8 weights dequantised to BF16; fp8: act_quant + FP8 GEMM")
    ap.add_argument("--attention", choices=["absorbed", "naive"], default="absorbed")
    ap.add_argument("--max-seq-len", type=int, default=16384,
                    help="the demo's max_seq_len (YaRN/mscale only if > original length)")
    ap.add_argument("--mtp", action="store_true", help="also write MTP logits (mtp_logits), "
                    "one row per position that went through the main model")
    ap.add_argument("--mtp-variant", choices=["report", "vllm"], default="report",
                    help="MTP inputs: report (tech report eq. 21: last block output, every "
                    "embedding) or vllm (final-norm output, embedding zeroed at position 0)")
    ap.add_argument("--mtp-route-from", help="golden HDF5 written with --mtp --tensors all "
                    "whose mtp.0.moe.gate.indices pin the MTP block's routing")
    ap.add_argument("--scale-fmt", choices=["ue8m0", "f32"],
                    help="activation scale format in fp8 mode (default: the config's)")
    ap.add_argument("--follow", help="comma-separated tokens to feed at the decode steps "
                    "instead of the own argmax (e.g. another implementation's output)")
    ap.add_argument("--route-from", help="golden HDF5 whose /tensors/step<k>/layers.<L>."
                    "moe.gate.indices pin the MoE routing (diagnosis of gate near-ties)")
    ap.add_argument("--dump", help="also write the prefill intermediates (golden names) .npz")
    ap.add_argument("--out", required=True, help="output .npz")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    try:
        try:
            prompt = [int(t) for t in args.tokens.split(",")]
        except ValueError:
            raise InputError(f"--tokens: not a comma-separated list of integers: {args.tokens}")
        model = Model(args.checkpoint, args.mode, args.attention, args.max_seq_len,
                      args.mtp_variant)
        if args.scale_fmt:
            model.cfg.scale_fmt = None if args.scale_fmt == "f32" else args.scale_fmt
        follow = None
        if args.follow:
            try:
                follow = [int(t) for t in args.follow.split(",")]
            except ValueError:
                raise InputError(f"--follow: not a comma-separated list of integers")
            if len(follow) < args.max_new_tokens:
                raise InputError(f"--follow: {len(follow)} tokens < --max-new-tokens")
        if args.route_from:
            model.route_replay = golden_routing(args.route_from, model)
        if args.mtp_route_from:
            model.mtp_route_replay = golden_mtp_routing(args.mtp_route_from)
        if args.dump:
            model.dump = {}
        out = model.generate(prompt, args.max_new_tokens, args.mtp, follow)
        if args.dump:
            tmp = args.dump + ".tmp.npz"
            np.savez(tmp, **{k: v.to(F64).numpy() if v.is_floating_point() else v.numpy()
                             for k, v in model.dump.items()})
            os.replace(tmp, args.dump)
        tmp = args.out + ".tmp.npz"
        np.savez(tmp, **out)
        os.replace(tmp, args.out)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print("generated:", ",".join(str(t) for t in out["generated"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
