"""Experiment, not shipped: MiniLM-L6 as a token tagger for place names (BTC PER/LOC/ORG).

    python -m nlp.training.minilm_tagger full [--epochs 3] [--lr 5e-5]
    python -m nlp.training.minilm_tagger top2 [--epochs 5] [--lr 1e-4] [--checkpoint PATH]

Asks whether a transformer tagger would beat the spaCy tweet NER (``train_ner``) as the
geoparser's source of candidate place spans. Same data and split as ``train_ner``
(sections ``e``, ``g``, ``h``; its seeded 10 % dev set); sections ``a``, ``b`` and ``f``
are not read. Each epoch prints dev LOC precision, recall and F1 at entity level, exact
span on the corpus tokens (``nlp.geo.evaluate.bio_spans``). Labels go on each word's
first WordPiece; the tagger predicts BIO over PER/LOC/ORG.

* ``full``: every weight of all-MiniLM-L6-v2 as published, plus a linear tagger. A
  second encoder: it would add about 23 MB int8 to the 40 MB model budget.
* ``top2``: the shipped encoder (``--checkpoint``, its fp32 stage checkpoint) frozen
  up to layer 4, whose output the run-time ONNX graph already gives; copies of its
  layers 5 and 6 are trained with a linear tagger (about 3.5 MB int8).

Results and the decision are in ``train_ner.TAGGER_TRIED`` and
``docs/analysts/location.md``. Needs the training environment (torch, transformers).
"""

from __future__ import annotations

import argparse
import copy
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nlp.encoder import MIDDLE_LAYER, tokenizer_file
from nlp.geo.evaluate import DEFAULT_DIR, bio_spans
from nlp.training.train_ner import SEED, load_split

TAGS = ("O", "B-LOC", "I-LOC", "B-PER", "I-PER", "B-ORG", "I-ORG")
TAG_IDS = {t: i for i, t in enumerate(TAGS)}
IGNORE = -100  # cross-entropy's ignore_index: continuation pieces and special tokens
MAX_LENGTH = 128
BATCH = 16


def align_labels(word_ids: Sequence[int | None], tags: Sequence[str]) -> list[int]:
    """One label per WordPiece: the word's tag on its first piece, IGNORE elsewhere."""
    out: list[int] = []
    seen: set[int] = set()
    for wi in word_ids:
        if wi is None or wi in seen:
            out.append(IGNORE)
        else:
            seen.add(wi)
            out.append(TAG_IDS.get(tags[wi], 0))
    return out


def word_tags(word_ids: Sequence[int | None], piece_tags: Sequence[int], n_words: int) -> list[str]:
    """Word-level tags from per-piece predictions (first piece decides; truncated words: O)."""
    tags = ["O"] * n_words
    seen: set[int] = set()
    for wi, tag in zip(word_ids, piece_tags, strict=True):
        if wi is not None and wi not in seen:
            seen.add(wi)
            tags[wi] = TAGS[tag]
    return tags


