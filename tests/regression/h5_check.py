#!/usr/bin/env python3
"""Checks a sweep's results.h5 as h5py users load it: h5_check.py RESULTS.h5 RESULTS.csv

Every dataset carries `units` and `description` attributes; integer columns are int64,
`fits` and `meets_slo` read as NumPy booleans; TPOT is NaN in prefill rows and TTFT in decode
rows; the values agree with results.csv.
"""
import csv
import math
import sys

import h5py
import numpy as np

h5_path, csv_path = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(csv_path)))
failures = []
with h5py.File(h5_path, "r") as f:
    for key in ("study", "question", "model"):
        if key not in f.attrs:
            failures.append("file attribute %s missing" % key)
    for name, ds in f.items():
        for a in ("units", "description"):
            if a not in ds.attrs:
                failures.append("%s: no %s attribute" % (name, a))
        if len(ds) != len(rows):
            failures.append("%s: %d values for %d rows" % (name, len(ds), len(rows)))
    for name in ("index", "devices", "tp", "ep", "dp", "batch", "micro_batches", "context"):
        if f[name].dtype != np.int64:
            failures.append("%s: dtype %s, expected int64" % (name, f[name].dtype))
    for name in ("fits", "meets_slo"):
        if f[name].dtype != np.bool_:
            failures.append("%s: dtype %s, expected bool" % (name, f[name].dtype))
    if f["tpot_ms"].attrs["units"] not in (b"ms", "ms"):
        failures.append("tpot_ms: units %r" % f["tpot_ms"].attrs["units"])
    phase = [p.decode() for p in f["phase"][:]]
    tpot, ttft = f["tpot_ms"][:], f["ttft_ms"][:]
    for i, r in enumerate(rows):
        if r["error"]:
            continue
        if (phase[i] == "prefill") != math.isnan(tpot[i]):
            failures.append("row %d (%s): tpot_ms %r" % (i, phase[i], tpot[i]))
        if (phase[i] == "decode") != math.isnan(ttft[i]):
            failures.append("row %d (%s): ttft_ms %r" % (i, phase[i], ttft[i]))
        if bool(f["fits"][i]) != (r["fits"] == "true"):
            failures.append("row %d: fits differs from results.csv" % i)
        if int(f["batch"][i]) != int(r["batch"]):
            failures.append("row %d: batch differs from results.csv" % i)
        if f["bound"][i].decode() != r["bound"]:
            failures.append("row %d: bound differs from results.csv" % i)
for m in failures:
    print("h5_check: " + m)
if failures:
    sys.exit(1)
print("h5_check: %s OK (%d rows)" % (h5_path, len(rows)))
