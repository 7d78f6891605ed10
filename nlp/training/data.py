"""The labelled datasets (read from ``../shared/datasets``) and an embedding cache.

Split rules (``shared/datasets/README.md``): the SemEval 2013-2016 files train
the sentiment head; ``tweeteval/sentiment/val`` tunes it and
``tweeteval/sentiment/test`` (= SemEval-2017 test) only measures it. The
offensive and hate heads train on their TweetEval ``train``, tune on ``val``
and are measured on ``test``. A tweet in a tuning or test split whose near twin
(:func:`near_duplicates`) is a training tweet is a leak: training drops the twin,
or, where the encoder has already trained on it (sentiment val), the tuning split
drops the tweet (:func:`sentiment_splits`). Embeddings are cached under
``$BLUELAMP_EMBED_CACHE`` (default ``/tmp/bluelamp-embeddings``), never in
the repository.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from nlp.encoder import ENCODER_VERSION, NORMALISATION, Encoder, normalise_for_model

REPO = Path(__file__).resolve().parents[2]
SENTIMENT_LABELS = ("negative", "neutral", "positive")  # TweetEval's order (mapping.txt)

# Every SemEval-2017 Task 4A file here is from 2013-2016; none is the 2017 test
# set that TweetEval uses as its sentiment test, so all may train.
SEMEVAL_TRAIN_FILES = (
    "twitter-2013train-A.txt",
    "twitter-2013dev-A.txt",
    "twitter-2013test-A.txt",
    "twitter-2014test-A.txt",
    "twitter-2014sarcasm-A.txt",
    "twitter-2015train-A.txt",
    "twitter-2015test-A.txt",
    "twitter-2016train-A.txt",
    "twitter-2016dev-A.txt",
    "twitter-2016devtest-A.txt",
    "twitter-2016test-A.txt",
)

Labels = npt.NDArray[np.int64]
# The 2013 and 2015 SemEval files spell some characters as literal escapes
# ("don\\u2019t", "\\u002c"); the tweets themselves had the characters.
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


# Many SemEval tweets (37 % of each year's test file, 19 % of TweetEval's sentiment
# val, 0.3 % of its test) are wrapped in CSV quotes, with inner quotes written \\"" or "";
# some were cut short after the opening quote. The wrapper is packaging, not tweet.
_CSV_QUOTE = re.compile(r'\\?"{2,}|\\"')


def _unescape(match: re.Match[str]) -> str:
    return chr(int(match.group(1), 16))


def unpack_semeval(text: str) -> str:
    """A SemEval-packaged tweet as it was written: escapes decoded, CSV wrapper removed.

    ``"He said \\""hi\\"" twice"`` -> ``He said "hi" twice``; a tweet that only
    quotes someone (``"Papa you need a hat" thus said...``) keeps its quotes.
    """
    text = _ESCAPE.sub(_unescape, text).strip()
    if text.startswith('"') and len(text) > 1:
        closed = text.endswith('"')
        inner = text[1:-1] if closed else text[1:]
        if '"' not in _CSV_QUOTE.sub("", inner):
            text = inner
    return _CSV_QUOTE.sub('"', text).strip()


def _read_semeval_text(text: str, normalisation: int) -> str:
    if normalisation >= 3:
        return unpack_semeval(text)
    return (_ESCAPE.sub(_unescape, text) if normalisation >= 2 else text).strip()


class DatasetsMissing(FileNotFoundError):
    pass


def datasets_dir() -> Path:
    path = Path(os.environ.get("BLUELAMP_DATASETS", REPO.parent / "shared" / "datasets"))
    if not path.is_dir():
        raise DatasetsMissing(f"datasets folder {path} not found (set BLUELAMP_DATASETS)")
    return path


def load_semeval(
    files: tuple[str, ...] = SEMEVAL_TRAIN_FILES, *, normalisation: int = NORMALISATION
) -> tuple[list[str], Labels]:
    """The de-duplicated tweets and labels.

    ``normalisation`` 1 reads them as the encoder's first two stages did:
    escapes left as written, de-duplicated under normalisation 1; 2 decodes
    the escapes only, as the fourth stage did; 3 also removes the CSV wrapper.
    """
    texts: list[str] = []
    labels: list[int] = []
    seen: set[str] = set()
    for name in files:
        for line in (datasets_dir() / "semeval2017_task4A" / name).read_text("utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) < 3 or parts[1] not in SENTIMENT_LABELS:
                continue
            text = "\t".join(parts[2:])
            text = _read_semeval_text(text, normalisation)
            key = dedupe_key(text, normalisation)
            if not text or key in seen:  # the 2013-2016 files repeat some tweets
                continue
            seen.add(key)
            texts.append(text)
            labels.append(SENTIMENT_LABELS.index(parts[1]))
    return texts, np.asarray(labels, dtype=np.int64)


def load_tweeteval(
    task: str, split: str, *, normalisation: int = NORMALISATION
) -> tuple[list[str], Labels]:
    """One TweetEval split; the sentiment files are SemEval's and read like them."""
    folder = datasets_dir() / "tweeteval" / task
    texts = (folder / f"{split}_text.txt").read_text("utf-8").split("\n")
    labels = (folder / f"{split}_labels.txt").read_text("utf-8").split()
    texts = texts[: len(labels)]
    if len(texts) != len(labels):
        raise ValueError(f"{task}/{split}: {len(texts)} texts but {len(labels)} labels")
    if task == "sentiment" and normalisation >= 3:
        texts = [unpack_semeval(t) for t in texts]
    return [t.strip() for t in texts], np.asarray([int(x) for x in labels], dtype=np.int64)


