"""The transport's reads, on a loopback socket: what has arrived comes in one piece."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from o365imap._transport import Security, Transport
from o365imap.errors import ConnectionClosed
from o365imap.sandbox.tls import make_certificates


@pytest.fixture
def peer() -> Iterator[tuple[Transport, socket.socket]]:
    """A plain-text Transport connected to a loopback socket the test writes to."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]))
    thread.start()
    transport = Transport(
        "127.0.0.1", listener.getsockname()[1], security=Security.PLAIN, read_timeout=5
    )
    transport.connect()
    thread.join()
    listener.close()
    yield transport, accepted[0]
    transport.close()
    accepted[0].close()


def _arrived() -> None:
    time.sleep(0.2)  # loopback: long enough for every byte sent to be there


def test_what_has_arrived_comes_in_one_read(peer: tuple[Transport, socket.socket]) -> None:
    """Many small sends (a server's small TLS records): one piece for the parser, not one
    per send; the first read still waits, the rest does not."""
    transport, server = peer
    for n in range(50):
        server.sendall(b"* %d EXISTS\r\n" % n)
    _arrived()
    data = transport.recv()
    assert data == b"".join(b"* %d EXISTS\r\n" % n for n in range(50))
    assert transport._sock is not None and transport._sock.gettimeout() == 5  # as it was


def test_the_end_of_the_stream_comes_after_the_bytes_before_it(
    peer: tuple[Transport, socket.socket],
) -> None:
    transport, server = peer
    server.sendall(b"* BYE bye\r\n")
    server.close()
    _arrived()
    assert transport.recv() == b"* BYE bye\r\n"
    with pytest.raises(ConnectionClosed, match="closed the connection"):
        transport.recv()


def test_small_tls_records_come_in_one_read(tmp_path: Path) -> None:
    """TLS hands out one record per read: the records that have arrived are gathered, so a
    server's many small records (Dovecot's, in a listing) make one piece for the parser."""
    ca, cert, key = make_certificates(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    records = [b"* %d EXISTS\r\n" % n for n in range(50)]
    done = threading.Event()

    def serve() -> None:
        with context.wrap_socket(listener.accept()[0], server_side=True) as tls:
            for record in records:
                tls.sendall(record)  # one TLS record each
            done.wait(5)

    thread = threading.Thread(target=serve)
    thread.start()
    transport = Transport("127.0.0.1", listener.getsockname()[1], ca_file=str(ca))
    try:
        transport.connect()
        _arrived()
        assert transport.recv() == b"".join(records)
    finally:
        done.set()
        thread.join()
        transport.close()
        listener.close()
