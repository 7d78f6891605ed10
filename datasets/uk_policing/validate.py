#!/usr/bin/env python3
"""Check the UK policing dataset files and print label counts. Stdlib only.

    python3 datasets/uk_policing/validate.py

Checks: posts.jsonl well-formed (sequential unique ids, platform, created_at,
place_hint, non-empty text); every labels_pass*.jsonl has exactly the post
ids, in order, with relevant 0/1, categories from the fixed list (no
duplicates), categories empty and urgency "none" when relevant=0, valid
urgency, string note; split.json covers every id exactly once.
Exits 1 on any error. If labels_pass2.jsonl exists, also prints pass1/pass2
agreement (Cohen's kappa on relevance, per-category agreement, urgency).
"""

import collections
import json
import pathlib
import re
import sys

HERE = pathlib.Path(__file__).resolve().parent
CATEGORIES = [
    "violence_weapons",
    "burglary",
    "robbery",
    "vehicle_crime",
    "theft",
    "drugs",
    "antisocial_behaviour",
    "criminal_damage_arson",
    "public_order_disorder",
    "hate_crime",
    "sexual_offences",
    "fraud_scams",
    "road_safety",
    "missing_person",
    "abuse_threats_to_officers",
]
URGENCY = ["none", "in_progress", "risk_to_life"]
PLATFORMS = {"x", "bluesky", "mastodon", "reddit", "facebook"}
TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
errors: list[str] = []


def err(msg: str) -> None:
    errors.append(msg)


def read_jsonl(path: pathlib.Path) -> list[dict]:
    rows = []
    for n, line in enumerate(path.open(encoding="utf-8"), 1):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            err(f"{path.name}:{n}: bad JSON ({exc})")
    return rows


def check_posts() -> list[dict]:
    posts = read_jsonl(HERE / "posts.jsonl")
    keys = {"id", "text", "platform", "place_hint", "created_at"}
    for n, p in enumerate(posts, 1):
        if set(p) != keys:
            err(f"posts {n}: keys {sorted(p)} != {sorted(keys)}")
            continue
        if p["id"] != f"ukp-{n:05d}":
            err(f"posts {n}: id {p['id']} not sequential")
        if not isinstance(p["text"], str) or not p["text"].strip():
            err(f"{p['id']}: empty text")
        if p["platform"] not in PLATFORMS:
            err(f"{p['id']}: platform {p['platform']!r}")
        hint = p["place_hint"]
        if hint is not None and not (isinstance(hint, str) and hint.strip()):
            err(f"{p['id']}: place_hint must be a non-empty string or null")
        if not (isinstance(p["created_at"], str) and TIME.match(p["created_at"])):
            err(f"{p['id']}: created_at {p['created_at']!r}")
    texts = collections.Counter(p.get("text") for p in posts)
    for t, c in texts.items():
        if c > 1:
            err(f"duplicate text x{c}: {t[:60]!r}")
    return posts


def check_labels(path: pathlib.Path, ids: list[str]) -> dict[str, dict]:
    rows = read_jsonl(path)
    got = [r.get("id") for r in rows]
    if got != ids:
        missing = set(ids) - set(got)
        extra = set(got) - set(ids)
        err(
            f"{path.name}: ids differ from posts (missing {len(missing)}, extra {len(extra)}, "
            f"duplicates {len(got) - len(set(got))}, or order)"
        )
    for r in rows:
        rid = r.get("id")
        if set(r) != {"id", "relevant", "categories", "urgency", "note"}:
            err(f"{path.name} {rid}: keys {sorted(r)}")
            continue
        if r["relevant"] not in (0, 1) or isinstance(r["relevant"], bool):
            err(f"{path.name} {rid}: relevant {r['relevant']!r}")
        cats = r["categories"]
        bad = not isinstance(cats, list) or any(c not in CATEGORIES for c in cats)
        if bad or len(set(cats)) != len(cats):
            err(f"{path.name} {rid}: categories {cats!r}")
        if r["urgency"] not in URGENCY:
            err(f"{path.name} {rid}: urgency {r['urgency']!r}")
        if r["relevant"] == 0 and (cats or r["urgency"] != "none"):
            err(f"{path.name} {rid}: relevant=0 must have no categories and urgency none")
        if not isinstance(r["note"], str):
            err(f"{path.name} {rid}: note must be a string")
    return {r.get("id"): r for r in rows}