def dedupe_key(text: str, normalisation: int = NORMALISATION) -> str:
    return " ".join(normalise_for_model(text, normalisation).casefold().split())


def decontaminate(
    texts: list[str], *held_out: list[str], normalisation: int = NORMALISATION
) -> npt.NDArray[np.int64]:
    """Indices of training texts not identical (after normalisation) to a held-out text."""
    banned = {dedupe_key(t, normalisation) for group in held_out for t in group}
    return np.asarray(
        [i for i, t in enumerate(texts) if dedupe_key(t, normalisation) not in banned],
        dtype=np.int64,
    )


# Two tweets whose word-count TF-IDF vectors have a cosine of at least this are the same
# tweet for split purposes: it catches a retweet, a link or a handle added or removed, a
# quote mark or trailing "..." (TweetEval's sentiment val has 705 such twins of SemEval
# training tweets that exact matching misses). TweetEval val tweets with a twin among the
# SemEval training tweets: 713 at 0.7, 705 at 0.8, 699 at 0.9; 2017 test tweets: 1 at
# 0.7, 0 at 0.8.
NEAR_DUPLICATE_COSINE = 0.8


def near_duplicates(
    texts: list[str],
    others: list[str],
    *,
    threshold: float = NEAR_DUPLICATE_COSINE,
    normalisation: int = NORMALISATION,
) -> npt.NDArray[np.bool_]:
    """For each of ``texts``, whether some text in ``others`` is nearly the same tweet.

    Texts are compared as TF-IDF vectors of their normalised words (idf from both
    lists, so counts shift a little with what else is passed), by cosine;
    ``threshold`` is inclusive. Training only (scikit-learn). Known weakness: texts
    that are mostly handles ("@user @user ... cute") count as twins of each other;
    they carry nothing to learn, so dropping them costs nothing.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    out = np.zeros(len(texts), dtype=np.bool_)
    if not texts or not others:
        return out
    vectoriser = TfidfVectorizer(
        preprocessor=lambda t: normalise_for_model(t, normalisation).casefold(),
        token_pattern=r"(?u)\b\w+\b",  # noqa: S106 (a regex, not a password)
        dtype=np.float32,
    )
    vectoriser.fit(texts + others)
    right = vectoriser.transform(others).T.tocsc()
    step = 500  # common words make the product nearly dense: ~250 MB per step at 48k
    for start in range(0, len(texts), step):
        sims = vectoriser.transform(texts[start : start + step]) @ right
        out[start : start + step] = sims.max(axis=1).toarray().ravel() >= threshold - 1e-6
    return out


@dataclass(frozen=True)
class SentimentSplits:
    """SemEval 2013-2016 to train on and the part of TweetEval's val that can tune.

    TweetEval's sentiment val was sampled from the same SemEval files: after exact
    de-duplication, 705 of its 2,000 tweets still have a near-identical twin among
    the training tweets (a link or handle added, a quote mark). A model that has
    trained on the twin scores them from memory (the shipped encoder: val
    macro-recall 0.87 on them, 0.76 on the rest), so they are dropped from val,
    and every tuning decision reads the remaining tweets only.
    """

    texts: list[str]
    labels: Labels
    val_texts: list[str]
    val_labels: Labels
    val_twins: int
    test_twins: int  # training tweets dropped as twins of test tweets


def sentiment_splits(
    normalisation: int = NORMALISATION,
    *,
    drop_val_twins: bool = True,
    files: tuple[str, ...] = SEMEVAL_TRAIN_FILES,
) -> SentimentSplits:
    """The splits; ``drop_val_twins=False`` keeps all 2,000 val tweets (as the shipped
    encoder's fine-tuning stages read them), for rebuilding those stages exactly."""
    texts, labels = load_semeval(files, normalisation=normalisation)
    val_texts, y_val = load_tweeteval("sentiment", "val", normalisation=normalisation)
    test_texts, _ = load_tweeteval("sentiment", "test", normalisation=normalisation)
    keep = decontaminate(texts, val_texts, test_texts, normalisation=normalisation)
    train = [texts[i] for i in keep]
    # No training tweet is a near twin of a test tweet (checked: 0 at cosine 0.8, 1 at
    # 0.7), and the rule holds for any data put here later.
    clean = ~near_duplicates(train, test_texts, normalisation=normalisation)
    test_twins = int((~clean).sum())
    keep = keep[clean]
    train = [texts[i] for i in keep]
    twins = near_duplicates(val_texts, train, normalisation=normalisation)
    val_twins = int(twins.sum())
    if not drop_val_twins:
        twins[:] = False
    return SentimentSplits(
        texts=train,
        labels=labels[keep],
        val_texts=[t for t, twin in zip(val_texts, twins, strict=True) if not twin],
        val_labels=y_val[~twins],
        val_twins=val_twins,
        test_twins=test_twins,
    )


def subsample(n: int, limit: int | None, seed: int) -> npt.NDArray[np.int64]:
    """A seeded random subset of ``range(n)`` of at most ``limit`` (sorted), or all."""
    if limit is None or limit >= n:
        return np.arange(n, dtype=np.int64)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


_encoder: Encoder | None = None


def embed(texts: list[str], *, view: str = "sentence", threads: int = 2) -> npt.NDArray[np.float32]:
    """The ``sentence`` or ``policing`` view of ``texts``, cached by content and encoder."""
    global _encoder
    if view not in ("sentence", "policing"):
        raise ValueError(f"unknown view {view!r}")
    digest = hashlib.sha256(f"{ENCODER_VERSION}|{view}".encode())
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass") + b"\x00")
    cache = Path(os.environ.get("BLUELAMP_EMBED_CACHE", "/tmp/bluelamp-embeddings"))  # noqa: S108
    path = cache / f"{digest.hexdigest()[:24]}.npy"
    if path.is_file():
        cached: npt.NDArray[np.float32] = np.load(path)
        return cached
    if _encoder is None:
        _encoder = Encoder(threads=threads)
    sentence, policing = _encoder.encode_views(texts)
    vectors = sentence if view == "sentence" else policing
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(path)
    return vectors
