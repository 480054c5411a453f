#!/usr/bin/env python3
"""Summaries and plots of the benchmark's CSV files (python3 standard library only).

  report.py pick CSV METHOD TARGET     print "config<TAB>param" of METHOD's sweep point with the most
                                       q/s at recall >= TARGET (else the one with the best recall)
  report.py summary OUTDIR DS...       write OUTDIR/summary.md and OUTDIR/DS.png, print the summary

CSV columns: see measure.sh.  OUTDIR/DS.meta holds key=value lines (rows, dim, metric, ...).
"""
import csv
import os
import subprocess
import sys

METHODS = {"annoy": "annoy", "hnsw": "pgvector HNSW", "ivfflat": "pgvector IVFFlat"}
PARAM = {"annoy": "search_k", "hnsw": "ef_search", "ivfflat": "probes"}
TARGETS = (0.95, 0.99)


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k in ("recall", "qps", "build_s", "size_mb", "seconds"):
            r[k] = float(r[k]) if r.get(k) not in (None, "", "-") else None
    return rows


def best_at(rows, method, target):
    """The sweep row of `method` with the most q/s at recall >= target, or None."""
    ok = [r for r in rows if r["method"] == method and r["kind"] == "sweep" and r["recall"] is not None
          and r["recall"] >= target]
    return max(ok, key=lambda r: r["qps"]) if ok else None


def best_no_larger(rows, target, limit_mb):
    """annoy's sweep row with the most q/s at recall >= target among indexes of at most limit_mb."""
    ok = [r for r in rows if r["method"] == "annoy" and r["kind"] == "sweep" and r["recall"] is not None
          and r["recall"] >= target and r["size_mb"] is not None and r["size_mb"] <= limit_mb]
    return max(ok, key=lambda r: r["qps"]) if ok else None


def best_recall(rows, method):
    pts = [r for r in rows if r["method"] == method and r["kind"] == "sweep" and r["recall"] is not None]
    return max(pts, key=lambda r: (r["recall"], r["qps"])) if pts else None


def pick(path, method, target):
    rows = load(path)
    r = best_at(rows, method, float(target)) or best_recall(rows, method)
    if r is None:
        sys.exit(f"report.py: no {method} sweep rows in {path}")
    print(f"{r['config']}\t{r['param']}")


def one(rows, method, kind):
    for r in rows:
        if r["method"] == method and r["kind"] == kind:
            return r
    return None


def fmt(x, digits=0):
    if x is None:
        return "-"
    if digits == 0 and abs(x) < 10:
        digits = 1 if abs(x) >= 1 else 2
    return f"{x:,.{digits}f}"


def ratio(a, b):
    if a is None or b in (None, 0):
        return "-"
    x = a / b
    return f"{x:.2f}" if x >= 0.1 else f"{x:.3f}" if x >= 0.001 else f"{x:.1e}"


def meta_of(outdir, ds):
    meta = {}
    try:
        with open(os.path.join(outdir, ds + ".meta")) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                meta[k] = v
    except OSError:
        pass
    return meta