def check_split(ids: list[str]) -> dict[str, list[str]]:
    split = json.loads((HERE / "split.json").read_text(encoding="utf-8"))
    if set(split) != {"train", "dev", "test"}:
        err(f"split.json keys {sorted(split)}")
    seen = collections.Counter(i for part in split.values() for i in part)
    if set(seen) != set(ids):
        missing, unknown = len(set(ids) - set(seen)), len(set(seen) - set(ids))
        err(f"split.json: {missing} ids missing, {unknown} unknown")
    dup = [i for i, c in seen.items() if c > 1]
    if dup:
        err(f"split.json: {len(dup)} ids in more than one split, e.g. {dup[:3]}")
    return split


def kappa(a: list[int], b: list[int]) -> float:
    n = len(a)
    po = sum(x == y for x, y in zip(a, b, strict=True)) / n
    pa, pb = sum(a) / n, sum(b) / n
    pe = pa * pb + (1 - pa) * (1 - pb)
    return (po - pe) / (1 - pe) if pe < 1 else 1.0


def main() -> int:
    posts = check_posts()
    ids = [p["id"] for p in posts]
    label_files = sorted(HERE.glob("labels_pass*.jsonl"))
    passes = {p.stem: check_labels(p, ids) for p in label_files}
    split = check_split(ids)
    if errors:
        for e in errors[:50]:
            print("ERROR", e)
        print(f"{len(errors)} error(s)")
        return 1

    words = sorted(len(p["text"].split()) for p in posts)
    median = words[len(words) // 2]
    print(f"posts: {len(posts)}  words min/median/max {words[0]}/{median}/{words[-1]}")
    print("platform:", dict(collections.Counter(p["platform"] for p in posts).most_common()))
    print(f"place_hint null: {sum(p['place_hint'] is None for p in posts)}")
    part_of = {i: k for k, v in split.items() for i in v}
    for name, lab in passes.items():
        rows = [lab[i] for i in ids]
        rel = sum(r["relevant"] for r in rows)
        print(f"\n{name}: relevant {rel} ({rel / len(rows):.1%}), not relevant {len(rows) - rel}")
        urg = collections.Counter(r["urgency"] for r in rows)
        urgent = urg["in_progress"] + urg["risk_to_life"]
        print(
            "urgency:",
            {u: urg[u] for u in URGENCY},
            f"urgent total {urgent} ({urgent / len(rows):.1%})",
        )
        no_cat = sum(1 for r in rows if r["relevant"] and not r["categories"])
        multi = sum(1 for r in rows if len(r["categories"]) > 1)
        notes = sum(1 for r in rows if r["note"])
        print(f"relevant with no category: {no_cat}; multi-label: {multi}; notes: {notes}")
        print(f"{'category':28s}{'all':>5s}{'train':>7s}{'dev':>5s}{'test':>6s}")
        for c in CATEGORIES:
            per = collections.Counter(part_of[r["id"]] for r in rows if c in r["categories"])
            print(f"{c:28s}{sum(per.values()):5d}{per['train']:7d}{per['dev']:5d}{per['test']:6d}")
    print("\nsplit:", {k: len(v) for k, v in split.items()})
    if "labels_pass1" in passes:
        for k, v in split.items():
            r = sum(passes["labels_pass1"][i]["relevant"] for i in v)
            print(f"  {k:5s} relevant {r}/{len(v)} ({r / len(v):.1%})")
    if {"labels_pass1", "labels_pass2"} <= set(passes):
        a, b = passes["labels_pass1"], passes["labels_pass2"]
        ra, rb = [a[i]["relevant"] for i in ids], [b[i]["relevant"] for i in ids]
        rel_agree = sum(x == y for x, y in zip(ra, rb, strict=True)) / len(ids)
        urg_agree = sum(a[i]["urgency"] == b[i]["urgency"] for i in ids) / len(ids)
        print(
            f"\npass1 vs pass2: relevance agreement {rel_agree:.1%}, "
            f"kappa {kappa(ra, rb):.3f}; urgency agreement {urg_agree:.1%}"
        )
        for c in CATEGORIES:
            ca = [int(c in a[i]["categories"]) for i in ids]
            cb = [int(c in b[i]["categories"]) for i in ids]
            if sum(ca) + sum(cb):
                print(f"  {c:28s} kappa {kappa(ca, cb):.3f}")
    print("\nOK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
