"""``bluelamp enrich IN OUT``: the whole pipeline over an import file, offline.

For batch work on exported data and for anyone checking the models: no
engine, no spool; one enriched Post (JSON) per line out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from bluelamp.post import Post
from bluelamp.spool import Reject
from collectors.file_import import read_records
from nlp.pipeline import Pipeline

BATCH = 256


@dataclass
class EnrichResult:
    read: int = 0
    written: int = 0
    rejects: list[Reject] = field(default_factory=list)


def enrich_file(
    source: Path,
    target: Path,
    pipeline: Pipeline,
    *,
    on_record: Callable[[int], None] | None = None,
    on_reject: Callable[[Reject], None] | None = None,
) -> EnrichResult:
    result = EnrichResult()
    tmp = target.with_name(target.name + ".partial")
    with tmp.open("w", encoding="utf-8") as out:
        batch: list[Post] = []
        for record in read_records(source):
            result.read += 1
            if record.post is None:
                reject = Reject(record.number, record.line, record.error or "invalid")
                result.rejects.append(reject)
                if on_reject:
                    on_reject(reject)
            else:
                batch.append(record.post)
            if len(batch) >= BATCH:
                result.written += _flush(pipeline, batch, out)
                batch = []
            if on_record:
                on_record(1)
        result.written += _flush(pipeline, batch, out)
    tmp.replace(target)  # never leave a half-written file under the real name
    return result


def _flush(pipeline: Pipeline, batch: list[Post], out: TextIO) -> int:
    if not batch:
        return 0
    for post in pipeline.enrich(batch):
        out.write(post.model_dump_json() + "\n")
    return len(batch)
