#!/usr/bin/env python3
"""Per-cell summary of scripts/echo-bench.sh's JSON lines (docs/benchmarks/echo.md).

    python3 scripts/echo-summary.py [target/echo-bench.jsonl]

One markdown row per setup x cell: the median over the repetitions of each server's
requests/s, heist's and tokio's median p99, and whether the cell meets issue 11's bar
(heist's requests/s >= tokio's and >= smol's, heist's p99 <= tokio's). Medians of
three interleaved repetitions; a cell whose repetitions overlap is noise either way,
so the min-max of heist and tokio is shown too.
"""
import json
import statistics
import sys
from collections import defaultdict

path = sys.argv[1] if len(sys.argv) > 1 else "target/echo-bench.jsonl"
runs = defaultdict(lambda: defaultdict(list))
order = []
for line in open(path):
    line = line.strip()
    if not line:
        continue
    r = json.loads(line)
    key = (r["setup"], r["conns"], r["size"], r["mode"], r.get("batch", False))
    if key not in runs:
        order.append(key)
    runs[key][r["rt"]].append(r)

rts = []
for key in order:
    for rt in runs[key]:
        if rt not in rts:
            rts.append(rt)


def med(rs, field):
    return statistics.median(r[field] for r in rs) if rs else None


def span(rs, field):
    return f"{min(r[field] for r in rs):,.0f}-{max(r[field] for r in rs):,.0f}" if rs else "-"


head = ["setup", "conns", "size", "mode", "batch"] + [f"{rt} rps" for rt in rts]
head += ["heist rps min-max", "tokio rps min-max", "heist p99 us", "tokio p99 us", "bar"]
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
met = 0
for key in order:
    setup, conns, size, mode, batch = key
    by = runs[key]
    row = [setup, str(conns), str(size), mode, "yes" if batch else "no"]
    row += [f"{med(by[rt], 'rps'):,.0f}" if by.get(rt) else "-" for rt in rts]
    row += [span(by.get("heist"), "rps"), span(by.get("tokio"), "rps")]
    hp, tp = med(by.get("heist"), "p99_us"), med(by.get("tokio"), "p99_us")
    row += [f"{hp:.1f}" if hp is not None else "-", f"{tp:.1f}" if tp is not None else "-"]
    h = med(by.get("heist"), "rps")
    ok = h is not None and all(
        h >= med(by[rt], "rps") for rt in ("tokio", "smol") if by.get(rt)
    ) and (tp is None or hp <= tp)
    met += ok
    row.append("yes" if ok else "no")
    print("| " + " | ".join(row) + " |")
print(f"\n{met} of {len(order)} cells meet the bar (medians).")
