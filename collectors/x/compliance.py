"""X batch compliance: which of the posts we collected were deleted since.

X's developer agreement requires deleted posts to be deleted from our store
too. Each X source keeps, in its own cursor, the ids it collected in the last
``window_days`` (at most ``max_ids``, newest first): they are saved with the
cursor only after the posts are in the spool, so the record never names a
post we did not keep. Every ``interval_s`` (daily by default) one job runs:

1. ``POST /2/compliance/jobs`` ``{"type": "tweets"}``;
2. ``PUT`` the ids, one per line, to the job's ``upload_url`` (a signed
   storage URL on another host: the bearer token is not sent there);
3. on each later poll, ``GET /2/compliance/jobs/:id`` until ``complete``
   (or ``failed``/``expired``, reported as a warning; the next interval
   tries again);
4. ``GET`` the ``download_url``: JSON lines ``{"id", "action": "delete",
   "reason", ...}``; each becomes a deletion ``x:<id>`` for the spool.

The job is a small state machine in the cursor rather than a wait inside one
poll, because X takes minutes to hours to finish a job. A failure at any step
is a warning and leaves the state as it was, so the step is retried and no
deletion is lost (a repeated deletion is harmless).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bluelamp.post import make_id
from collectors.base import CollectorError
from collectors.rss import safe_url
from collectors.x.api import XApi, XApiError
from collectors.x.config import ComplianceOptions
from collectors.x.mapping import PLATFORM, id_time

JOBS_PATH = "/2/compliance/jobs"
_GIVE_UP_AFTER = timedelta(days=2)  # a job this old that is still pending is abandoned


def remember_ids(
    known: Iterable[str], new: Iterable[str], options: ComplianceOptions, now: datetime
) -> list[str]:
    """The ids to check later: newest first, within the window, at most ``max_ids``."""
    oldest = now - timedelta(days=options.window_days)
    merged = sorted(set(known) | set(new), key=int, reverse=True)
    return [i for i in merged if id_time(i) >= oldest][: options.max_ids]


@dataclass
class ComplianceOutcome:
    deletes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class Compliance:
    def __init__(self, api: XApi, options: ComplianceOptions) -> None:
        self.api = api
        self.options = options

    def due(self, state: dict[str, Any], now: datetime) -> bool:
        """Whether :meth:`step` has anything to do (a job to check, or one to start)."""
        if not self.options.enabled:
            return False
        if state.get("job"):
            return True
        last = _time(state.get("last_run_at"))
        return last is None or now - last >= timedelta(seconds=self.options.interval_s)

    async def step(
        self, state: dict[str, Any], ids: list[str], now: datetime
    ) -> tuple[dict[str, Any], ComplianceOutcome]:
        """Advance the job by what can be done now; returns the new state (the old one is
        not changed) and any deletions. Errors become warnings."""
        state = dict(state)
        outcome = ComplianceOutcome()
        if not self.options.enabled:
            return state, outcome
        if state.get("last_run_at") is None and not state.get("job"):
            state["last_run_at"] = now.isoformat()  # the first check is one interval away
            return state, outcome
        try:
            job = state.get("job")
            if job and not job.get("uploaded"):
                job = None  # the upload URL lasts 15 minutes: start afresh
            if not job:
                if not self.due(state, now) or not ids:
                    return state, outcome
                job = await self._start(ids, now)
                state["job"] = job
                state["last_run_at"] = now.isoformat()
            state = await self._check(state, job, now, outcome)
        except CollectorError as exc:
            outcome.warnings.append(f"compliance check not done (retried next poll): {exc}")
        return state, outcome

    async def _start(self, ids: list[str], now: datetime) -> dict[str, Any]:
        name = f"bluelamp-{self.api.source}"[:64]
        document = await self.api.post(JOBS_PATH, {"type": "tweets", "name": name})
        data = document.get("data")
        job_url = self.api.url(JOBS_PATH)
        if not isinstance(data, dict) or not data.get("id"):
            raise XApiError("no job in the answer", source=self.api.source, url=job_url)
        upload = safe_url(data.get("upload_url"))
        download = safe_url(data.get("download_url"))
        if not upload or not download:
            raise XApiError(
                "job has no usable upload_url/download_url", source=self.api.source, url=job_url
            )
        body = ("\n".join(ids) + "\n").encode("ascii")
        await self.api.http.fetch(
            upload, method="PUT", headers={"Content-Type": "text/plain"}, data=body
        )
        return {
            "id": str(data["id"]),
            "download_url": download,
            "created_at": now.isoformat(),
            "uploaded": True,
            "ids": len(ids),
        }

    async def _check(
        self, state: dict[str, Any], job: dict[str, Any], now: datetime, outcome: ComplianceOutcome
    ) -> dict[str, Any]:
        document = await self.api.get(f"{JOBS_PATH}/{job['id']}")
        data = document.get("data")
        status = str(data.get("status")) if isinstance(data, dict) else "unknown"
        if status == "complete":
            download = safe_url(data.get("download_url")) if isinstance(data, dict) else None
            outcome.deletes.extend(await self._results(download or job["download_url"], outcome))
            state["job"] = None
        elif status in ("failed", "expired"):
            outcome.warnings.append(
                f"compliance job {job['id']} {status}; a new one starts after the interval"
            )
            state["job"] = None
        elif now - (_time(job.get("created_at")) or now) > _GIVE_UP_AFTER:
            outcome.warnings.append(f"compliance job {job['id']} still {status}; abandoned")
            state["job"] = None
        return state

    async def _results(self, url: str, outcome: ComplianceOutcome) -> list[str]:
        response = await self.api.http.fetch(url)  # a signed URL: no bearer token
        deletes: list[str] = []
        other = bad = 0
        for number, line in enumerate(response.body.splitlines(), 1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
                post_id = str(event["id"])
                action = str(event.get("action") or "")
                int(post_id)
            except (ValueError, KeyError, TypeError):
                bad += 1
                if bad == 1:
                    outcome.warnings.append(f"compliance result line {number} unreadable; skipped")
                continue
            if action == "delete":
                deletes.append(make_id(PLATFORM, post_id))
            else:
                other += 1  # e.g. scrub_geo: not a deletion
        if other:
            outcome.warnings.append(f"compliance results: {other} non-delete actions ignored")
        return deletes


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
