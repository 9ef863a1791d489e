#!/usr/bin/env python3
"""prom_check.py - a strict reader of the Prometheus text exposition format
0.0.4, for tests/integration/test_daemon_metrics.sh.

  prom_check.py FILE [--json OUT]   exit 0 and (with --json) the samples as
                                    {"name{labels}": value}, or exit 1 naming
                                    the line that breaks the format.

Checked: every sample's family has a TYPE line before it (a histogram's
samples are NAME_bucket/_sum/_count), HELP and TYPE at most once per family
and before its samples, a family's samples together, metric and label names,
label values with only the escapes \\\\ \\" \\n, no series twice, values that are
floats, counters ending in _total and never negative, and for each histogram
series le increasing, buckets non-decreasing and ending with +Inf equal to
_count, _sum present.
"""
import json
import math
import re
import sys

NAME = re.compile(r'[a-zA-Z_:][a-zA-Z0-9_:]*$')
LABEL = re.compile(r'[a-zA-Z_][a-zA-Z0-9_]*$')
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def die(n, line, why):
    print(f"prom_check: line {n}: {why}: {line!r}")
    sys.exit(1)


def parse_labels(n, line, s):
    """s starts after '{'; returns (labels dict, rest after '}')."""
    labels, i = {}, 0
    while True:
        if s[i:i + 1] == '}':
            return labels, s[i + 1:]
        m = re.match(r'([^=]*)="', s[i:])
        if not m or not LABEL.match(m.group(1)):
            die(n, line, "bad label name")
        key, i = m.group(1), i + m.end()
        val = []
        while True:
            if i >= len(s):
                die(n, line, "unterminated label value")
            c = s[i]
            if c == '\\':
                nxt = s[i + 1:i + 2]
                if nxt not in ('\\', '"', 'n'):
                    die(n, line, "bad escape in a label value")
                val.append('\n' if nxt == 'n' else nxt)
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == '\n':
                die(n, line, "newline in a label value")
            else:
                val.append(c)
                i += 1
        if key in labels:
            die(n, line, f"label {key} twice")
        labels[key] = ''.join(val)
        if s[i:i + 1] == ',':
            i += 1
        elif s[i:i + 1] != '}':
            die(n, line, "expected , or } after a label")


def family_of(name, types):
    if name in types:
        return name
    for suf in ("_bucket", "_sum", "_count"):
        base = name[:-len(suf)] if name.endswith(suf) else None
        if base and types.get(base) in ("histogram", "summary"):
            return base
    return None


def check(text):
    if text and not text.endswith("\n"):
        die(0, text[-40:], "the text does not end with a newline")
    types, helps, done, current = {}, set(), set(), None
    samples, hists = {}, {}
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                fam = parts[2]
                if not NAME.match(fam):
                    die(n, line, "bad metric name")
                if fam in done or (fam in types and current != fam):
                    die(n, line, "HELP/TYPE after the family's samples")
                if parts[1] == "TYPE":
                    if fam in types or len(parts) != 4 or parts[3] not in TYPES:
                        die(n, line, "second or bad TYPE")
                    types[fam] = parts[3]
                else:
                    if fam in helps:
                        die(n, line, "second HELP")
                    helps.add(fam)
                if current and current != fam:
                    done.add(current)
                current = fam
            continue
        m = re.match(r'([^{ ]+)(\{?)', line)
        name = m.group(1)
        if not NAME.match(name):
            die(n, line, "bad metric name")
        rest = line[m.end():]
        labels = {}
        if m.group(2):
            labels, rest = parse_labels(n, line, rest)
        fam = family_of(name, types)
        if fam is None:
            die(n, line, "sample without a TYPE line before it")
        if fam in done:
            die(n, line, "the family's samples are not together")
        if current != fam:
            if current:
                done.add(current)
            current = fam
        fields = rest.strip().split(" ")
        if not rest.startswith(" ") or len(fields) not in (1, 2):
            die(n, line, "expected ' VALUE [TIMESTAMP]'")
        try:
            v = float(fields[0])
        except ValueError:
            die(n, line, "value is not a float")
        if types[fam] == "counter":
            if not fam.endswith("_total"):
                die(n, line, "a counter's name should end in _total")
            if v < 0 or math.isnan(v):
                die(n, line, "a negative counter")
        key = name + "{" + ",".join(f'{k}="{labels[k]}"' for k in sorted(labels)) + "}"
        if key in samples:
            die(n, line, "the same series twice")
        samples[key] = v
        if types[fam] == "histogram":
            series = tuple(sorted((k, x) for k, x in labels.items() if k != "le"))
            h = hists.setdefault((fam, series), {"b": [], "sum": None, "count": None, "n": n})
            if name.endswith("_bucket"):
                if "le" not in labels:
                    die(n, line, "a bucket without le")
                le = float(labels["le"])
                if h["b"] and (le <= h["b"][-1][0] or v < h["b"][-1][1]):
                    die(n, line, "le not increasing or buckets not cumulative")
                h["b"].append((le, v))
            elif name.endswith("_sum"):
                h["sum"] = v
            else:
                h["count"] = v
    for (fam, series), h in hists.items():
        where = f"{fam}{dict(series)}"
        if not h["b"] or h["b"][-1][0] != math.inf:
            die(h["n"], where, "histogram without a +Inf bucket last")
        if h["count"] is None or h["sum"] is None:
            die(h["n"], where, "histogram without _sum or _count")
        if h["b"][-1][1] != h["count"]:
            die(h["n"], where, "+Inf bucket differs from _count")
    return samples


def main():
    text = open(sys.argv[1], encoding="utf-8").read()
    samples = check(text)
    if len(sys.argv) == 4 and sys.argv[2] == "--json":
        json.dump(samples, open(sys.argv[3], "w"))
    print(f"prom_check: ok, {len(samples)} samples")


if __name__ == "__main__":
    main()
