#!/usr/bin/env python3
"""Write split.json: a fixed train/dev/test assignment (~60/15/25).

Stratified by relevance and category, deterministic by id:
  * stratum = "not_relevant" for relevant=0; for relevant=1, the post's rarest
    category (by pass-1 counts), or "relevant_no_category";
  * inside a stratum, posts are ordered by sha256("ukp-split-v1:" + id) and
    the first 25% go to test, the next 15% to dev, the rest to train.

Run once. split.json is the source of truth and is committed; do not
regenerate it after pass 2 or adjudication (ids would move between splits).
Stdlib only:  python3 datasets/uk_policing/make_split.py [--force]
"""

import collections
import hashlib
import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE / "split.json"


def _order(pid: str) -> str:
    return hashlib.sha256(f"ukp-split-v1:{pid}".encode()).hexdigest()


def main() -> int:
    if OUT.exists() and "--force" not in sys.argv:
        print(f"{OUT.name} exists; it is frozen. Use --force only before any model has used it.")
        return 1
    labels = [json.loads(line) for line in (HERE / "labels_pass1.jsonl").open(encoding="utf-8")]
    freq = collections.Counter(c for lab in labels for c in lab["categories"])
    strata = collections.defaultdict(list)
    for lab in labels:
        if not lab["relevant"]:
            key = "not_relevant"
        elif lab["categories"]:
            key = min(lab["categories"], key=lambda c: (freq[c], c))
        else:
            key = "relevant_no_category"
        strata[key].append(lab["id"])
    split = {"train": [], "dev": [], "test": []}
    for key in sorted(strata):
        ids = sorted(strata[key], key=_order)
        n = len(ids)
        for rank, pid in enumerate(ids):
            pos = (rank + 0.5) / n
            split["test" if pos < 0.25 else "dev" if pos < 0.40 else "train"].append(pid)
    for part in split.values():
        part.sort()
    OUT.write_text(json.dumps(split, indent=1) + "\n", encoding="utf-8")
    print({k: len(v) for k, v in split.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
