"""The NLP pipeline: components over batches, cheapest first.

Model work is CPU-bound, so :meth:`Pipeline.enrich_async` runs it in an
executor and never blocks the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import Executor

from bluelamp.post import Post
from nlp.base import Component, NlpDoc


class PipelineError(ValueError):
    """The components do not fit together (a read that nothing writes)."""


class Pipeline:
    def __init__(self, components: Sequence[Component]) -> None:
        self.components = list(components)
        self._check_contracts()

    def _check_contracts(self) -> None:
        available = {"text", "post"}
        for component in self.components:
            missing = [
                r for r in component.reads if r not in available and not r.startswith("post.")
            ]
            if missing:
                raise PipelineError(
                    f"component {component.name!r} reads {missing}, which no earlier "
                    f"component writes (order: {[c.name for c in self.components]})"
                )
            available.update(component.writes)

    @property
    def versions(self) -> dict[str, str]:
        return {c.name: c.version for c in self.components}

    def enrich(self, posts: Sequence[Post]) -> list[Post]:
        """Run every component over the batch; returns the same posts, enriched."""
        docs = [NlpDoc.of(post) for post in posts]
        for component in self.components:
            batch = [d for d in docs if not (component.costly and d.skip_costly)]
            if not batch:
                continue
            component(batch)
            for doc in batch:
                doc.post.enrichment.models[component.name] = component.version
        return [d.post for d in docs]

    async def enrich_async(
        self, posts: Sequence[Post], executor: Executor | None = None
    ) -> list[Post]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, self.enrich, posts)
