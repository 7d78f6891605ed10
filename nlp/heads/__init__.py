"""Classifier heads on the shared encoder's embedding (int8 ONNX at run time).

Each head is a small feed-forward net (logistic regression is the one-layer
case) stored as an int8 ONNX file ``nlp/models/<name>.onnx`` and served by
onnxruntime, beside a JSON model card ``<name>.json`` that says what trained,
tuned and measured it. The components read ``doc.features["embedding"]`` (written by
:class:`nlp.encoder.EncoderComponent`), so one encoder pass feeds every head.
"""

from nlp.heads.components import AbuseHead, SentimentHead
from nlp.heads.model import MODELS_DIR, HeadModel, load_head
from nlp.heads.onnx_io import OnnxHead

__all__ = ["MODELS_DIR", "AbuseHead", "HeadModel", "OnnxHead", "SentimentHead", "load_head"]
