#!/usr/bin/env python3
"""Fits the EP all-to-all kernel figures of a calibration file (`ep_normal`, `ep_low_latency`,
`assumptions.scale_up_latency`) from data inside the repository: the measured tables in
configs/validation/measured/aiconfigurator (aiconfigurator, SGLang 0.5.12) and DeepSeek's H800
DeepEP README figures in configs/validation/deepep.json.

  --device h100 (default): configs/calibration/nvidia-hopper.json from the H100 tables and the
      H800 README (link efficiencies across nodes, which only DeepSeek's table measures);
  --device b200: configs/calibration/nvidia-blackwell.json from the B200 tables; the figures no
      B200 table measures (scale-out efficiencies, the normal kernels' NVLink efficiency, which
      the SM-bound B200 rows cannot show) are Hopper's, as the file says.

The cost formula it inverts is the one in devices/src/cost_model_comm.cpp (ep_all_to_all_time,
docs/devices.md "EP all-to-all"); keep the two in step. H200 tables are never read here: they
are held out for validation. --check: exit 1 if a value in the calibration file differs from
the fit by more than 0.5%.
"""
import csv
import json
import math
import os
import statistics
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "configs/validation/measured/aiconfigurator")
H800_NVLINK = 200e9  # configs/devices/h800.json
H800_NIC = 400e9 / 8  # configs/systems/h800-cluster-2048.json


def comb(n, r):
    return math.comb(n, r) if 0 <= r <= n else 0