def loc_counts(gold: Sequence[str], pred: Sequence[str]) -> tuple[int, int, int]:
    """(tp, fp, fn) of exact LOC spans."""
    g, p = bio_spans(gold), bio_spans(pred)
    return len(g & p), len(p - g), len(g - p)


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def main(argv: list[str] | None = None) -> None:
    import torch  # type: ignore[import-not-found, unused-ignore]
    from tokenizers import Tokenizer
    from transformers import AutoModel  # type: ignore[import-not-found, unused-ignore]

    parser = argparse.ArgumentParser(prog="minilm_tagger")
    parser.add_argument("mode", choices=("full", "top2"))
    parser.add_argument("--epochs", type=int, default=None, help="full: 3, top2: 5")
    parser.add_argument("--lr", type=float, default=None, help="full: 5e-5, top2: 1e-4")
    parser.add_argument("--checkpoint", type=Path, default=Path("var/finetune-s5/best.pt"))
    parser.add_argument("--data", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    full = args.mode == "full"
    epochs = args.epochs or (3 if full else 5)
    lr = args.lr or (5e-5 if full else 1e-4)
    torch.set_num_threads(args.threads)
    torch.manual_seed(SEED)
    rng = random.Random(SEED)

    train_tweets, dev_tweets = load_split(args.data)
    tok = Tokenizer.from_file(str(tokenizer_file()))
    tok.enable_truncation(max_length=MAX_LENGTH)
    encoder: Any = AutoModel.from_pretrained(str(tokenizer_file().parent))
    if not full:
        state = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
        encoder.load_state_dict(state["encoder"])
        encoder.eval()
        for p in encoder.parameters():
            p.requires_grad = False
    top: Any = None
    if not full:
        top = copy.deepcopy(encoder.encoder.layer[MIDDLE_LAYER:])
        for p in top.parameters():  # the copies inherit the frozen flag
            p.requires_grad = True

    def prepare(tweets: list[tuple[list[str], list[str]]]) -> list[dict[str, Any]]:
        items = []
        for words, tags in tweets:
            enc = tok.encode(words, is_pretokenized=True)
            item: dict[str, Any] = {
                "ids": enc.ids,
                "labels": align_labels(enc.word_ids, tags),
                "word_ids": enc.word_ids,
                "tags": tags,
            }
            if not full:  # the frozen bottom runs once; its layer-4 states are cached
                with torch.no_grad():
                    ids = torch.tensor([enc.ids])
                    out = encoder(
                        input_ids=ids,
                        attention_mask=torch.ones_like(ids),
                        output_hidden_states=True,
                    )
                item["h"] = out.hidden_states[MIDDLE_LAYER][0]
            items.append(item)
        return items

    train_items, dev_items = prepare(train_tweets), prepare(dev_tweets)
    head: Any = torch.nn.Linear(encoder.config.hidden_size, len(TAGS))
    trained = list(encoder.parameters()) if full else list(top.parameters())
    optim = torch.optim.AdamW([*trained, *head.parameters()], lr=lr, weight_decay=0.01)

    def logits(batch: list[dict[str, Any]]) -> tuple[Any, Any]:
        width = max(len(b["ids"]) for b in batch)
        pad = [width - len(b["ids"]) for b in batch]
        labels = torch.tensor([b["labels"] + [IGNORE] * n for b, n in zip(batch, pad, strict=True)])
        if full:
            ids = torch.tensor([b["ids"] + [0] * n for b, n in zip(batch, pad, strict=True)])
            mask = (ids != 0).long()
            return head(encoder(input_ids=ids, attention_mask=mask).last_hidden_state), labels
        hidden = torch.stack(
            [torch.nn.functional.pad(b["h"], (0, 0, 0, n)) for b, n in zip(batch, pad, strict=True)]
        )
        # additive attention mask, as BERT's layers take it: 0 keep, very negative for padding
        keep = torch.tensor(
            [[0.0] * len(b["ids"]) + [-1e9] * n for b, n in zip(batch, pad, strict=True)]
        )
        for layer in top:
            hidden = layer(hidden, keep[:, None, None, :])
            hidden = hidden[0] if isinstance(hidden, tuple) else hidden
        return head(hidden), labels

    def evaluate() -> tuple[float, float, float]:
        (encoder if full else top).eval()
        tp = fp = fn = 0
        with torch.no_grad():
            for start in range(0, len(dev_items), 64):
                batch = dev_items[start : start + 64]
                pred = logits(batch)[0].argmax(-1).tolist()
                for b, row in zip(batch, pred, strict=True):
                    tags = word_tags(b["word_ids"], row[: len(b["ids"])], len(b["tags"]))
                    counts = loc_counts(b["tags"], tags)
                    tp, fp, fn = tp + counts[0], fp + counts[1], fn + counts[2]
        return prf(tp, fp, fn)

    print(f"{args.mode}: {len(train_items)} train, {len(dev_items)} dev tweets", flush=True)
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        (encoder if full else top).train()
        rng.shuffle(train_items)
        for start in range(0, len(train_items), BATCH):
            out, labels = logits(train_items[start : start + BATCH])
            loss = torch.nn.functional.cross_entropy(
                out.reshape(-1, len(TAGS)), labels.reshape(-1), ignore_index=IGNORE
            )
            optim.zero_grad()
            loss.backward()
            optim.step()
        p, r, f = evaluate()
        print(
            f"{args.mode} epoch {epoch}: dev LOC P {p:.3f} R {r:.3f} F1 {f:.4f} "
            f"({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
