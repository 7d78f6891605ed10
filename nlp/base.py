"""What every NLP component shares: the document it works on and its contract.

A component declares what it reads and writes and carries a version; the
pipeline stores ``enrichment.models[name] = version`` on every post a
component ran on, so any figure can be traced to the model that made it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from bluelamp.post import Post
from bluelamp.text import strip_invisible


@dataclass
class NlpDoc:
    """A post in flight through the pipeline, with scratch space for components."""

    post: Post
    # Text for models: invisible characters (zero-width, bidi) removed so that
    # "kn\u200bife" is still "knife" to a matcher. The post's own text is untouched.
    text: str = ""
    # Set by triage: the post is about none of the configured areas or topics,
    # so the costly components skip it.
    skip_costly: bool = False
    # Intermediate results shared between components, e.g. "embedding",
    # "spacy_doc", "triage_hits". Never stored.
    features: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, post: Post) -> NlpDoc:
        return cls(post=post, text=strip_invisible(post.text))


@runtime_checkable
class Component(Protocol):
    """One step of the pipeline. ``__call__`` handles a whole batch in place."""

    name: ClassVar[str]
    version: ClassVar[str]
    reads: ClassVar[tuple[str, ...]]  # e.g. ("text",), ("features.embedding",)
    writes: ClassVar[tuple[str, ...]]  # e.g. ("language",), ("enrichment.places",)
    costly: ClassVar[bool]  # skipped for documents that triage marked skip_costly

    def __call__(self, docs: list[NlpDoc]) -> None: ...
