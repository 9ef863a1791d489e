#!/usr/bin/env python3
# same_embeddings.py TOL A.jsonl B.jsonl - exit 0 when the two JSONL files
# hold the same records: every number within TOL * (1 + |a|), every other
# value equal, the same count of lines. Prints the first difference.
import json
import sys


def same(a, b, tol, path):
    if isinstance(a, bool) or isinstance(b, bool) or not (
            isinstance(a, (int, float)) and isinstance(b, (int, float))):
        if type(a) is not type(b):
            return f"{path}: {a!r} vs {b!r}"
        if isinstance(a, list):
            if len(a) != len(b):
                return f"{path}: {len(a)} vs {len(b)} items"
            for i, (x, y) in enumerate(zip(a, b)):
                d = same(x, y, tol, f"{path}[{i}]")
                if d:
                    return d
            return None
        if isinstance(a, dict):
            if a.keys() != b.keys():
                return f"{path}: keys {sorted(a)} vs {sorted(b)}"
            for k in a:
                d = same(a[k], b[k], tol, f"{path}.{k}")
                if d:
                    return d
            return None
        return None if a == b else f"{path}: {a!r} vs {b!r}"
    return None if abs(a - b) <= tol * (1 + abs(a)) else f"{path}: {a} vs {b}"


def main():
    tol = float(sys.argv[1])
    la = open(sys.argv[2]).read().splitlines()
    lb = open(sys.argv[3]).read().splitlines()
    if len(la) != len(lb):
        print(f"{len(la)} lines vs {len(lb)}")
        return 1
    for n, (x, y) in enumerate(zip(la, lb), 1):
        d = same(json.loads(x), json.loads(y), tol, f"line {n}")
        if d:
            print(d)
            return 1
    return 0


sys.exit(main())
