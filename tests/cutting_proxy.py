"""A loopback TCP proxy that cuts a connection after so many bytes from the server.

It relays raw bytes (TLS passes through untouched) between a client and a real server; the
first ``cuts`` connections are dropped once ``cut_after`` bytes have gone from the server to
the client, the later ones are relayed whole. Tests use it to drop a download in the middle.
With ``pace`` (bytes per second) it relays the server's bytes no faster than that: a slow
link, so that a test can catch a download while it runs. With ``stall`` the connection is not
cut at ``cut_after`` but goes silent, open, until the proxy closes: a server that hangs.
``relayed`` counts the bytes that went from the server to the client, over all connections.
``hang_up`` stops listening and cuts every connection relayed: a server gone away.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType


class CuttingProxy:
    def __init__(
        self,
        target: tuple[str, int],
        *,
        cut_after: int = 0,
        cuts: int = 1,
        pace: int | None = None,
        stall: bool = False,
    ) -> None:
        self.target = target
        self.cut_after = cut_after
        self.cuts_left = cuts if cut_after else 0
        self.pace = pace
        self.stall = stall
        self.relayed = 0
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.host, self.port = self._listener.getsockname()[:2]
        self._lock = threading.Lock()
        self._closed = False
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._sockets: list[socket.socket] = []

    def __enter__(self) -> CuttingProxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._closed = True
        self._stopped.set()
        self._listener.close()

    def hang_up(self) -> None:
        """Stop listening and cut every connection: the server went away."""
        self._closed = True
        with contextlib.suppress(OSError):  # wakes the accept() under way (close alone does not)
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _count(self, size: int) -> None:
        with self._lock:
            self.relayed += size

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                cut = self.cuts_left > 0
                self.cuts_left -= 1 if cut else 0
            server = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, server]
            limit = self.cut_after if cut else None
            up = (client, server, None, None, False)
            down = (server, client, limit, self.pace, True)
            threading.Thread(target=self._pump, args=up, daemon=True).start()
            threading.Thread(target=self._pump, args=down, daemon=True).start()

    def _pump(
        self,
        source: socket.socket,
        sink: socket.socket,
        limit: int | None,
        pace: int | None,
        downstream: bool,
    ) -> None:
        sent = 0
        # At most a tenth of a second's worth at a time, each followed by the time it takes.
        chunk = max(pace // 10, 1) if pace else 65536
        try:
            while True:
                data = source.recv(chunk)
                if pace:
                    time.sleep(len(data) / pace)
                if not data:
                    break
                if limit is not None and sent + len(data) >= limit:
                    sink.sendall(data[: max(limit - sent, 0)])
                    self._count(max(limit - sent, 0))
                    if self.stall:
                        self._stopped.wait()
                    break
                sink.sendall(data)
                sent += len(data)
                if downstream:
                    self._count(len(data))
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()
