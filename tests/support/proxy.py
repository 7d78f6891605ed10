"""A loopback TCP proxy in front of a real engine, for injecting outages.

It forwards bytes untouched to the real server; ``down()`` closes the
listener and every live connection (connection refused, like a dead engine),
``fail_next(n, status)`` answers the next ``n`` HTTP requests itself with
``status`` (429/503, as an overloaded engine or a load balancer does).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading


class FaultProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._fail: list[int] = []
        self.failed_requests = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        self.up()
        return self

    def _call(self, coro: object) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)  # type: ignore[arg-type]

    def up(self) -> None:
        self._call(self._listen())

    def down(self) -> None:
        self._call(self._close())

    def fail_next(self, count: int, status: int) -> None:
        """Answer the next ``count`` connections' request with ``status``.

        Live keep-alive connections are dropped first, so the client's next
        request really arrives on a new connection and meets the fault.
        """
        self._fail.extend([status] * count)
        self._call(self._drop_connections())

    async def _drop_connections(self) -> None:
        for writer in list(self._writers):
            writer.close()

    def stop(self) -> None:
        self.down()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
            self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            if self._fail:
                status = self._fail.pop(0)
                await self._answer(reader, writer, status)
                return
            up_reader, up_writer = await asyncio.open_connection(*self.target)
            self._writers.add(up_writer)
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        except OSError:
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _answer(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, status: int
    ) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        if length:
            await reader.readexactly(length)
        self.failed_requests += 1
        body = b'{"error":{"type":"injected_fault","reason":"proxy"},"status":%d}' % status
        writer.write(
            b"HTTP/1.1 %d Injected\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\nretry-after: 0\r\nconnection: close\r\n\r\n%s"
            % (status, len(body), body)
        )
        await writer.drain()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(OSError):
            writer.close()
