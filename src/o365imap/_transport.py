"""The only module that touches sockets and TLS: connect, STARTTLS, send, receive, close.

Every low-level failure (OSError, ssl.SSLError, socket.timeout, name lookup) is translated here,
once, into o365imap's TransportError branch, with a sentence a person can act on; nothing above
this module ever sees a raw socket error.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import ssl
from enum import StrEnum

from o365imap.errors import ConnectError, ConnectionClosed, ReadTimeout, UsageError

__all__ = ["Security", "Transport", "default_port"]

RECV_SIZE = 256 * 1024
# recv() takes what has already arrived up to this much in one call: a server may send small
# TLS records (Dovecot's are about 2 KB in a listing), one per read, and each piece handed
# up costs the parser and the read loop a pass of their own.
GATHER_SIZE = 64 * 1024


class Security(StrEnum):
    """How the connection is protected."""

    TLS = "tls"  # implicit TLS from the first byte (port 993): Office 365's way
    STARTTLS = "starttls"  # plain first, upgraded with STARTTLS (port 143)
    PLAIN = "plain"  # no encryption at all: only on explicit request


def default_port(security: Security) -> int:
    return 993 if security is Security.TLS else 143


def make_tls_context(ca_file: str | None = None, *, verify: bool = True) -> ssl.SSLContext:
    """A client context: system CAs (or only ``ca_file`` when given), TLS 1.2 or newer."""
    try:
        context = ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"cannot read the CA file {ca_file!r}: {exc}") from exc
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class Transport:
    """A blocking byte pipe to one IMAP server, with timeouts."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: Security = Security.TLS,
        ca_file: str | None = None,
        connect_timeout: float = 30.0,
        read_timeout: float = 60.0,
        verify: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.security = security
        self.read_timeout = read_timeout
        self._buffer = bytearray(RECV_SIZE)
        self._view = memoryview(self._buffer)
        self.connect_timeout = connect_timeout
        self._ca_file = ca_file
        self._verify = verify
        self._sock: socket.socket | None = None
        self._tls = False
        self._failed: OSError | None = None  # met by recv's gathering, for the next read

    @property
    def encrypted(self) -> bool:
        return self._tls

    @property
    def peer_is_loopback(self) -> bool:
        """True when the connected peer is a loopback address (127.0.0.0/8 or ::1)."""
        if self._sock is None:
            return False
        try:
            address = self._sock.getpeername()[0]
            return ipaddress.ip_address(address.split("%")[0]).is_loopback
        except (OSError, ValueError):
            return False

    def connect(self) -> None:
        where = f"{self.host}:{self.port}"
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except socket.gaierror as exc:
            raise ConnectError(f"cannot find the server {self.host!r} ({exc.strerror})") from exc
        except (UnicodeError, ValueError) as exc:  # IDNA: empty or over-long labels
            raise UsageError(f"{self.host!r} is not a valid host name") from exc
        except TimeoutError as exc:
            raise ConnectError(
                f"timed out after {self.connect_timeout:g} s connecting to {where}"
            ) from exc
        except OSError as exc:
            raise ConnectError(f"cannot connect to {where}: {exc.strerror or exc}") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        if self.security is Security.TLS:
            self.start_tls()
        else:
            sock.settimeout(self.read_timeout)

    def start_tls(self) -> None:
        """Wrap the connection in TLS (right after connect, or after STARTTLS's OK)."""
        if self._sock is None:
            raise ConnectionClosed("not connected")
        context = make_tls_context(self._ca_file, verify=self._verify)
        sock = self._sock
        sock.settimeout(self.connect_timeout)
        try:
            self._sock = context.wrap_socket(sock, server_hostname=self.host)
        except ssl.SSLCertVerificationError as exc:
            sock.close()
            self._sock = None
            raise ConnectError(
                f"the certificate of {self.host} is not trusted ({exc.verify_message}); "
                "use --ca-file if the server uses a private CA"
            ) from exc
        except (ssl.SSLError, OSError) as exc:
            sock.close()
            self._sock = None
            if isinstance(exc, TimeoutError):
                raise ConnectError(f"timed out in the TLS handshake with {self.host}") from exc
            raise ConnectError(f"TLS handshake with {self.host} failed: {exc}") from exc
        self._sock.settimeout(self.read_timeout)
        self._tls = True

    def send(self, data: bytes) -> None:
        if self._sock is None:
            raise ConnectionClosed("the connection is closed")
        try:
            self._sock.sendall(data)
        except TimeoutError as exc:
            # Part of a command may have gone: the next one would be read as its rest.
            self.close()
            raise ReadTimeout(
                f"timed out after {self.read_timeout:g} s sending to {self.host}"
            ) from exc
        except (OSError, ssl.SSLError) as exc:
            self.close()
            raise ConnectionClosed(f"the connection to {self.host} was lost: {exc}") from exc

    def recv(self) -> bytes:
        """Some bytes, at least one: what has arrived (up to GATHER_SIZE), waiting only for
        the first; raises ConnectionClosed at end of stream."""
        # Into one reused buffer: recv(n) allocates n bytes per call and then shrinks them,
        # which costs more than the copy out of a buffer that is already there.
        count = self._recv_into(self._view)
        if count < GATHER_SIZE:
            count += self._gather(count)
        return bytes(self._view[:count])

    def _gather(self, start: int) -> int:
        """Bytes already arrived, read without waiting into the buffer from ``start`` up to
        GATHER_SIZE; how many. Whatever else stops it (the end of the stream, an error) is left
        for the next read to meet, as it would have met it without this."""
        sock = self._sock
        if sock is None:
            return 0
        timeout = sock.gettimeout()
        filled = start
        try:
            sock.settimeout(0.0)
            while filled < GATHER_SIZE:
                count = sock.recv_into(self._view[filled:GATHER_SIZE])
                if not count:
                    break
                filled += count
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            pass  # nothing more yet
        except OSError as exc:  # the next read raises it, after these bytes are taken in
            self._failed = exc
        finally:
            with contextlib.suppress(OSError):
                sock.settimeout(timeout)
        return filled - start

    def recv_exactly(self, size: int) -> bytearray:
        """Exactly ``size`` bytes (for a literal known to be on its way): fewer, larger reads
        and decoder calls than network-sized bites (TLS records are at most 16 KB)."""
        data = bytearray(size)
        view = memoryview(data)
        try:
            filled = 0
            while filled < size:
                filled += self._recv_into(view[filled:])
        finally:
            view.release()
        return data

    def _recv_into(self, view: memoryview) -> int:
        if self._sock is None:
            raise ConnectionClosed("the connection is closed")
        try:
            if self._failed is not None:
                failed, self._failed = self._failed, None
                raise failed
            count = self._sock.recv_into(view)
        except TimeoutError as exc:
            raise ReadTimeout(f"{self.host} did not answer within {self.read_timeout:g} s") from exc
        except (OSError, ssl.SSLError) as exc:
            self.close()
            raise ConnectionClosed(f"the connection to {self.host} was lost: {exc}") from exc
        if not count:
            self.close()
            raise ConnectionClosed(f"{self.host} closed the connection")
        return count

    def set_read_timeout(self, seconds: float) -> None:
        self.read_timeout = seconds
        if self._sock is not None:
            self._sock.settimeout(seconds)

    def close(self) -> None:
        self._failed = None
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()
