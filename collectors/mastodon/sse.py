"""Server-sent events decoding for the Mastodon streaming API."""

from __future__ import annotations

_MAX_EVENT_BYTES = 1024 * 1024  # a status is a few KB; anything this big is refused


class SseDecoder:
    """Server-sent events from bytes (the WHATWG event-stream rules Mastodon uses).

    Hand-written because it is small and the stream needs what SSE client
    libraries hide: a per-event size cap and reconnects that we control (each
    reconnect must first backfill over REST)."""

    def __init__(self, max_event_bytes: int = _MAX_EVENT_BYTES) -> None:
        self._buffer = b""
        self._event = ""
        self._data: list[str] = []
        self._size = 0
        self._oversized = False
        self.max_event_bytes = max_event_bytes
        self.dropped = 0  # events over the size cap

    def feed(self, chunk: bytes) -> list[tuple[str, str]]:
        self._buffer += chunk
        events: list[tuple[str, str]] = []
        while True:
            cut = self._buffer.find(b"\n")
            if cut < 0:
                if len(self._buffer) > self.max_event_bytes:  # one endless line
                    self._buffer = b""
                    self._oversized = True
                break
            raw, self._buffer = self._buffer[:cut], self._buffer[cut + 1 :]
            line = raw.rstrip(b"\r").decode("utf-8", errors="replace")
            if not line:
                if self._oversized:
                    self.dropped += 1
                elif self._data:
                    events.append((self._event or "message", "\n".join(self._data)))
                self._event, self._data, self._size, self._oversized = "", [], 0, False
                continue
            if line.startswith(":"):
                continue  # a comment: Mastodon's heartbeat
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                self._event = value
            elif name == "data":
                self._size += len(raw)
                if self._size > self.max_event_bytes:
                    self._oversized, self._data = True, []
                elif not self._oversized:
                    self._data.append(value)
        return events
