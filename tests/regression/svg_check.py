#!/usr/bin/env python3
"""Checks sweep plots as a reader sees them: svg_check.py DIR...

For every DIR (a `dssim sweep --out` directory) and every SVG in it:
- the SVG parses as XML and renders with rsvg-convert (librsvg2-bin);
- nothing is drawn outside the canvas (legends, labels, titles): the plot is rendered on a
  canvas padded by 200 px on every side twice, once clipped to its own canvas and once not;
  the two images are identical only if every mark lies inside;
- bottleneck.svg draws a row for every point of results.csv, and the Pareto plots a marker for
  every point of their phase that ran;
- no plot mixes the phases: throughput_vs_workload_phase.svg does not exist, and each panel's
  value axis names its tokens (input for prefill, output for decode).
Also checks results.csv: unique header names, the `bound` column, and empty TPOT in prefill and
empty TTFT in decode rows.
"""
import csv
import glob
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

PAD = 200
NS = "{http://www.w3.org/2000/svg}"


def render(svg_text, out_png):
    with tempfile.NamedTemporaryFile("w", suffix=".svg", delete=False) as f:
        f.write(svg_text)
        name = f.name
    try:
        subprocess.run(["rsvg-convert", name, "-o", out_png], check=True)
    finally:
        os.unlink(name)
    with open(out_png, "rb") as f:
        return f.read()


def inside_canvas(path, tmp):
    text = open(path, encoding="utf-8").read()
    m = re.search(r"<svg\b([^>]*)>", text)
    attrs = dict(re.findall(r'([\w:-]+)="([^"]*)"', m.group(1)))
    w, h = float(attrs["width"]), float(attrs["height"])
    inner = text[m.end():text.rindex("</svg>")]
    font = 'font-family="%s" font-size="%s"' % (attrs.get("font-family", "sans-serif"),
                                                attrs.get("font-size", "12"))

    def wrapped(clip):
        return ('<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g">'
                '<rect width="100%%" height="100%%" fill="white"/>'
                '<defs><clipPath id="canvas-clip"><rect x="0" y="0" width="%g" height="%g"/>'
                '</clipPath></defs><g transform="translate(%d,%d)" %s %s>%s</g></svg>' %
                (w + 2 * PAD, h + 2 * PAD, w, h, PAD, PAD, font,
                 'clip-path="url(#canvas-clip)"' if clip else "", inner))

    a = render(wrapped(False), os.path.join(tmp, "free.png"))
    b = render(wrapped(True), os.path.join(tmp, "clipped.png"))
    return a == b


def main(dirs):
    failures = []
    checked = 0
    tmp = tempfile.mkdtemp()
    for d in dirs:
        rows = list(csv.DictReader(open(os.path.join(d, "results.csv"))))
        header = open(os.path.join(d, "results.csv")).readline().strip().split(",")
        if len(header) != len(set(header)):
            failures.append("%s/results.csv: duplicate header names %s" % (d, header))
        if "bound" not in header:
            failures.append("%s/results.csv: no bound column" % d)
        for r in rows:
            if r["error"]:
                continue
            if r["phase"] == "prefill" and r["tpot_ms"] != "":
                failures.append("%s/results.csv: point %s: tpot_ms in prefill" % (d, r["index"]))
            if r["phase"] == "decode" and r["ttft_ms"] != "":
                failures.append("%s/results.csv: point %s: ttft_ms in decode" % (d, r["index"]))
            if r.get("bound") not in ("compute", "memory", "communication"):
                failures.append("%s/results.csv: point %s: bound %r" % (d, r["index"], r.get("bound")))
        if os.path.exists(os.path.join(d, "throughput_vs_workload_phase.svg")):
            failures.append("%s: a plot across the phase axis" % d)
        svgs = sorted(glob.glob(os.path.join(d, "*.svg")))
        if len(svgs) < 3:
            failures.append("%s: only %d plots" % (d, len(svgs)))
        for f in svgs:
            checked += 1
            root = ET.parse(f).getroot()
            assert root.tag == NS + "svg", f
            texts = ["".join(t.itertext()) for t in root.iter(NS + "text")]
            points = [e for e in root.iter() if e.get("class") == "point"]
            base = os.path.basename(f)
            if not inside_canvas(f, tmp):
                failures.append("%s: something is drawn outside the canvas" % f)
            if base == "bottleneck.svg" and len(points) != len(rows):
                failures.append("%s: %d rows for %d points" % (f, len(points), len(rows)))
            for phase, name in (("decode", "pareto_tpot.svg"), ("prefill", "pareto_ttft.svg")):
                if base == name:
                    want = sum(1 for r in rows if r["phase"] == phase and not r["error"])
                    if len(points) != want:
                        failures.append("%s: %d markers for %d %s points" %
                                        (f, len(points), want, phase))
            if base.startswith("throughput_vs_") or base.startswith("pareto_"):
                for t in texts:
                    if "tokens/s per device" in t and not re.match(r"^(input|output) ", t):
                        failures.append("%s: value axis %r does not say which tokens" % (f, t))
    for f in failures:
        print("svg_check: " + f)
    if failures:
        sys.exit(1)
    print("svg_check: %d plots in %d studies OK" % (checked, len(dirs)))


if __name__ == "__main__":
    main(sys.argv[1:])
