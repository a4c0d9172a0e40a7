#!/usr/bin/env python3
"""The floor under a run of the message-level model, against its wall time.

Every event costs at least a potato hop (queue push and pop, dispatch, trace hash, a send) and
every message at least one latency draw, before any protocol work. Both rates come from the
kernel benchmark's output (divan, best of its samples; for events the fastest potato workload);
the counts from each run's summary.json. wall/floor is a run's cost in units of the kernel's
own speed that minute, so it compares builds across machines and days better than wall time.

    python3 scripts/floor.py BENCH_OUTPUT NAME=RESULTS_DIR ...
"""
import json
import re
import sys


def rates(bench_output):
    """Best items/s of each divan benchmark: the first rate on the line after its name."""
    lines = open(bench_output, encoding="utf-8").read().splitlines()
    found = {}
    for i, line in enumerate(lines[:-1]):
        name = re.search(r"[├╰]─ (\w+)", line)
        rate = re.search(r"([\d.]+) (M|K|G)?item/s", lines[i + 1])
        if name and rate:
            scale = {"K": 1e3, "M": 1e6, "G": 1e9, None: 1.0}[rate.group(2)]
            found[name.group(1)] = float(rate.group(1)) * scale
    return found


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    found = rates(sys.argv[1])
    draw = found.get("simblock_latency_draws")
    potatoes = [rate for name, rate in found.items() if name.startswith("potato_")]
    if draw is None or not potatoes:
        sys.exit(f"{sys.argv[1]}: no simblock_latency_draws or potato_* rate")
    event = max(potatoes)
    print(f"{'run':<16}{'events':>10}{'messages':>11}{'floor s':>9}{'wall s':>8}{'wall/floor':>11}")
    for arg in sys.argv[2:]:
        name, _, results = arg.partition("=")
        summary = json.load(open(f"{results}/summary.json", encoding="utf-8"))
        for run in summary["runs"]:
            m = run["metrics"]
            floor = m["events"] / event + m["messages"] / draw
            wall = m["wall_time_s"]
            print(
                f"{name:<16}{m['events'] / 1e6:>9.2f}M{m['messages'] / 1e6:>10.2f}M"
                f"{floor:>9.3f}{wall:>8.3f}{wall / floor:>11.2f}"
            )


if __name__ == "__main__":
    main()