def table(outdir, ds):
    rows = load(os.path.join(outdir, ds + ".csv"))
    meta = meta_of(outdir, ds)
    methods = [m for m in METHODS if any(r["method"] == m for r in rows)]
    floor = one(rows, "client", "floor")
    exact = one(rows, "exact", "exact")
    out = [f"### {ds}: {meta.get('rows', '?')} x {meta.get('dim', '?')}, {meta.get('metric', '?')}, "
           f"{meta.get('queries', '?')} queries, recall@10",
           "",
           f"Client + executor floor (`SELECT $1 IS NULL`): {fmt(floor and floor['qps'])} q/s. "
           f"Exact scan (no index): {fmt(exact and exact['qps'])} q/s at recall "
           f"{fmt(exact and exact['recall'], 3)}.",
           ""]
    head = ["", *[METHODS[m] for m in methods]]
    if "hnsw" in methods:
        head.append("annoy / HNSW")
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "---|" * len(head))

    def line(label, cells, rat=None):
        row = [label, *cells]
        if "hnsw" in methods:
            row.append(rat or "-")
        out.append("| " + " | ".join(row) + " |")

    # The operating point of each method: its best q/s at the first target.
    op = {m: best_at(rows, m, TARGETS[0]) or best_recall(rows, m) for m in methods}
    for t in TARGETS:
        best = {m: best_at(rows, m, t) for m in methods}
        cells = []
        for m in methods:
            b = best[m]
            if b is None:
                br = best_recall(rows, m)
                cells.append(f"not reached (best {fmt(br and br['recall'], 3)})")
            else:
                cfg = f"{b['config']}, " if m == "annoy" else ""
                cells.append(f"**{fmt(b['qps'])}** ({cfg}{PARAM[m]} {b['param']}: {b['recall']:.3f})")
        line(f"q/s at recall >= {t}", cells,
             ratio(best["annoy"] and best["annoy"]["qps"], best.get("hnsw") and best["hnsw"]["qps"]))
    # The same, among annoy indexes no larger than HNSW's (what a user who
    # will not trade space for speed would run).
    hnsw_mb = next((r["size_mb"] for r in rows if r["method"] == "hnsw" and r["kind"] == "sweep"
                    and r["size_mb"] is not None), None)
    if hnsw_mb is not None:
        for t in TARGETS:
            b, h = best_no_larger(rows, t, hnsw_mb), best_at(rows, "hnsw", t)
            cells = [f"**{fmt(b['qps'])}** ({b['config']}, {b['size_mb']:.0f} MB, search_k {b['param']}: "
                     f"{b['recall']:.3f})" if b else "not reached"]
            cells += ["-"] * (len(methods) - 1)
            line(f"q/s at recall >= {t}, annoy index no larger than HNSW's", cells,
                 ratio(b and b["qps"], h and h["qps"]))
    line("build s (operating point)", [fmt(op[m] and op[m]["build_s"]) for m in methods],
         ratio(op["annoy"] and op["annoy"]["build_s"], op.get("hnsw") and op["hnsw"]["build_s"]))
    line("index MB", [fmt(op[m] and op[m]["size_mb"]) for m in methods],
         ratio(op["annoy"] and op["annoy"]["size_mb"], op.get("hnsw") and op["hnsw"]["size_mb"]))
    conc = {m: one(rows, m, "concurrent") for m in methods}
    clients = next((r["clients"] for r in conc.values() if r), "N")
    line(f"q/s, {clients} clients (operating point)",
         [f"{fmt(conc[m]['qps'])} (recall {conc[m]['recall']:.3f})" if conc[m] else "-" for m in methods],
         ratio(conc["annoy"] and conc["annoy"]["qps"], conc.get("hnsw") and conc["hnsw"]["qps"]))
    ins = {m: one(rows, m, "insert") for m in methods}
    line("inserts/s (1 row per transaction)", [fmt(ins[m] and ins[m]["qps"]) for m in methods],
         ratio(ins["annoy"] and ins["annoy"]["qps"], ins.get("hnsw") and ins["hnsw"]["qps"]))
    vac = {m: one(rows, m, "vacuum") for m in methods}
    line("VACUUM s after deleting 10%", [fmt(vac[m] and vac[m]["seconds"], 2) for m in methods],
         ratio(vac["annoy"] and vac["annoy"]["seconds"], vac.get("hnsw") and vac["hnsw"]["seconds"]))
    forced = [f"{m} {PARAM.get(m, '')} {p}" for m, p in
              sorted({(r["method"], int(r["param"])) for r in rows if r.get("forced") == "1"})]
    out.append("")
    if op.get("annoy"):
        out.append(f"Operating point (most q/s at recall >= {TARGETS[0]}): annoy {op['annoy']['config']}, "
                   f"search_k {op['annoy']['param']}"
                   + (f"; HNSW ef_search {op['hnsw']['param']}. Ratio column: higher is better for q/s and "
                      "inserts/s, lower for seconds and MB." if op.get("hnsw") else "."))
    if forced:
        out.append(f"The planner chose a sequential scan over the index by itself for: {', '.join(forced)} "
                   "(measured with enable_seqscan = off).")
    if exact and exact["recall"] is not None and exact["recall"] < 0.999:
        out.append(f"WARNING: the exact scan's recall is {exact['recall']:.4f}, not 1: check the ground truth.")
    return "\n".join(out) + "\n", rows


def plot(outdir, ds, rows):
    series = []  # (title, [(recall, qps, label)])
    keys = []
    for r in rows:
        if r["kind"] == "sweep" and (r["method"], r["config"]) not in keys:
            keys.append((r["method"], r["config"]))
    for m, cfg in keys:
        pts = sorted(((r["recall"], r["qps"], r["param"]) for r in rows
                      if r["kind"] == "sweep" and r["method"] == m and r["config"] == cfg),
                     key=lambda p: (p[0], -p[1]))
        title = f"annoy {cfg}" if m == "annoy" else METHODS[m]
        series.append((title, pts))
    exact = one(rows, "exact", "exact")
    if exact:
        series.append(("exact scan", [(exact["recall"], exact["qps"], "")]))
    if not series:
        return
    dat = os.path.join(outdir, ds + ".dat")
    with open(dat, "w") as f:
        for title, pts in series:
            f.write(f'"{title}"\n')
            for rec, q, p in pts:
                f.write(f"{rec} {q} {p}\n")
            f.write("\n\n")
    lo = min(p[0] for _, pts in series for p in pts)
    script = f"""
set terminal pngcairo size 1100,750 noenhanced font ",10"
set output "{os.path.join(outdir, ds + '.png')}"
set title "{ds}: recall@10 vs queries/s (1 client)"
set xlabel "recall@10"
set ylabel "queries per second"
set logscale y
set grid
set key outside right top
set xrange [{max(0.0, lo - 0.02):.3f}:1.005]
plot for [i=0:{len(series) - 1}] "{dat}" index i using 1:2 with linespoints pointsize 1.2 title columnheader(1)
"""
    try:
        subprocess.run(["gnuplot"], input=script, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"report.py: gnuplot failed for {ds}: {e}", file=sys.stderr)


def summary(outdir, datasets):
    parts = ["## Benchmark summary", ""]
    info = os.path.join(outdir, "run.info")
    if os.path.exists(info):
        with open(info) as f:
            parts += [f.read().strip(), ""]
    for ds in datasets:
        text, rows = table(outdir, ds)
        parts.append(text)
        plot(outdir, ds, rows)
    md = "\n".join(parts)
    with open(os.path.join(outdir, "summary.md"), "w") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "pick":
        pick(*sys.argv[2:])
    elif len(sys.argv) >= 3 and sys.argv[1] == "summary":
        summary(sys.argv[2], sys.argv[3:])
    else:
        sys.exit(__doc__)