def fanout(experts, k, ep, ranks_per_node, groups=1, kept_groups=1):
    """Expected distinct ranks and nodes per token: models::expected_fanout for experts laid out
    contiguously, groups of equal size, `kept_groups` groups kept uniformly at random and the k
    experts drawn uniformly from the kept ones."""
    per_group = experts // groups
    pool = kept_groups * per_group
    per_rank = max(1, experts // ep)

    def p_none(hits):
        touched = [h for h in hits if h > 0]
        total = 0.0
        for mask in range(1 << len(touched)):
            chosen = bin(mask).count("1")
            blocked = sum(h for i, h in enumerate(touched) if mask >> i & 1)
            pg = comb(groups - len(touched), kept_groups - chosen) / comb(groups, kept_groups)
            pa = comb(pool - blocked, k) / comb(pool, k)
            total += pg * pa
        return total

    def expected(size):
        s = 0.0
        for first in range(0, experts, size):
            hits = [0] * groups
            for e in range(first, min(experts, first + size)):
                hits[e // per_group] += 1
            s += 1.0 - p_none(hits)
        return s

    return expected(per_rank), expected(per_rank * ranks_per_node)


def dispatch_copy_bytes(hidden):  # FP8 values + one FP32 scale per 128 (models/parallel)
    return hidden + hidden // 128 * 4


def combine_copy_bytes(hidden):  # BF16 values
    return 2 * hidden


LL_HEADER = 16  # bytes per low-latency dispatch message besides values and scales (SOURCE.md)


def rows(name):
    with open(os.path.join(DATA, name)) as f:
        return list(csv.DictReader(f))


def scale_up_latency_us():
    """NCCL all-reduce of 1 KB on 2, 4, 8 H100: a ring all-reduce takes 2(p-1) steps, so the
    slope of time over steps is the latency of one scale-up step."""
    t = {}
    for r in rows("h100_sxm_comm_nccl_2.29.2_nccl_perf.csv"):
        if r["op_name"] == "all_reduce" and r["nccl_dtype"] == "half" and r["message_size"] == "1024":
            t[int(r["num_gpus"])] = float(r["latency"]) * 1e3
    steps = {p: 2 * (p - 1) for p in t}
    return (t[8] - t[2]) / (steps[8] - steps[2])


def nvlink_bytes_per_s(device):
    with open(os.path.join(ROOT, "configs/devices/%s.json" % device)) as f:
        return json.load(f)["scale_up"]["bandwidth_per_direction"]["value"] * 1e9


# The tables also measure toy MoEs (8 or 16 experts, 1-2 per rank), whose low-latency calls are
# bound by one rank's receive loop, a mechanism the cost model leaves out; dssim simulates the
# DeepSeek family (64-256 routed experts), and the validation cases judge the same rows.
MIN_EXPERTS = 64


def fit(lat_up, device):
    out = {}
    link = nvlink_bytes_per_s(device)
    keep = lambda table: [r for r in table if int(r["num_experts"]) >= MIN_EXPERTS]
    normal = keep(rows("%s_sxm_comm_sglang_0.5.12_wideep_deepep_normal_perf.csv" % device))
    ll = keep(rows("%s_sxm_comm_sglang_0.5.12_wideep_deepep_ll_perf.csv" % device))
    for kind, copy_bytes in (("dispatch", dispatch_copy_bytes), ("combine", combine_copy_bytes)):
        small = [float(r[kind + "_transmit_us"]) - lat_up for r in normal if int(r["num_token"]) <= 2]
        overhead = statistics.median(small)
        per_unit = []
        for r in normal:
            tokens, sms = int(r["num_token"]), int(r[kind + "_sms"])
            if tokens < 16384 or sms > 12:
                continue  # large calls on few units: bound by the units, not the link
            ranks, _ = fanout(int(r["num_experts"]), int(r["num_topk"]), 8, 8)
            nvl = tokens * ranks * 7 / 8 * copy_bytes(int(r["hidden_size"]))
            t = (float(r[kind + "_transmit_us"]) - overhead - lat_up) * 1e-6
            per_unit.append(nvl / t / sms / 1e9)
        out["normal." + kind + "_overhead"] = overhead
        out["normal." + kind + "_unit_bandwidth"] = statistics.median(per_unit)

        col = "dispatch_avg_t_us" if kind == "dispatch" else "combine_avg_t_us"
        extra = LL_HEADER if kind == "dispatch" else 0
        small = [float(r[col]) - lat_up for r in ll if int(r["num_token"]) <= 2]
        overhead = statistics.median(small)
        effs = []
        for r in ll:
            tokens, experts, k = int(r["num_token"]), int(r["num_experts"]), int(r["num_topk"])
            if tokens < 256:
                continue  # the fixed cost dominates below
            msg = copy_bytes(int(r["hidden_size"])) + extra
            t = (float(r[col]) - overhead - lat_up) * 1e-6
            nvl = tokens * k * 7 / 8 * msg
            effs.append(nvl / t / link)
        out["low_latency." + kind + "_overhead"] = overhead
        out["low_latency." + kind + "_scale_up_efficiency"] = statistics.median(effs)
    out["low_latency.scale_up_efficiency"] = statistics.mean(
        [out["low_latency.dispatch_scale_up_efficiency"], out["low_latency.combine_scale_up_efficiency"]])
    return out


def deepseek_cases():
    with open(os.path.join(ROOT, "configs/validation/deepep.json")) as f:
        return json.load(f)["cases"]


def fit_deepseek(out, lat_up, lat_out):
    """Link efficiencies from DeepSeek's H800 README (bandwidths under DeepEP's own byte counts:
    received tokens per rank intranode, token x destination node incl. the own node internode,
    all token copies for the low-latency kernels)."""
    up, out_n, out_ll = [], [], []
    for c in deepseek_cases():
        s = c["setup"]
        if s["op"] != "collective":
            continue
        kind, ep, tokens, hidden, k = s["kind"], s["participants"], s["tokens"], s["hidden"], s["topk"]
        low = c["name"].startswith("deepep.low_latency")
        copy = dispatch_copy_bytes(hidden) if kind == "dispatch" else combine_copy_bytes(hidden)
        nodes = max(1, ep // 8)
        overhead = out[("low_latency." if low else "normal.") + kind + "_overhead"]
        if low:
            msg = copy + (LL_HEADER if kind == "dispatch" else 0)
            t = c["published"]["value"] * 1e-6  # published as a time
            if nodes > 1:
                nic = tokens * k * (ep - 8) / ep * msg
                out_ll.append(nic / ((t - overhead - lat_out) * H800_NIC))
            continue
        if nodes == 1:
            ranks, _ = fanout(256, k, 8, 8)
            t = tokens * ranks * copy / (c["published"]["value"] * 1e9)
            nvl = tokens * ranks * 7 / 8 * copy
            up.append(nvl / ((t - overhead - lat_up) * H800_NVLINK))
        elif nodes >= 4:  # EP16 is bound by the NVLink forwarding leg, not RDMA
            _, dn = fanout(256, k, ep, 8, groups=nodes, kept_groups=min(4, nodes))
            t = tokens * dn * copy / (c["published"]["value"] * 1e9)
            nic = tokens * dn * (nodes - 1) / nodes * copy
            out_n.append(nic / ((t - overhead - lat_out) * H800_NIC))
    out["normal.scale_up_efficiency"] = statistics.mean(up)
    out["normal.scale_out_efficiency"] = statistics.mean(out_n)
    out["low_latency.scale_out_efficiency"] = statistics.median(out_ll)


def main():
    device = sys.argv[sys.argv.index("--device") + 1] if "--device" in sys.argv else "h100"
    if device not in ("h100", "b200"):
        sys.exit("fit_deepep.py: --device must be h100 or b200")
    name = "nvidia-hopper" if device == "h100" else "nvidia-blackwell"
    with open(os.path.join(ROOT, "configs/calibration/%s.json" % name)) as f:
        cal = json.load(f)
    lat_up = scale_up_latency_us() * 1e-6
    lat_out = cal["assumptions"]["scale_out_latency"]["value"] * 1e-6
    out = fit(lat_up * 1e6, device)
    # fit() works in us for overheads; convert once for the DeepSeek fit
    us = {k: v for k, v in out.items()}
    for k in list(out):
        if k.endswith("_overhead"):
            out[k] = us[k] * 1e-6
    fit_deepseek(out, lat_up, lat_out)
    if device != "h100":
        # Only DeepSeek's H800 table measures these: Hopper's figures, transferred.
        with open(os.path.join(ROOT, "configs/calibration/nvidia-hopper.json")) as f:
            hopper = json.load(f)
        out["normal.scale_up_efficiency"] = hopper["ep_normal"]["scale_up_efficiency"]["value"]
        out["normal.scale_out_efficiency"] = hopper["ep_normal"]["scale_out_efficiency"]["value"]
        out["low_latency.scale_out_efficiency"] = hopper["ep_low_latency"]["scale_out_efficiency"]["value"]
    result = {
        "assumptions.scale_up_latency": lat_up * 1e6,
        "ep_normal.scale_up_efficiency": out["normal.scale_up_efficiency"],
        "ep_normal.scale_out_efficiency": out["normal.scale_out_efficiency"],
        "ep_normal.dispatch_overhead": out["normal.dispatch_overhead"] * 1e6,
        "ep_normal.combine_overhead": out["normal.combine_overhead"] * 1e6,
        "ep_normal.dispatch_unit_bandwidth": out["normal.dispatch_unit_bandwidth"],
        "ep_normal.combine_unit_bandwidth": out["normal.combine_unit_bandwidth"],
        "ep_low_latency.scale_up_efficiency": out["low_latency.scale_up_efficiency"],
        "ep_low_latency.scale_out_efficiency": out["low_latency.scale_out_efficiency"],
        "ep_low_latency.dispatch_overhead": out["low_latency.dispatch_overhead"] * 1e6,
        "ep_low_latency.combine_overhead": out["low_latency.combine_overhead"] * 1e6,
    }
    bad = 0
    for key, v in result.items():
        block, field = key.split(".")
        have = cal.get(block, {}).get(field, {}).get("value")
        flag = ""
        if have is None or abs(have - v) > 0.005 * abs(v):
            flag = "  <- calibration file has %s" % have
            bad += 1
        print("%-40s %10.4f%s" % (key, v, flag))
    if "--check" in sys.argv and bad:
        sys.exit(1)


if __name__ == "__main__":
    main()
