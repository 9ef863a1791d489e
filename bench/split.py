#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Deterministic, class-stratified split of a labelled JSON list into a fit
part and a validation part, for bench/frontier.sh's selection phase (issue
14): variants are calibrated on FIT and chosen on VAL, so the choice never
sees the test set.

    /usr/bin/python3 bench/split.py IN.json FIT.json VAL.json [--val-frac F] [--seed S]

IN: [{"text": ..., "class": 0|1}, ...]; entries without a class 0/1 are
dropped (polyctl eval skips them anyway), so FIT + VAL is IN's labelled
entries. Per class, round(F * n_class) entries (F default 0.2) go to VAL,
picked by a seeded shuffle (default seed 14); both outputs keep IN's order.
Prints one line: the counts per part and class.
"""
import argparse
import json
import random
import sys


def split(entries, val_frac, seed):
    """-> (fit, val): lists of entries in input order."""
    rng = random.Random(seed)   # Mersenne Twister: same seed, same split, any Python 3
    by_class = {}
    for i, e in enumerate(entries):
        if isinstance(e, dict) and e.get("class") in (0, 1) and not isinstance(e["class"], bool):
            by_class.setdefault(e["class"], []).append(i)
    val = set()
    for c in sorted(by_class):   # a fixed class order: the rng's draws do not depend on dict order
        idx = by_class[c]
        rng.shuffle(idx)
        val.update(idx[:round(val_frac * len(idx))])
    labelled = sorted(i for idx in by_class.values() for i in idx)
    return ([entries[i] for i in labelled if i not in val],
            [entries[i] for i in labelled if i in val])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input")
    ap.add_argument("fit")
    ap.add_argument("val")
    ap.add_argument("--val-frac", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=14)
    a = ap.parse_args()
    if not 0 < a.val_frac < 1:
        sys.exit("split.py: --val-frac %g, expected 0 < F < 1" % a.val_frac)
    try:
        with open(a.input) as f:
            entries = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit("split.py: %s: %s" % (a.input, e))
    if not isinstance(entries, list):
        sys.exit("split.py: %s: expected a JSON list of {\"text\", \"class\"}" % a.input)
    fit, val = split(entries, a.val_frac, a.seed)
    if not fit or not val:
        sys.exit("split.py: %s: %d labelled entries, too few for a split" % (a.input, len(fit) + len(val)))
    for path, part in ((a.fit, fit), (a.val, val)):
        with open(path, "w") as f:
            json.dump(part, f, ensure_ascii=False)
            f.write("\n")

    def counts(part):
        return "%d (class 0: %d, class 1: %d)" % (
            len(part), sum(e["class"] == 0 for e in part), sum(e["class"] == 1 for e in part))
    print("split.py: %s -> fit %s, val %s; seed %d" % (a.input, counts(fit), counts(val), a.seed))


if __name__ == "__main__":
    main()
