#!/usr/bin/env python3
"""Self and inclusive instruction counts per function from callgrind dumps, per call, side by side.

    callgrind_summary.py CALLS name=dump.out [name=dump.out ...] [--top N] [--grep REGEX]

callgrind_annotate of this valgrind folds inlined frames oddly, so this reads the dump format
directly: a cost line after `calls=` is the callee's inclusive cost, any other cost line is self cost
of the current function (inlined code counts for the function it was inlined into).
"""
import collections
import re
import sys


def parse(path):
    names = {}
    self_cost = collections.Counter()
    incl_calls = collections.Counter()  # inclusive cost of calls made by fn, keyed (fn)
    fn = None
    pending_call = None
    cfn = None

    def name_of(spec):
        m = re.match(r"\((\d+)\)(?: (.*))?", spec)
        if not m:
            return spec
        if m.group(2) is not None:
            names[m.group(1)] = m.group(2)
        return names.get(m.group(1), spec)

    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("fn="):
                fn = name_of(line[3:])
                continue
            if line.startswith("cfn="):
                cfn = name_of(line[4:])
                continue
            if line.startswith("calls="):
                pending_call = cfn
                continue
            if line and (line[0].isdigit() or line[0] in "+-*"):
                parts = line.split()
                if len(parts) < 2:
                    continue
                try:
                    ir = int(parts[1])
                except ValueError:
                    continue
                if pending_call is not None:
                    if pending_call != fn:
                        incl_calls[fn] += ir
                    pending_call = None
                else:
                    self_cost[fn] += ir
    inclusive = collections.Counter()
    for f in set(self_cost) | set(incl_calls):
        inclusive[f] = self_cost[f] + incl_calls[f]
    return self_cost, inclusive


def short(name):
    name = re.sub(r"\[[^\]]*\]$", "", name).strip()
    return name[:140]


def main():
    args = sys.argv[1:]
    top = 40
    pattern = None
    if "--top" in args:
        i = args.index("--top")
        top = int(args[i + 1])
        del args[i : i + 2]
    if "--grep" in args:
        i = args.index("--grep")
        pattern = re.compile(args[i + 1])
        del args[i : i + 2]
    calls = int(args[0])
    runs = [a.split("=", 1) for a in args[1:]]
    data = [(n, parse(p)) for n, p in runs]
    for n, (s, _) in data:
        print(f"{n}: {sum(s.values()) / calls:,.0f} instructions per call")
    names = [n for n, _ in data]
    base = data[-1][1][0]
    first = data[0][1][0]
    keys = set().union(*(d[0].keys() for _, d in data))
    if pattern:
        keys = {k for k in keys if pattern.search(k)}
    order = sorted(keys, key=lambda k: -(first[k] - base[k]))
    print()
    print("self instructions per call; last column: first minus last")
    print("".join(f"{n[:14]:>15}" for n in names) + "           diff  function")
    for k in order[:top]:
        row = "".join(f"{d[0][k] / calls:15,.0f}" for _, d in data)
        print(f"{row}{(first[k] - base[k]) / calls:15,.0f}  {short(k)}")
    if pattern:
        print()
        print("inclusive instructions per call")
        for k in sorted(keys, key=lambda k: -data[0][1][1][k])[:top]:
            row = "".join(f"{d[1][k] / calls:15,.0f}" for _, d in data)
            print(f"{row}  {short(k)}")


if __name__ == "__main__":
    main()
