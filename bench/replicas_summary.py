#!/usr/bin/env python3
"""The tables of bench/replicas.sh from its runs (one `cm-bench load --json` result per line, with
`variant` and `round` added): medians over the rounds, ratios of the medians, and the server's CPU
per call split by process (replicas, nginx, Redis)."""

import argparse
import json
import statistics
import sys
from collections import defaultdict

ROLES = {"my-service": "replicas", "nginx": "nginx", "redis-server": "redis"}


def role_cpu(run, role, field="cpu_us_per_call"):
    """CPU per call (or another per-call field) of the processes of one role in one run, summed
    (None when one could not be read)."""
    shares = [p.get(field) for p in run.get("server_processes", []) if ROLES.get(p["name"]) == role]
    if not shares or any(s is None for s in shares):
        return None
    return sum(shares)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(x, digits=1):
    return "–" if x is None else f"{x:.{digits}f}"


def summarize(runs):
    by_variant = defaultdict(list)
    for run in runs:
        by_variant[run["variant"]].append(run)
    out = {}
    for variant, rs in by_variant.items():
        cps = [r["calls_per_s"] for r in rs]
        out[variant] = {
            "rounds": len(rs),
            "cps": median(cps),
            "cps_min": min(cps),
            "cps_max": max(cps),
            "p50": median(r["latency"]["p50_ms"] for r in rs),
            "p99": median(r["latency"]["p99_ms"] for r in rs),
            "replicas": median(role_cpu(r, "replicas") for r in rs),
            "nginx": median(role_cpu(r, "nginx") for r in rs),
            "redis": median(role_cpu(r, "redis") for r in rs),
            "replicas_switches": median(role_cpu(r, "replicas", "context_switches_per_call") for r in rs),
            "total": median(r.get("server_cpu_us_per_call") for r in rs),
            "client": median(r["client_cpu_us_per_call"] for r in rs),
            "calls": sum(r["calls"] for r in rs),
            "errors": sum(r["errors"] for r in rs),
            "sessions": all(r["sessions"] for r in rs),
            "samples": sorted({s for r in rs for s in r["error_samples"]}),
        }
    return out


def paired(runs, variant, base):
    """The median over the rounds of each round's calls/s ratio to the base variant's in that same
    round: runs minutes apart see different loads from other work, adjacent ones similar loads."""
    by_round = defaultdict(dict)
    for run in runs:
        by_round[run["round"]][run["variant"]] = run["calls_per_s"]
    ratios = [r[variant] / r[base] for r in by_round.values() if variant in r and base in r and r[base] > 0]
    return (median(ratios), min(ratios), max(ratios)) if ratios else (None, None, None)


def table(s, runs, rows, base, base_label, columns):
    head = [
        "variant",
        "calls/s",
        "(min–max)",
        f"vs {base_label}",
        "per-round ratio (min–max)",
        "p50 ms",
        "vs " + base_label,
        "p99 ms",
    ]
    head += [c[0] for c in columns] + ["client CPU µs/call", "errors / calls"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    b = s[base]
    for name, label in rows:
        if name not in s:
            continue
        v = s[name]
        ratio, low, high = paired(runs, name, base)
        cells = [
            label,
            f"{v['cps']:.0f}",
            f"{v['cps_min']:.0f}–{v['cps_max']:.0f}",
            f"{v['cps'] / b['cps']:.2f}×",
            "–" if name == base else f"{ratio:.2f}× ({low:.2f}–{high:.2f})",
            fmt(v["p50"], 3),
            f"{v['p50'] / b['p50']:.2f}×",
            fmt(v["p99"], 3),
        ]
        cells += [fmt(v[c[1]], c[2] if len(c) > 2 else 1) for c in columns]
        cells += [fmt(v["client"]), f"{v['errors']} / {v['calls']}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("runs")
    parser.add_argument("--load-before", default="?")
    parser.add_argument("--load-after", default="?")
    parser.add_argument("--rounds", default="?")
    parser.add_argument("--duration", default="?")
    parser.add_argument("--warmup", default="?")
    parser.add_argument("--clients", default="?")
    args = parser.parse_args()
    with open(args.runs) as f:
        runs = [json.loads(line) for line in f if line.strip()]
    s = summarize(runs)
    print(
        f"{args.rounds} rounds, {args.clients} clients (legacy sessions: "
        f"{'yes' if all(v['sessions'] for v in s.values()) else 'NO'}), {args.warmup} s warm-up + "
        f"{args.duration} s measured per run; load average before {args.load_before}, after {args.load_after}.\n"
    )
    print("Redis backend against in-memory sessions (one replica, clients connected directly):\n")
    print(
        table(
            s,
            runs,
            [("memory", "in-memory"), ("redis", "Redis")],
            "memory",
            "in-memory",
            [("replica CPU µs/call", "replicas"), ("Redis CPU µs/call", "redis"), ("server CPU µs/call", "total"),
             ("replica context switches/call", "replicas_switches", 2)],
        )
    )
    print("\nnginx round-robin in front of one and three replicas (all with Redis):\n")
    print(
        table(
            s,
            runs,
            [("redis", "direct to one replica"), ("nginx-1", "nginx → 1 replica"), ("nginx-3", "nginx → 3 replicas")],
            "redis",
            "direct",
            [
                ("replicas CPU µs/call", "replicas"),
                ("nginx CPU µs/call", "nginx"),
                ("Redis CPU µs/call", "redis"),
                ("all CPU µs/call", "total"),
                ("replicas' context switches/call", "replicas_switches", 2),
            ],
        )
    )
    failed = {name: v["samples"] for name, v in s.items() if v["errors"]}
    for name, samples in failed.items():
        print(f"\nerrors in {name}: {s[name]['errors']}; samples: {samples}")
    if not all(v["sessions"] for v in s.values()):
        print("\nsome runs had no sessions: not legacy-session mode", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
