from __future__ import annotations

import threading
from typing import ClassVar

import pytest

from nlp.base import NlpDoc
from nlp.pipeline import Pipeline, PipelineError
from tests.indexer.helpers import make_post


class Marker:
    name: ClassVar[str] = "marker"
    version: ClassVar[str] = "m1"
    reads: ClassVar[tuple[str, ...]] = ("text",)
    writes: ClassVar[tuple[str, ...]] = ("features.marker",)
    costly: ClassVar[bool] = False

    def __call__(self, docs: list[NlpDoc]) -> None:
        for doc in docs:
            doc.features["marker"] = doc.text.upper()
            doc.skip_costly = "skip" in doc.text


class Costly:
    name: ClassVar[str] = "costly"
    version: ClassVar[str] = "c7"
    reads: ClassVar[tuple[str, ...]] = ("features.marker",)
    writes: ClassVar[tuple[str, ...]] = ("enrichment.neighbourhood",)
    costly: ClassVar[bool] = True
    seen_threads: ClassVar[list[str]] = []

    def __call__(self, docs: list[NlpDoc]) -> None:
        self.seen_threads.append(threading.current_thread().name)
        for doc in docs:
            doc.post.enrichment.neighbourhood = doc.features["marker"][:10]


def test_components_run_in_order_and_record_their_versions() -> None:
    posts = [make_post(1, text="kn\u200bife in the park"), make_post(2, text="skip me")]
    Pipeline([Marker(), Costly()]).enrich(posts)
    assert posts[0].enrichment.neighbourhood == "KNIFE IN T"  # zero-width removed for models
    assert posts[0].text == "kn\u200bife in the park"  # the post itself is untouched
    assert posts[0].enrichment.models == {"marker": "m1", "costly": "c7"}
    # Triage marked the second post: costly components skip it and record nothing.
    assert posts[1].enrichment.neighbourhood is None
    assert posts[1].enrichment.models == {"marker": "m1"}


def test_a_read_that_nothing_writes_is_refused() -> None:
    with pytest.raises(PipelineError, match=r"reads \['features.marker'\]"):
        Pipeline([Costly(), Marker()])


async def test_async_enrichment_runs_off_the_event_loop() -> None:
    Costly.seen_threads.clear()
    posts = [make_post(3, text="hello")]
    loop_thread = threading.current_thread().name
    await Pipeline([Marker(), Costly()]).enrich_async(posts)
    assert Costly.seen_threads and Costly.seen_threads[0] != loop_thread
    assert posts[0].enrichment.neighbourhood == "HELLO"
