"""Classifier heads on the shared encoder's embedding (plain numpy at run time).

Each head is a small feed-forward net (logistic regression is the one-layer
case) stored as float32 arrays in ``nlp/models/<name>.npz`` beside a JSON model
card ``<name>.json`` that says what trained, tuned and measured it. The
components read ``doc.features["embedding"]`` (written by
:class:`nlp.encoder.EncoderComponent`), so one encoder pass feeds every head.
"""

from nlp.heads.components import AbuseHead, SentimentHead
from nlp.heads.model import MODELS_DIR, HeadModel, load_head

__all__ = ["MODELS_DIR", "AbuseHead", "HeadModel", "SentimentHead", "load_head"]
