"""LOC precision/recall/F1 on the Broad Twitter Corpus (entity level, exact span match).

    python -m nlp.geo.evaluate [DATASET_DIR]

Gold: LOC entities from BIO tags in the CoNLL files (token TAB tag, blank line between
tweets). A tweet's text is rebuilt from its tokens (``to_text``: punctuation, clitics and
dotted abbreviations the corpus's tokeniser split off are joined back, "U . S ." to
"U.S."; other tokens are separated by one space); a system's predicted
character spans are projected onto the corpus tokens they touch (as a token tagger would
tag them) and count only if those tokens match a gold entity exactly. Sections: ``f`` =
the official test set, ``a`` and ``b`` = UK tweets. Nothing here is trained or tuned on these files.

Systems: ``spacy_sm`` = en_core_web_sm's NER, GPE+LOC+FAC mapped to LOC; ``geoparser``
= Bluelamp's geoparser with en_core_web_sm as its NER (its place spans: GPE/LOC/FAC
after the gazetteer ruler, whether or not the place resolves to a UK point);
``geoparser + tweet NER`` = the same with the NER trained on BTC sections e, g, h
(``nlp/models/tweet_ner``, ``python -m nlp.training.train_ner``), the geoparser's
default when that model is present (the row is left out when it is not).
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

Span = tuple[int, int]  # token start (inclusive), token end (exclusive)
SpanSystem = Callable[[list[str]], list[list[tuple[int, int]]]]  # texts → char spans

DEFAULT_DIR = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "broad_twitter_corpus"
SECTIONS = ("f", "a", "b")


def read_conll(path: Path) -> list[tuple[list[str], list[str]]]:
    """Tweets as (tokens, tags)."""
    tweets: list[tuple[list[str], list[str]]] = []
    toks: list[str] = []
    tags: list[str] = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            if toks:
                tweets.append((toks, tags))
            toks, tags = [], []
            continue
        parts = line.split("\t")
        toks.append(parts[0])
        tags.append(parts[-1].strip() if len(parts) > 1 else "O")
    if toks:
        tweets.append((toks, tags))
    return tweets


def bio_spans(tags: Sequence[str], label: str = "LOC") -> set[Span]:
    spans: set[Span] = set()
    start: int | None = None
    for i, tag in enumerate([*tags, "O"]):
        inside = tag == f"I-{label}" and start is not None
        if start is not None and not inside:
            spans.add((start, i))
            start = None
        if tag == f"B-{label}" or (tag == f"I-{label}" and start is None and not inside):
            start = i
    return spans


# Tokens the corpus's tokeniser split off the word before them ("," "." "'s" "n't"), or
# after which it split the word that followed ("@" of a handle, an opening bracket).
_GLUE_LEFT = re.compile(r"^(?:[,.!?:;)\]%]+|'[sS]|n't|'re|'ve|'ll|'d|'m)$")
_GLUE_RIGHT = frozenset({"@", "(", "[", "$", "£"})
_LETTER = re.compile(r"^[A-Za-z]$")


def _glued(tokens: Sequence[str], i: int) -> bool:
    """Whether token ``i`` was written against the one before it (no space between)."""
    prev = tokens[i - 1]
    return bool(
        _GLUE_LEFT.match(tokens[i])
        or prev in _GLUE_RIGHT
        # "U . S ." was "U.S.": a letter after a letter's full stop
        or (prev == "." and _LETTER.match(tokens[i]) and i >= 2 and _LETTER.match(tokens[i - 2]))
    )


def to_text(tokens: Sequence[str], detokenize: bool = True) -> tuple[str, list[int], list[int]]:
    """A tweet's text rebuilt from its corpus tokens, with each token's character offsets.

    The corpus's tokeniser split punctuation, clitics and dotted abbreviations off the
    words they were written against ("U . S .", "London 's", "@ handle"); no real post
    reads like that, so by default those tokens are joined back ("U.S.", "London's",
    "@handle") and the rest separated by one space. ``detokenize=False`` joins every
    token with a space (what the tweet NER was trained on, ``nlp.training.train_ner``).
    """
    starts: list[int] = []
    ends: list[int] = []
    parts: list[str] = []
    pos = 0
    for i, tok in enumerate(tokens):
        if i and not (detokenize and _glued(tokens, i)):
            parts.append(" ")
            pos += 1
        starts.append(pos)
        parts.append(tok)
        pos += len(tok)
        ends.append(pos)
    return "".join(parts), starts, ends


def char_to_token(span: tuple[int, int], starts: list[int], ends: list[int]) -> Span | None:
    """The corpus tokens a character span touches (spaCy's ``alignment_mode="expand"``).

    The gold is token-level, so a system is scored as if it tagged every corpus token its
    span overlaps, as a token tagger would: "Ukraine" inside the corpus token "#Ukraine,"
    tags that token. A span must still cover exactly the gold tokens to count.
    """
    touched = [
        i for i, (s, e) in enumerate(zip(starts, ends, strict=True)) if s < span[1] and e > span[0]
    ]
    return (touched[0], touched[-1] + 1) if touched else None


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "tp": tp, "fp": fp, "fn": fn}


def score_system(tweets: list[tuple[list[str], list[str]]], system: SpanSystem) -> dict[str, float]:
    prepared = [to_text(toks) for toks, _ in tweets]
    predicted = system([t for t, _, _ in prepared])
    tp = fp = fn = 0
    for (_, tags), (_, starts, ends), pred in zip(tweets, prepared, predicted, strict=True):
        gold = bio_spans(tags)
        mapped = {char_to_token(s, starts, ends) for s in pred} - {None}
        hits = {s for s in mapped if s in gold}
        tp += len(hits)
        fp += len(mapped) - len(hits)
        fn += len(gold - hits)
    return prf(tp, fp, fn)


UK_DEV_FILE = Path(__file__).resolve().parents[1] / "data" / "uk_places_dev.jsonl"


HELD_OUT_BATCH = 5  # labelled after every rule was chosen, by two independent annotators


def _uk_dev_rows(path: Path, batches: Collection[int] | None) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [r for r in rows if batches is None or r["batch"] in batches]


def read_uk_dev(
    path: Path = UK_DEV_FILE,
    datasets: Path | None = None,
    batches: Collection[int] | None = None,
    field: str = "places",
) -> list[tuple[str, list[str]]]:
    """The project's UK place dev set: (tweet text, its place names as written), or with
    ``field="forces"`` (tweet text, the police forces whose areas those places lie in).

    1,079 SemEval 2013-2016 tweets with a UK cue word (UK, BBC, NHS, Tory, £, mum, mate,
    pub...), sampled with fixed seeds in five batches, none of them in the Broad Twitter
    Corpus, each labelled in two independent passes under ``nlp/data/uk_places_guide.md``
    and adjudicated (see ``docs/analysts/location.md``). ``batches`` keeps only those
    batches. The file holds tweet ids, not text: the text is read from
    ``semeval2017_task4A`` as the training loader reads it.
    """
    from nlp.training.data import datasets_dir, unpack_semeval

    root = (datasets or datasets_dir()) / "semeval2017_task4A"
    texts: dict[tuple[str, str], str] = {}
    items = _uk_dev_rows(path, batches)
    for name in sorted({item["file"] for item in items}):
        for line in (root / name).read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) >= 3:
                texts.setdefault((name, parts[0]), unpack_semeval("\t".join(parts[2:])))
    return [(texts[(item["file"], item["id"])], item.get(field, [])) for item in items]


def _place_key(name: str) -> str:
    name = re.sub(r"^(?:the|The)\s+", "", name.strip().lstrip("#"))
    if not name.endswith(".K."):  # "U.K." keeps its last full stop
        name = re.sub(r"(?:'s|’s|[.,:;!?)(\]\[-])+$", "", name)
    return name.strip()


def compare_names(gold: Iterable[list[str]], found: Iterable[list[str]]) -> dict[str, float]:
    """P/R/F1 of ``found`` against ``gold`` place names per text, compared as written
    after dropping a leading "the" or "#" and trailing punctuation or "'s"."""
    tp = fp = fn = 0
    for wanted_names, found_names in zip(gold, found, strict=True):
        wanted = Counter(_place_key(g) for g in wanted_names)
        got = Counter(_place_key(f) for f in found_names)
        hits = sum((got & wanted).values())
        tp += hits
        fp += sum(got.values()) - hits
        fn += sum(wanted.values()) - hits
    return prf(tp, fp, fn)


def score_names(items: list[tuple[str, list[str]]], system: SpanSystem) -> dict[str, float]:
    """A system's place names against the UK dev set's (it has no token layer)."""
    texts = [text for text, _ in items]
    predicted = system(texts)
    found = [[t[a:b] for a, b in spans] for t, spans in zip(texts, predicted, strict=True)]
    return compare_names([gold for _, gold in items], found)


def uk_dev_agreement(
    path: Path = UK_DEV_FILE, batches: Collection[int] | None = None
) -> dict[str, float]:
    """Agreement between the UK dev set's two labelling passes, as P/R/F1 of the second
    pass against the first (F1 is symmetric)."""
    items = _uk_dev_rows(path, batches)
    return compare_names([i["first_pass"] for i in items], [i["second_pass"] for i in items])


def score_forces(items: list[tuple[str, list[str]]], geoparser: Any = None) -> dict[str, int]:
    """Force assignment on real tweets: each text's ``force_area`` from the geoparser
    against the forces its labelled places lie in. A text with labelled forces counts as
    ``right`` (the force is one of them), ``wrong`` or ``none``; a text without counts as
    ``no_force`` or ``force_without_place`` (a force from a name that is not a UK place
    in one force's area: a club, a surname, "Wales")."""
    from bluelamp.post import Post, SourceRef
    from nlp.base import NlpDoc
    from nlp.geo.geoparser import STOCK_NER, Geoparser, GeoparserConfig

    gp = geoparser or Geoparser(GeoparserConfig(ner=STOCK_NER))
    when = datetime(2016, 1, 1, tzinfo=UTC)
    docs = [
        NlpDoc.of(
            Post(
                id=f"twitter:ukdev{i}",
                platform="twitter",
                native_id=f"ukdev{i}",
                text=text,
                created_at=when,
                source=SourceRef(name="uk-dev"),
            )
        )
        for i, (text, _) in enumerate(items)
    ]
    gp(docs)
    counts = dict.fromkeys(("right", "wrong", "none", "no_force", "force_without_place"), 0)
    for doc, (_, forces) in zip(docs, items, strict=True):
        got = doc.post.enrichment.force_area
        if forces:
            counts["right" if got in forces else "wrong" if got else "none"] += 1
        else:
            counts["force_without_place" if got else "no_force"] += 1
    return counts


def spacy_sm_system() -> SpanSystem:
    from nlp.geo.geoparser import PLACE_LABELS, STOCK_NER, load_spacy

    nlp = load_spacy(STOCK_NER)

    def run(texts: list[str]) -> list[list[tuple[int, int]]]:
        return [
            [(e.start_char, e.end_char) for e in doc.ents if e.label_ in PLACE_LABELS]
            for doc in nlp.pipe(texts, batch_size=256)
        ]

    return run


def geoparser_system() -> SpanSystem:
    """The geoparser with the stock en_core_web_sm NER (the pre-tweet-NER baseline)."""
    from nlp.geo.geoparser import STOCK_NER, Geoparser, GeoparserConfig

    return Geoparser(GeoparserConfig(ner=STOCK_NER)).place_spans


def tweet_geoparser_system(model_dir: Path | None = None) -> SpanSystem:
    """The geoparser with the trained tweet NER (default: ``nlp/models/tweet_ner``)."""
    from nlp.geo.geoparser import TWEET_NER_DIR, Geoparser, GeoparserConfig

    return Geoparser(GeoparserConfig(ner=model_dir or TWEET_NER_DIR)).place_spans


def default_systems() -> dict[str, SpanSystem]:
    from nlp.geo.geoparser import tweet_ner_meta

    systems = {"spacy_sm": spacy_sm_system(), "geoparser": geoparser_system()}
    if tweet_ner_meta() is not None:
        systems["geoparser + tweet NER"] = tweet_geoparser_system()
    return systems


def evaluate_location(
    section_files: Iterable[Path | str],
    systems: dict[str, SpanSystem] | None = None,
) -> dict[str, dict[str, dict[str, float]]]:
    """{section: {system: {precision, recall, f1, tp, fp, fn}}} for LOC, exact span match."""
    if systems is None:
        systems = default_systems()
    out: dict[str, dict[str, dict[str, float]]] = {}
    for path in section_files:
        tweets = read_conll(Path(path))
        out[Path(path).stem] = {name: score_system(tweets, fn) for name, fn in systems.items()}
    return out


def format_table(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    lines = [
        "| section | system | P | R | F1 | TP | FP | FN |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for section, systems in results.items():
        for name, m in systems.items():
            lines.append(
                f"| {section} | {name} | {m['precision']:.3f} | {m['recall']:.3f} | "
                f"{m['f1']:.3f} | {m['tp']} | {m['fp']} | {m['fn']} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0]) if args else DEFAULT_DIR
    files = [root / f"{s}.conll" for s in SECTIONS]
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        print(f"missing Broad Twitter Corpus files: {missing}", file=sys.stderr)
        return 2
    systems = default_systems()
    print(format_table(evaluate_location(files, systems)))
    if UK_DEV_FILE.exists():
        uk = read_uk_dev()
        print(
            f"\nUK dev set ({len(uk)} tweets, {sum(len(g) for _, g in uk)} places; dev, not test):"
        )
        held = read_uk_dev(batches={HELD_OUT_BATCH})
        print(
            format_table(
                {
                    "uk_dev": {n: score_names(uk, fn) for n, fn in systems.items()},
                    f"uk_dev batch {HELD_OUT_BATCH} only": {
                        n: score_names(held, fn) for n, fn in systems.items()
                    },
                }
            )
        )
        print(
            f"Batch {HELD_OUT_BATCH} ({len(held)} tweets) was labelled after every rule was"
            " chosen. Labelling agreement, second pass against first (name-level F1; the set"
            " holds the adjudicated names):"
        )
        for label, batches in (("batches 1-2", {1, 2}), ("batches 3-5", {3, 4, 5})):
            a = uk_dev_agreement(batches=batches)
            print(
                f"  {label}: F1 {a['f1']:.3f} ({a['tp']} names agreed, {a['fn']} first pass"
                f" only, {a['fp']} second pass only)"
            )
        forces = read_uk_dev(field="forces")
        c = score_forces(forces)
        named = c["right"] + c["wrong"] + c["none"]
        print(
            f"\nForce area on the same tweets (the geoparser's force_area against the forces"
            f" its labelled places lie in): of {named} tweets naming a place inside one"
            f" force, {c['right']} right, {c['wrong']} wrong, {c['none']} none; of"
            f" {c['no_force'] + c['force_without_place']} others, {c['force_without_place']}"
            " got a force anyway"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
