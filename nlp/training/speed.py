"""Encoder (and heads) throughput on the seeded demo stream.

python -m nlp.training.speed [--count 1000] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

from bluelamp.demo.loader import demo_posts
from nlp.encoder import Encoder, EncoderComponent
from nlp.pipeline import Pipeline


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    posts = demo_posts(args.count, seed=7)
    t0 = time.perf_counter()
    encoder = Encoder(threads=args.threads, batch_size=args.batch_size)
    load_s = time.perf_counter() - t0
    encoder.encode([p.text for p in posts[:32]])  # warm-up
    t0 = time.perf_counter()
    encoder.encode([p.text for p in posts])
    enc_s = time.perf_counter() - t0
    components: list[object] = [EncoderComponent(encoder)]
    try:
        from nlp.heads import AbuseHead, SentimentHead

        components += [SentimentHead(), AbuseHead()]
    except (ImportError, FileNotFoundError):
        pass
    pipeline = Pipeline(components)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    pipeline.enrich(posts)
    pipe_s = time.perf_counter() - t0
    names = "+".join(pipeline.versions)
    print(f"encoder load {load_s:.2f}s (threads={args.threads}, batch={args.batch_size})")
    print(f"encode only : {args.count / enc_s:7.1f} posts/s ({enc_s:.2f}s for {args.count})")
    print(f"{names}: {args.count / pipe_s:7.1f} posts/s ({pipe_s:.2f}s)")


if __name__ == "__main__":
    main()
