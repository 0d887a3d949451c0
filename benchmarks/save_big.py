"""Issue 4's benchmark: saving one attachment of 200 MB, time and peak memory.

One message in the sandbox Dovecot's folder ``BigSave``: a short text part and
``big-200mb.bin`` (209,715,200 reproducible pseudo-random bytes, application/octet-stream,
base64 in 76-character CRLF lines), written straight into the Maildir in 1 MB blocks, its
SHA-256 computed on the way. Four ways to save the attachment to a file, each in a process of
its own, each checked against that SHA-256:

a. raw: a TLS socket, ``UID FETCH <uid> BODY.PEEK[2]``, the literal read in chunks and decoded
   with ``binascii.a2b_base64`` in line-aligned pieces: the floor a streaming client can reach;
b. imap_tools: ``MailBox.xoauth2()``, ``fetch()``, ``att.payload`` written out;
c. stdlib imaplib + email: ``uid('FETCH', uid, '(BODY.PEEK[])')``, ``message_from_bytes(policy=
   default)``, ``iter_attachments()``, ``get_content()`` written out;
d. o365imap: the command ``o365imap save <uid> BigSave --dir <tmp> --json``.

Every method hashes what it writes and fsyncs the file before it ends, as o365imap's atomic
file sink does, so all four do the same work. The time is the whole process's wall time
(interpreter start, imports, TLS, sign-in, fetch, decode, hash, write): the only time that can
be taken the same way for a command. Peak RSS is the process's ``ru_maxrss`` from
``os.wait4`` on that one process. Not ``getrusage(RUSAGE_CHILDREN)``: that is the largest of
all children reaped so far, not this run's. And not psutil polling, which misses short peaks.
``wait4`` has a trap of its own: Linux carries the RSS of the process that forked the child
into the child's ``ru_maxrss`` (``exec`` records the old memory map's high-water mark), so a
child of this benchmark (hundreds of MB after the listing benchmarks) would report at least
that much. Each run is therefore started by a small launcher process (``LAUNCHER``: ``python
-S`` with os, json and time, under 10 MB, less than any worker), which times and reaps the
worker and reports both.

Sizes: ``O365IMAP_BENCH_SAVE_MB`` (default 200; 20 for a quick run); runs per method:
``O365IMAP_BENCH_SAVE_RUNS`` (default 3). The report takes the median time and the largest
peak RSS. ``benchmarks/run.py --only save`` (or this file run directly) runs only this
benchmark and updates its section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import os
import platform
import random
import re
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from o365imap.sandbox.dovecot import DovecotServer

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
USER = "bench@example.com"
FOLDER = "BigSave"
SEED = 7
BLOCK = 1 << 20  # generated, hashed and written 1 MB at a time
LINE = 57  # raw bytes per 76-character base64 line
BOUNDARY = "=_o365imap_bigsave_7=_"  # "-" and "_" are not base64: no body line can match
CHUNK = 1 << 20  # the raw baseline's receive buffer
DECODE_AT = 3 << 18  # decode once this much has arrived (a TLS record is at most 16 KB)
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
MARK_START = "<!-- save-big:start -->"
MARK_END = "<!-- save-big:end -->"
RSS_TARGET_MB = 64
TIME_TARGET = 1.5
MB = 1 << 20  # the "200 MB" is 209,715,200 bytes


def size_from_env() -> int:
    return int(float(os.environ.get("O365IMAP_BENCH_SAVE_MB", "200")) * MB)


def runs_from_env() -> int:
    return max(1, int(os.environ.get("O365IMAP_BENCH_SAVE_RUNS", "3")))


# ---------------------------------------------------------------- seeding


@dataclass(frozen=True, slots=True)
class BigMessage:
    folder: str
    uid: int
    filename: str
    size: int  # of the attachment, decoded
    sha256: str  # of the attachment, decoded
    message_size: int  # of the message file (RFC822.SIZE)


def attachment_name(size: int) -> str:
    mb = size / MB
    return f"big-{mb:g}mb.bin" if mb >= 1 else f"big-{size}b.bin"


def _head(user: str, name: str, size: int) -> bytes:
    lines = [
        "Date: Mon, 02 Dec 2024 09:30:00 +0000",
        'From: "Benchmark Sender" <sender@example.com>',
        f"To: <{user}>",
        f"Subject: {name}: one big attachment",
        f"Message-ID: <bigsave-{size}@o365imap.example>",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/mixed; boundary="{BOUNDARY}"',
        "",
        "This is a multi-part message in MIME format.",
        f"--{BOUNDARY}",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 7bit",
        "",
        f"The attachment {name} holds {size:,} pseudo-random bytes (random.Random({SEED})).",
        f"--{BOUNDARY}",
        f'Content-Type: application/octet-stream; name="{name}"',
        f'Content-Disposition: attachment; filename="{name}"',
        "Content-Transfer-Encoding: base64",
        "",
        "",
    ]
    return "\r\n".join(lines).encode("ascii")


def _encode_lines(data: bytes) -> bytes:
    # encodebytes wraps at 76 characters with LF; the Maildir holds CRLF, as IMAP sends it
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def seed_big_message(server: DovecotServer, user: str, size: int | None = None) -> BigMessage:
    """Write the one big message into ``FOLDER``, streamed: never more than a block in memory.

    As MaildirWriter does: written under ``tmp/`` and renamed into ``cur/`` with the next
    file-name number, ``S=``/``W=`` sizes (equal: every line ends in CRLF), no flags, the mail
    owner, and the mtime Dovecot reports as INTERNALDATE.
    """
    from o365imap.sandbox.seed import MaildirWriter

    size = size_from_env() if size is None else size
    if user.lower() not in server.users:
        server.add_user(user)
    writer = MaildirWriter(server.maildir(user), server.mail_owner)
    folder_dir = writer.create_folder(FOLDER)
    cur = folder_dir / "cur"
    existing = [n for n in os.listdir(cur) if not n.startswith(".")]
    number = max((int(n.split(".", 1)[0]) for n in existing), default=1_000_000_000 - 1) + 1
    uid = len(existing) + 1
    name = attachment_name(size)

    temp = folder_dir / "tmp" / f"{number}.{uid}.sandbox"
    digest = hashlib.sha256()
    rng = random.Random(SEED)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb", buffering=BLOCK) as out:
        out.write(_head(user, name, size))
        carry = b""
        left = size
        while left:
            block = rng.randbytes(min(BLOCK, left))
            left -= len(block)
            digest.update(block)
            data = carry + block
            cut = len(data) if not left else len(data) - len(data) % LINE
            out.write(_encode_lines(data[:cut]))
            carry = data[cut:]
        out.write(f"--{BOUNDARY}--\r\n".encode("ascii"))
        out.flush()
        if server.mail_owner is not None:
            os.fchown(out.fileno(), *server.mail_owner)
        stamp = 1733131800.0  # the Date: header, 2024-12-02 09:30 UTC
        os.utime(out.fileno(), (stamp, stamp))
    message_size = temp.stat().st_size
    final = f"{number}.{uid}.sandbox,S={message_size},W={message_size}:2,"
    os.rename(temp, cur / final)
    return BigMessage(FOLDER, uid, name, size, digest.hexdigest(), message_size)


# ---------------------------------------------------------------- workers (one process each)


@dataclass(slots=True)
class _Target:
    host: str
    port: int
    ca_file: str
    user: str
    token: str
    folder: str
    uid: int
    filename: str
    out: Path


class _HashedFile:
    """The file a worker saves to: hashed as written, fsynced at the end (as o365imap's sink)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file = open(path, "wb")  # noqa: SIM115 - closed in close()
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.hash.update(data)
        self.size += len(data)
        self.file.write(data)

    def close(self) -> dict[str, Any]:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        return {"path": str(self.path), "size": self.size, "sha256": self.hash.hexdigest()}


class _RawConnection:
    def __init__(self, target: _Target) -> None:
        context = ssl.create_default_context(cafile=target.ca_file)
        raw = socket.create_connection((target.host, target.port))
        self.sock = context.wrap_socket(raw, server_hostname=target.host)
        self.buf = bytearray()

    def _fill(self) -> None:
        data = self.sock.recv(CHUNK)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.buf += data

    def readline(self) -> bytes:
        while (end := self.buf.find(b"\n")) < 0:
            self._fill()
        line = bytes(self.buf[: end + 1])
        del self.buf[: end + 1]
        return line

    def command(self, tag: str, text: str) -> list[bytes]:
        self.sock.sendall(f"{tag} {text}\r\n".encode())
        return self.until(tag)

    def until(self, tag: str) -> list[bytes]:
        lines = []
        prefix = tag.encode() + b" "
        while True:
            line = self.readline()
            lines.append(line)
            if line.startswith(prefix):
                if not line.startswith(prefix + b"OK"):
                    raise RuntimeError(line.decode("utf-8", "replace").strip())
                return lines

    def save_base64_literal(self, size: int, out: _HashedFile) -> None:
        """Read a literal of ``size`` bytes into one reused buffer; decode whole lines of it.

        ``recv_into`` a preallocated buffer: ``recv(n)`` would allocate n bytes per call (an
        mmap and page faults in a fresh process) for the 16 KB a TLS record holds.
        """
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        fill = min(size, len(self.buf))
        buf[:fill] = self.buf[:fill]
        del self.buf[:fill]
        left = size - fill
        a2b = binascii.a2b_base64
        while True:
            while left and fill < DECODE_AT:
                got = self.sock.recv_into(view[fill:], min(CHUNK - fill, left))
                if not got:
                    raise ConnectionError("the server closed the connection inside a literal")
                fill += got
                left -= got
            if not left:
                out.write(a2b(view[:fill]))
                return
            cut = buf.rfind(b"\n", 0, fill) + 1  # whole lines: 76 characters are 57 bytes
            out.write(a2b(view[:cut]))
            rest = bytes(view[cut:fill])
            buf[: len(rest)] = rest
            fill = len(rest)


def worker_raw(target: _Target) -> dict[str, Any]:
    start = time.perf_counter()
    conn = _RawConnection(target)
    conn.readline()  # greeting
    sasl = f"user={target.user}\x01auth=Bearer {target.token}\x01\x01".encode()
    conn.command("a1", "AUTHENTICATE XOAUTH2 " + base64.b64encode(sasl).decode())
    conn.command("a2", f"EXAMINE {target.folder}")
    conn.sock.sendall(f"a3 UID FETCH {target.uid} (BODY.PEEK[2])\r\n".encode())
    while True:
        line = conn.readline()
        found = re.search(rb"\{(\d+)\}\r\n$", line)
        if line.startswith(b"* ") and found:
            break
        if line.startswith(b"a3 "):
            raise RuntimeError(f"no literal in the answer: {line!r}")
    out = _HashedFile(target.out / target.filename)
    conn.save_base64_literal(int(found.group(1)), out)
    conn.until("a3")
    conn.sock.sendall(b"a4 LOGOUT\r\n")
    conn.sock.close()
    result = out.close()
    result["seconds"] = time.perf_counter() - start
    return result


def worker_imap_tools(target: _Target) -> dict[str, Any]:
    from imap_tools import AND, MailBox

    start = time.perf_counter()
    context = ssl.create_default_context(cafile=target.ca_file)
    result: dict[str, Any] | None = None
    with MailBox(target.host, target.port, ssl_context=context).xoauth2(
        target.user, target.token, target.folder
    ) as mailbox:
        for message in mailbox.fetch(AND(uid=str(target.uid)), mark_seen=False):
            for att in message.attachments:
                if att.filename == target.filename:
                    out = _HashedFile(target.out / target.filename)
                    out.write(att.payload)
                    result = out.close()
    if result is None:
        raise RuntimeError("imap_tools found no such attachment")
    result["seconds"] = time.perf_counter() - start
    return result


def worker_imaplib(target: _Target) -> dict[str, Any]:
    import email
    import email.policy
    import imaplib

    start = time.perf_counter()
    context = ssl.create_default_context(cafile=target.ca_file)
    imap = imaplib.IMAP4_SSL(target.host, target.port, ssl_context=context)
    sasl = f"user={target.user}\x01auth=Bearer {target.token}\x01\x01".encode()
    imap.authenticate("XOAUTH2", lambda _challenge: sasl)
    imap.select(target.folder, readonly=True)
    _typ, data = imap.uid("FETCH", str(target.uid), "(BODY.PEEK[])")
    raw = data[0][1]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    result: dict[str, Any] | None = None
    for part in message.iter_attachments():
        if part.get_filename() == target.filename:
            out = _HashedFile(target.out / target.filename)
            out.write(part.get_content())
            result = out.close()
    imap.logout()
    if result is None:
        raise RuntimeError("email found no such attachment")
    result["seconds"] = time.perf_counter() - start
    return result


WORKERS = {"raw": worker_raw, "imap_tools": worker_imap_tools, "imaplib": worker_imaplib}


def worker_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="save_big.py _worker")
    parser.add_argument("method", choices=sorted(WORKERS))
    for name in ("host", "ca-file", "user", "folder", "filename", "out"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--uid", type=int, required=True)
    args = parser.parse_args(argv)
    target = _Target(
        host=args.host,
        port=args.port,
        ca_file=args.ca_file,
        user=args.user,
        token=os.environ["O365IMAP_ACCESS_TOKEN"],
        folder=args.folder,
        uid=args.uid,
        filename=args.filename,
        out=Path(args.out),
    )
    print(json.dumps(WORKERS[args.method](target)))


# ---------------------------------------------------------------- launcher (one process each)

# Run by ``python -S -c``: os, json and time only (no site, no subprocess), so the launcher's
# own high-water mark, which the worker inherits, stays below any Python worker's (~9 MB).
# It prints {"wall", "maxrss_kb" (KiB on Linux), "returncode", "stdout"}.
LAUNCHER = """
import json, os, sys, time
argv = sys.argv[1:]
read, write = os.pipe()
start = time.perf_counter()
pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[
    (os.POSIX_SPAWN_DUP2, write, 1), (os.POSIX_SPAWN_CLOSE, read)])
os.close(write)
chunks = []
while chunk := os.read(read, 65536):
    chunks.append(chunk)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
print(json.dumps({"wall": wall, "maxrss_kb": usage.ru_maxrss,
    "returncode": os.waitstatus_to_exitcode(status),
    "stdout": b"".join(chunks).decode("utf-8", "replace")}))
"""


def launch(argv: list[str], env: dict[str, str], errors: Path) -> dict[str, Any]:
    """Run ``argv`` (an absolute program path first) through the launcher; its report."""
    with open(errors, "wb") as stderr:
        done = subprocess.run(
            [sys.executable, "-S", "-c", LAUNCHER, *argv],
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"launcher failed: {errors.read_text('utf-8', 'replace')[-500:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


# ---------------------------------------------------------------- measuring


@dataclass(slots=True)
class Method:
    key: str
    label: str
    status: str = "ok"  # "ok", "not available", or "failed: ..."
    walls: list[float] = field(default_factory=list)
    inner: list[float] = field(default_factory=list)
    rss_kb: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok" and bool(self.walls)

    @property
    def seconds(self) -> float:
        return statistics.median(self.walls)

    @property
    def rss_mb(self) -> float:
        return max(self.rss_kb) / 1024

    def summary(self) -> dict[str, Any]:
        if not self.ok:
            return {"status": self.status}
        return {
            "seconds": self.seconds,
            "walls": self.walls,
            "inner": self.inner,
            "peak_rss_mb": self.rss_mb,
        }


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _check_saved(found: dict[str, Any], message: BigMessage) -> None:
    path = Path(found["path"])
    if found["sha256"] != message.sha256 or int(found["size"]) != message.size:
        raise RuntimeError(f"reported size/sha256 differ: {found['size']} {found['sha256']}")
    if path.stat().st_size != message.size or sha256_file(path) != message.sha256:
        raise RuntimeError(f"the saved file {path} differs from the attachment")


def ours_available() -> bool:
    done = subprocess.run(
        [sys.executable, "-m", "o365imap", "save", "--help"],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def _argv(key: str, server: DovecotServer, user: str, message: BigMessage, out: Path) -> list[str]:
    host, port, ca = server.host, server.imaps_port, str(server.ca_file)
    if host not in LOOPBACK:
        raise SystemExit(f"refusing to benchmark against {host}: loopback only")
    if key == "ours":
        return [
            sys.executable, "-m", "o365imap", "save", str(message.uid), message.folder,
            "--dir", str(out), "--json",
            "--host", host, "--port", str(port), "--ca-file", ca, "--user", user,
        ]  # fmt: skip
    return [
        sys.executable, str(Path(__file__).resolve()), "_worker", key,
        "--host", host, "--port", str(port), "--ca-file", ca, "--user", user,
        "--folder", message.folder, "--uid", str(message.uid),
        "--filename", message.filename, "--out", str(out),
    ]  # fmt: skip


def _one_run(
    method: Method,
    server: DovecotServer,
    user: str,
    message: BigMessage,
    env: dict[str, str],
    work: Path,
    index: int,
) -> None:
    out = work / f"{method.key}-{index}"
    out.mkdir()
    try:
        argv = _argv(method.key, server, user, message, out)
        result = launch(argv, env, work / f"{method.key}-{index}.stderr")
        if result["returncode"] != 0:
            tail = (work / f"{method.key}-{index}.stderr").read_text("utf-8", "replace")
            raise RuntimeError(f"exit status {result['returncode']}: {tail.strip()[-300:]}")
        lines = [json.loads(x) for x in result["stdout"].splitlines() if x.strip()]
        if method.key == "ours":
            matches = [
                x
                for x in lines
                if x.get("filename") == message.filename
                or Path(str(x.get("path", ""))).name == message.filename
            ]
            if not matches:
                raise RuntimeError(f"no JSON line for {message.filename}: {lines!r:.300}")
            _check_saved(matches[0], message)
        else:
            _check_saved(lines[-1], message)
            method.inner.append(float(lines[-1]["seconds"]))
        method.walls.append(float(result["wall"]))
        method.rss_kb.append(int(result["maxrss_kb"]))
    finally:
        shutil.rmtree(out, ignore_errors=True)


@dataclass(slots=True)
class SaveReport:
    message: BigMessage
    methods: list[Method]
    runs: int
    python_rss_mb: float
    python_seconds: float
    command_rss_mb: float | None = None
    command_seconds: float | None = None
    markdown: str = ""

    def summary(self) -> dict[str, Any]:
        return {
            "size": self.message.size,
            "runs": self.runs,
            **{m.key: m.summary() for m in self.methods},
        }


def _labels(message: BigMessage) -> dict[str, str]:
    from importlib.metadata import version

    return {
        "raw": f"raw socket: `UID FETCH {message.uid} BODY.PEEK[2]`, `a2b_base64` by lines",
        "imap_tools": f"imap_tools {version('imap-tools')}: `fetch()`, `att.payload`",
        "imaplib": "stdlib imaplib + email: `BODY.PEEK[]`, `iter_attachments()`, `get_content()`",
        "ours": f"o365imap `save {message.uid} {message.folder} --dir ... --json`",
    }


def run(
    server: DovecotServer,
    user: str,
    work: Path,
    *,
    size: int | None = None,
    runs: int | None = None,
    log: Any = None,
) -> SaveReport:
    """Seed the big message into the running ``server`` and measure every method."""
    size = size_from_env() if size is None else size
    runs = runs_from_env() if runs is None else runs
    say = log or (lambda text: print(text, file=sys.stderr, flush=True))
    work = Path(tempfile.mkdtemp(prefix="save-big-", dir=work))
    try:
        start = time.perf_counter()
        message = seed_big_message(server, user, size)
        say(
            f"save: seeded {message.filename} ({message.size:,} bytes, message "
            f"{message.message_size:,} bytes) in {time.perf_counter() - start:.1f} s"
        )
        env = dict(os.environ, O365IMAP_ACCESS_TOKEN=server.mint_token(user, lifetime=7200))
        labels = _labels(message)
        methods = [Method(key, labels[key]) for key in ("raw", "imap_tools", "imaplib", "ours")]
        if not ours_available():
            methods[-1].status = "not available"
        # Dovecot parses the message once (BODYSTRUCTURE, part offsets) and the page cache
        # fills: the first fetch pays for both, so it is not measured.
        _one_run(Method("raw", "warm-up"), server, user, message, env, work, 0)
        bare = launch([sys.executable, "-c", "pass"], env, work / "bare.stderr")
        for index in range(1, runs + 1):
            for method in methods:
                if method.status != "ok":
                    continue
                try:
                    _one_run(method, server, user, message, env, work, index)
                except Exception as exc:
                    method.status = f"failed: {exc}"
                    continue
                say(
                    f"save: {method.key} run {index}: {method.walls[-1]:.2f} s, "
                    f"peak RSS {method.rss_kb[-1] / 1024:.1f} MB"
                )
        report = SaveReport(message, methods, runs, bare["maxrss_kb"] / 1024, float(bare["wall"]))
        if methods[-1].status != "not available":
            # the command's fixed cost (interpreter, imports), which a small file mostly is
            version = [sys.executable, "-m", "o365imap", "--version"]
            starts = [launch(version, env, work / "version.stderr") for _ in range(3)]
            report.command_seconds = statistics.median(float(x["wall"]) for x in starts)
            report.command_rss_mb = max(int(x["maxrss_kb"]) for x in starts) / 1024
        report.markdown = render(report)
        return report
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------- report


def render(report: SaveReport) -> str:
    message = report.message
    mb = message.size / MB
    raw = report.methods[0]
    lines = [
        MARK_START,
        f"## 5. Saving one attachment of {mb:g} MB",
        "",
        f"Written by `benchmarks/save_big.py` (part of `make bench`; alone: `benchmarks/run.py "
        f"--only save`) on {time.strftime('%Y-%m-%d')} ({platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}). One message in "
        f"`{message.folder}`: a short text part and `{message.filename}` ({message.size:,} "
        f"bytes, application/octet-stream, base64 in 76-character lines; the message is "
        f"{message.message_size / MB:.1f} MB on the server). Each method runs {report.runs} "
        "times, each time in a process of its own that writes the attachment to a file, "
        "hashing it as it goes, and fsyncs it; every saved file's SHA-256 is checked against "
        "the one computed while seeding. Time: median wall time of the whole process "
        "(interpreter start, imports, TLS, sign-in, fetch, decode, hash, write). Peak RSS: the "
        "largest `ru_maxrss` of the process (`os.wait4`, from a small launcher process so that "
        "the benchmark's own memory does not count; see the module's docstring). "
        "MB = 2^20 bytes.",
        "",
        "| method | median time | MB/s | peak RSS | time vs raw | in-process time |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for method in report.methods:
        if not method.ok:
            lines.append(f"| {method.label} | {method.status} | | | | |")
            continue
        ratio = f"{method.seconds / raw.seconds:.2f}x" if raw.ok else ""
        inner = f"{statistics.median(method.inner):.2f} s" if method.inner else "n/a"
        lines.append(
            f"| {method.label} | {method.seconds:.2f} s | {mb / method.seconds:.0f} | "
            f"{method.rss_mb:.1f} MB | {ratio} | {inner} |"
        )
    lines += [
        "",
        f"For scale: `python -c pass` peaks at {report.python_rss_mb:.1f} MB and takes "
        f"{report.python_seconds * 1000:.0f} ms. In-process time runs from connecting to the "
        "file synced and closed (imports and interpreter start excluded); a command has none.",
    ]
    if report.command_seconds is not None and report.command_rss_mb is not None:
        lines[-1] += (
            f" `o365imap --version` (start-up and imports alone) takes "
            f"{report.command_seconds * 1000:.0f} ms and peaks at {report.command_rss_mb:.1f} MB."
        )
    lines += [
        "",
        "Targets for o365imap:",
        "",
    ]
    ours = report.methods[-1]
    if ours.ok and raw.ok:
        time_ratio = ours.seconds / raw.seconds
        rss_met = "met" if ours.rss_mb < RSS_TARGET_MB else "not met"
        time_met = "met" if time_ratio <= TIME_TARGET else "not met"
        lines += [
            f"- Peak RSS under {RSS_TARGET_MB} MB whatever the attachment's size: "
            f"{ours.rss_mb:.1f} MB ({rss_met}).",
            f"- Time within {TIME_TARGET}x of the raw socket read + base64 decode: "
            f"{time_ratio:.2f}x ({time_met}).",
        ]
    else:
        lines += [
            f"- Peak RSS under {RSS_TARGET_MB} MB whatever the attachment's size: "
            f"not measured (o365imap save: {ours.status}).",
            f"- Time within {TIME_TARGET}x of the raw socket read + base64 decode: "
            f"not measured (o365imap save: {ours.status}).",
        ]
    lines += ["", MARK_END]
    return "\n".join(lines)


def update_doc(
    section: str, path: Path = DOC, *, marks: tuple[str, str] = (MARK_START, MARK_END)
) -> None:
    """Put ``section`` in place of the old one (between ``marks``); new, before "Against the
    targets" (or last)."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    start, end = text.find(marks[0]), text.find(marks[1])
    if start >= 0 and end > start:
        text = text[:start] + section + text[end + len(marks[1]) :]
    else:
        anchor = text.find("## Against the targets")
        if anchor >= 0:
            text = text[:anchor] + section + "\n\n" + text[anchor:]
        else:
            text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@contextmanager
def own_dovecot(name: str, user: str, testbed: bool = True) -> Iterator[tuple[DovecotServer, Path]]:
    """A Dovecot of one benchmark's own in a scratch folder (and that folder), with ``user``
    and, unless told not to, the test bed seeded: what ``run.py --only NAME`` measures on."""
    from o365imap.sandbox.dovecot import DovecotServer
    from o365imap.sandbox.seed import seed_testbed

    with (
        tempfile.TemporaryDirectory(prefix=f"o365imap-bench-{name}-") as tmp,
        DovecotServer(Path(tmp) / "dovecot") as server,
    ):
        server.add_user(user)
        if testbed:
            start = time.perf_counter()
            seed_testbed(server, user)
            print(
                f"{name}: seeded the test bed in {time.perf_counter() - start:.1f} s",
                file=sys.stderr,
            )
        yield server, Path(tmp)


def main() -> SaveReport:
    """Only this benchmark, in a Dovecot of its own; updates its section of the report."""
    with own_dovecot("save", USER, testbed=False) as (server, work):
        report = run(server, USER, work)
    print(report.markdown)
    update_doc(report.markdown)
    json.dump(report.summary(), sys.stderr)
    print(file=sys.stderr)
    return report


if __name__ == "__main__":
    if sys.argv[1:2] == ["_worker"]:
        worker_main(sys.argv[2:])
    else:
        main()
