"""Issue 14's benchmark: exporting whole folders, beside a raw socket, mbsync and offlineimap.

On the sandbox Dovecot (loopback, TLS, XOAUTH2), seeded as run.py seeds it (seed_testbed: the
20,000-message ``Bulk`` folder, see sandbox/mailgen.py) plus save_big's 200 MB message in
``BigSave``. Every measured run is a process of its own, started by save_big's ``LAUNCHER``
(whole-process wall time, and peak RSS from ``os.wait4``: see save_big.py's docstring for why
a launcher), exporting into a fresh destination:

a. ``o365imap export DEST Bulk --json`` beside a raw socket (``_raw`` below: TLS, XOAUTH2,
   EXAMINE, one ``UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])``, literals
   framed and written to one file), and where o365imap's time goes (``_phases``, in one
   process: the listing; every batch fetched and parsed into a store that writes nothing; the
   same 20,000 sizes written as Maildir files, created in tmp/ and renamed into cur/, with
   no network at all);
b. ``BigSave`` (one message of 200 MB) the same two ways: memory must stay flat;
c. mbsync (isync, XOAUTH2 through Cyrus SASL's kdexoauth2 plugin) and offlineimap3 pulling
   ``Bulk`` into a Maildir, with the configurations o365imap.sandbox.clients renders, limited
   to that folder and with ``PassCmd`` printing a token from a file;
d. ``o365imap export DEST --jobs 1`` against ``--jobs 4`` over every folder of the test bed.

Formats: Maildir only. The mbox and eml stores (``o365imap.backup._mbox``/``_eml``) get rows
of their own once they exist: ``FORMATS`` below picks them up.

``O365IMAP_BENCH_EXPORT_RUNS`` (default 3) runs per method; ``O365IMAP_BENCH_OFFLINEIMAP=0``
skips offlineimap (minutes for 20,000 messages). ``benchmarks/run.py --only export`` (or this
file run directly) runs only this benchmark, in a Dovecot of its own, and rewrites its section
of docs/benchmarks.md.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from save_big import DOC, LAUNCHER, LOOPBACK, MB, Method, launch, own_dovecot, update_doc

if TYPE_CHECKING:
    from save_big import BigMessage

    from o365imap.sandbox.dovecot import DovecotServer

MARK_START = "<!-- export:start -->"
MARK_END = "<!-- export:end -->"
USER = "bench@example.com"
BULK = "Bulk"
SMALL = "INBOX"
SKIP = ("Bulk100k",)  # tui_bench's folder, when run.py shares its server: not the test bed
MBSYNC = "/usr/bin/mbsync"
OFFLINEIMAP = "/usr/bin/offlineimap"
BODY = "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])"
TARGET = 1.3
CHUNK = 1 << 20


def runs_from_env() -> int:
    return max(1, int(os.environ.get("O365IMAP_BENCH_EXPORT_RUNS", "3")))


def formats() -> list[str]:
    """Maildir, and mbox/eml once their stores exist in this tree."""
    found = ["maildir"]
    for fmt, module in (("mbox", "_mbox"), ("eml", "_eml")):
        if importlib.util.find_spec(f"o365imap.backup.{module}") is not None:
            found.append(fmt)
    return found


# ---------------------------------------------------------------- workers (one process each)


def worker_raw(argv: list[str]) -> None:
    """The floor: the folder's bodies in one FETCH, framed (lines and literals) and written,
    into one file (``OUT`` a file name) or each into a file of its own, created in tmp/ and
    renamed into cur/ as a Maildir does (``OUT`` a directory, ``--files``)."""
    from save_big import _RawConnection, _Target

    host, port, ca, user, folder, out, *mode = argv
    files = mode == ["--files"]
    token = os.environ["O365IMAP_ACCESS_TOKEN"]
    start = time.perf_counter()
    conn = _RawConnection(_Target(host, int(port), ca, user, token, folder, 0, "", Path(out)))
    conn.readline()
    sasl = base64.b64encode(f"user={user}\x01auth=Bearer {token}\x01\x01".encode()).decode()
    conn.command("a1", "AUTHENTICATE XOAUTH2 " + sasl)
    conn.command("a2", f"EXAMINE {folder}")
    conn.sock.sendall(f"a3 UID FETCH 1:* {BODY}\r\n".encode())
    literal = re.compile(rb"\{(\d+)\}\r\n$")
    # recv_into one buffer: recv(n) would allocate n bytes per call (see save_big.py)
    view = memoryview(bytearray(CHUNK))
    count = total = 0
    lines = open(os.devnull if files else out, "wb")  # noqa: SIM115 - closed below
    if files:
        for sub in ("tmp", "cur"):
            os.makedirs(os.path.join(out, sub), exist_ok=True)
    while True:
        line = conn.readline()
        lines.write(line)
        if line.startswith(b"a3 "):
            break
        found = literal.search(line)
        if found is None:
            continue
        left = int(found.group(1))
        count += 1
        total += left
        temp = os.path.join(out, "tmp", f"{count}.raw") if files else ""
        sink = open(temp, "xb") if files else lines  # noqa: SIM115 - closed below
        take = min(left, len(conn.buf))
        sink.write(conn.buf[:take])
        del conn.buf[:take]
        left -= take
        while left:
            got = conn.sock.recv_into(view, min(CHUNK, left))
            if not got:
                raise ConnectionError("closed inside a literal")
            sink.write(view[:got])
            left -= got
        if files:
            sink.close()
            os.rename(temp, os.path.join(out, "cur", f"{count}.raw:2,"))
    lines.close()
    conn.sock.close()
    print(json.dumps({"messages": count, "bytes": total, "seconds": time.perf_counter() - start}))


def worker_phases(argv: list[str]) -> None:
    """Where o365imap's export time goes, each phase alone: listing, fetch, disk."""
    from o365imap import ImapClient
    from o365imap.backup import _engine
    from o365imap.backup._maildir import MaildirStore
    from o365imap.backup._state import FolderState
    from o365imap.backup._store import Incoming

    host, port, ca, user, folder, out = argv
    token = os.environ["O365IMAP_ACCESS_TOKEN"]

    class NullStore:
        """Takes every message and keeps nothing: the fetch and the parse, without a disk."""

        def incoming(self) -> Incoming:
            return _Discard(Path(os.devnull), open(os.devnull, "wb"))

        def commit(self, incoming: Incoming, meta: Any) -> None:
            incoming.close()

    class _Discard(Incoming):
        def discard(self) -> None:  # never unlink /dev/null
            self.handle.close()

    result: dict[str, float | int] = {}
    with ImapClient(host, int(port), ca_file=ca) as client:
        client.authenticate_oauth(user, token)
        info = client.select(folder, readonly=True)
        start = time.perf_counter()
        listing = _engine._listing(client, info.exists, None)
        result["listing"] = time.perf_counter() - start
        metas = [listing[uid] for uid in sorted(listing)]
        report = _engine.FolderReport(folder, folder)
        start = time.perf_counter()
        for batch in _engine._batches(metas, 500, 32 * MB):
            wanted = {meta.uid for meta in batch}
            _engine._fetch_batch(client, NullStore(), wanted, report, folder, lambda e: None)  # type: ignore[arg-type]
        result["fetch"] = time.perf_counter() - start
    # The disk alone: the same sizes, names and dates, as Maildir files (tmp/, then cur/),
    # checkpointed every 500 and closed (cur/ fsynced once) as the engine does, then the same
    # files with no fsync at all.
    blob = b"x" * max(m.size for m in metas)
    for key, synced in (("disk", True), ("disk_nosync", False)):
        store = MaildirStore(Path(out) / key, 1)
        state = FolderState(folder, "maildir", key, 1)
        start = time.perf_counter()
        for index, meta in enumerate(metas, 1):
            incoming = store.incoming()
            incoming.write(blob[: meta.size])
            store.commit(incoming, meta)
            if index % 500 == 0:
                store.checkpoint(state)
        store.checkpoint(state)
        if synced:
            store.close()
        result[key] = time.perf_counter() - start
    result["messages"] = len(metas)
    result["bytes"] = sum(m.size for m in metas)
    print(json.dumps(result))


WORKERS = {"_raw": worker_raw, "_phases": worker_phases}


# ---------------------------------------------------------------- measuring


@dataclass(slots=True)
class Row(Method):
    """save_big's measured method, with what was exported (messages and bytes)."""

    messages: int = 0
    bytes: int = 0

    def summary(self) -> dict[str, Any]:
        found = Method.summary(self)
        if self.ok:
            found.pop("inner", None)
            found.update(messages=self.messages, bytes=self.bytes)
        return found


@dataclass(slots=True)
class Bench:
    server: DovecotServer
    work: Path
    env: dict[str, str]
    token_file: Path
    runs: int
    say: Any

    def connection(self) -> list[str]:
        host, port, ca = self.server.host, self.server.imaps_port, str(self.server.ca_file)
        if host not in LOOPBACK:
            raise SystemExit(f"refusing to benchmark against {host}: loopback only")
        return ["--host", host, "--port", str(port), "--ca-file", ca, "--user", USER]

    def measure(self, row: Row, argv: list[str], check: Any, fresh: Path | None = None) -> Row:
        """``argv`` ``runs`` times through the launcher; ``check(stdout)`` -> (messages, bytes)."""
        for index in range(1, self.runs + 1):
            if fresh is not None:
                shutil.rmtree(fresh, ignore_errors=True)
                fresh.mkdir(parents=True)
            errors = self.work / f"{row.key}.stderr"
            try:
                found = launch(argv, self.env, errors)
                if found["returncode"] != 0:
                    tail = errors.read_text("utf-8", "replace").strip()[-400:]
                    raise RuntimeError(f"exit status {found['returncode']}: {tail}")
                row.messages, row.bytes = check(found["stdout"])
            except Exception as exc:  # reported in the table, the other rows go on
                row.status = f"failed: {exc}"
                return row
            row.walls.append(float(found["wall"]))
            row.rss_kb.append(int(found["maxrss_kb"]))
            self.say(f"export: {row.key} run {index}: {row.walls[-1]:.2f} s, "
                     f"peak RSS {row.rss_kb[-1] / 1024:.1f} MB")  # fmt: skip
        if fresh is not None:
            shutil.rmtree(fresh, ignore_errors=True)
        return row

    def ours(self, key: str, label: str, folders: list[str], *extra: str) -> Row:
        dest = self.work / f"dest-{key}"
        argv = [sys.executable, "-m", "o365imap", "export", str(dest), *folders, "--json",
                *extra, *self.connection()]  # fmt: skip
        return self.measure(Row(key, label), argv, _summary, fresh=dest)

    def raw(self, key: str, label: str, folder: str, *, files: bool = False) -> Row:
        out = self.work / f"raw-{key}"
        host, port, ca = self.server.host, self.server.imaps_port, str(self.server.ca_file)
        argv = [sys.executable, str(Path(__file__).resolve()), "_raw", host, str(port), ca,
                USER, folder, str(out if files else out / "fetch.bin")]  # fmt: skip
        return self.measure(Row(key, label), argv + ["--files"] * files, _last_json, fresh=out)

    def at_once(self, count: int) -> Row:
        """``count`` exports of ``Bulk`` at once, each a process into its own destination:
        what one machine does with several mailboxes (here all served by one Dovecot)."""
        row = Row(f"at-once-{count}", f"{count} x `export DEST-n Bulk` at once (total)")
        dests = [self.work / f"at-once-{n}" for n in range(count)]
        launcher = [sys.executable, "-S", "-c", LAUNCHER, sys.executable, "-m", "o365imap"]
        start = time.perf_counter()
        procs = [
            subprocess.Popen(
                [*launcher, "export", str(dest), BULK, "--json", *self.connection()],
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            for dest in dests
        ]
        found = [json.loads(proc.communicate()[0]) for proc in procs]
        wall = time.perf_counter() - start
        for dest in dests:
            shutil.rmtree(dest, ignore_errors=True)
        if any(f["returncode"] != 0 for f in found):
            row.status = "failed: " + ", ".join(str(f["returncode"]) for f in found)
            return row
        counts = [_summary(f["stdout"]) for f in found]
        row.messages, row.bytes = sum(c[0] for c in counts), sum(c[1] for c in counts)
        row.walls.append(wall)
        row.rss_kb.append(max(int(f["maxrss_kb"]) for f in found))
        self.say(f"export: {row.key}: {wall:.2f} s, peak RSS {row.rss_mb:.1f} MB each")
        return row

    def setup(self, maildir: Path) -> Any:
        from o365imap.sandbox.clients import ClientSetup

        return ClientSetup(
            imap_port=self.server.imap_port,
            imaps_port=self.server.imaps_port,
            user=USER,
            ca_file=self.server.ca_file,
            token_command=f"cat {shlex.quote(str(self.token_file))}",
            maildir=maildir,
            config_dir=str(self.work),
        )

    def mbsync(self, folder: str, count: int) -> Row:
        from o365imap.sandbox.clients import render_mbsync

        row = Row("mbsync", "mbsync (isync 1.4), `Patterns Bulk`, into a Maildir")
        plugins = list(Path("/usr/lib").glob("*/sasl2/libkdexoauth2.so"))
        if not Path(MBSYNC).exists() or not plugins:
            row.status = "not installed (isync and libsasl2-modules-kdexoauth2)"
            return row
        root = self.work / "mbsync-mail"
        setup = self.setup(root)
        # render_mbsync copies every folder; the benchmark wants this one.
        config = render_mbsync(setup).replace("Patterns *\n", f"Patterns {folder}\n")
        path = self.work / "mbsyncrc"
        path.write_text(config, encoding="utf-8")
        argv = [MBSYNC, "-q", "-c", str(path), "-a"]

        def check(_stdout: str) -> tuple[int, int]:
            return _maildir_count(root / "mbsync" / folder, count)

        def fresh_run() -> None:
            shutil.rmtree(root, ignore_errors=True)
            (root / "mbsync").mkdir(parents=True)  # mbsync does not create the top folder

        return self._each_fresh(row, argv, check, fresh_run)

    def offlineimap(self, folder: str, count: int) -> Row:
        from o365imap.sandbox.clients import render_offlineimap

        row = Row("offlineimap", "offlineimap3, `folderfilter` Bulk, into a Maildir")
        if not Path(OFFLINEIMAP).exists():
            row.status = "not installed (offlineimap3)"
            return row
        if os.environ.get("O365IMAP_BENCH_OFFLINEIMAP", "1") == "0":
            row.status = "skipped (O365IMAP_BENCH_OFFLINEIMAP=0)"
            return row
        root = self.work / "offlineimap-mail"
        # The remote repository is the rendering's last section: the filter goes there.
        config = render_offlineimap(self.setup(root)) + (
            f"folderfilter = lambda name: name == {folder!r}\n"
        )
        path = self.work / "offlineimaprc"
        path.write_text(config, encoding="utf-8")
        argv = [OFFLINEIMAP, "-o", "-u", "quiet", "-c", str(path)]

        def check(_stdout: str) -> tuple[int, int]:
            return _maildir_count(root / "offlineimap" / folder, count)

        def fresh_run() -> None:
            shutil.rmtree(root, ignore_errors=True)
            shutil.rmtree(self.work / "home" / ".offlineimap-o365imap-sandbox", ignore_errors=True)

        return self._each_fresh(row, argv, check, fresh_run, runs=1)

    def _each_fresh(
        self, row: Row, argv: list[str], check: Any, fresh: Any, runs: int | None = None
    ) -> Row:
        saved = self.runs
        self.runs = 1
        try:
            for _ in range(runs or saved):
                fresh()
                self.measure(row, argv, check)
                if not row.ok:
                    break
        finally:
            self.runs = saved
        return row


def _summary(stdout: str) -> tuple[int, int]:
    lines = [json.loads(x) for x in stdout.splitlines() if x.strip()]
    summary = lines[-1]
    if not summary.get("summary") or summary.get("failed"):
        raise RuntimeError(f"unexpected summary: {summary!r:.300}")
    return int(summary["new"]), int(summary["bytes"])


def _last_json(stdout: str) -> tuple[int, int]:
    found = json.loads(stdout.splitlines()[-1])
    return int(found["messages"]), int(found["bytes"])


def _maildir_count(folder: Path, expected: int) -> tuple[int, int]:
    files = [p for sub in ("cur", "new") for p in (folder / sub).iterdir()]
    if len(files) != expected:
        raise RuntimeError(f"{folder} holds {len(files)} messages, not {expected}")
    return len(files), sum(p.stat().st_size for p in files)


@dataclass(slots=True)
class ExportReport:
    rows: dict[str, Row]
    phases: dict[str, float]
    folders: int
    runs: int
    big: BigMessage
    startup_seconds: float
    startup_rss_mb: float
    markdown: str = ""

    def summary(self) -> dict[str, Any]:
        return {"rows": {k: r.summary() for k, r in self.rows.items()}, "phases": self.phases}


def test_bed_folders(server: DovecotServer, token: str) -> list[str]:
    from o365imap import ImapClient

    with ImapClient(server.host, server.imaps_port, ca_file=str(server.ca_file)) as client:
        client.authenticate_oauth(USER, token)
        return [f.name for f in client.list_folders() if f.selectable and f.name not in SKIP]


def run(
    server: DovecotServer,
    work: Path,
    *,
    big: BigMessage | None = None,
    runs: int | None = None,
    log: Any = None,
) -> ExportReport:
    """Measure every row against the running ``server`` (seeded with seed_testbed for
    ``USER``); seeds save_big's message into ``BigSave`` unless ``big`` says it is there."""
    from save_big import seed_big_message

    say = log or (lambda text: print(text, file=sys.stderr, flush=True))
    runs = runs_from_env() if runs is None else runs
    work = Path(tempfile.mkdtemp(prefix="export-bench-", dir=work))
    try:
        if big is None:
            big = seed_big_message(server, USER)
        token = server.mint_token(USER, lifetime=7200)
        token_file = work / "token"
        token_file.write_text(token + "\n", encoding="utf-8")
        token_file.chmod(0o600)
        (work / "home").mkdir()
        env = dict(os.environ, O365IMAP_ACCESS_TOKEN=token, HOME=str(work / "home"),
                   O365IMAP_HOME=str(work / "home" / "o365imap"))  # fmt: skip
        bench = Bench(server, work, env, token_file, runs, say)
        folders = test_bed_folders(server, token)
        # Dovecot reads every message once (its index and cache) and the page cache fills:
        # the first pass over each folder is not measured.
        bench.runs = 1
        bench.raw("warm", "warm-up", BULK)
        bench.raw("warm-big", "warm-up", big.folder)
        bench.runs = runs
        startup = launch([sys.executable, "-m", "o365imap", "--version"], env, work / "v.err")

        rows: dict[str, Row] = {}
        rows["raw"] = bench.raw("raw", "raw socket: one `UID FETCH 1:* (... BODY.PEEK[])`, "
                                "literals framed, written to one file", BULK)  # fmt: skip
        rows["raw-files"] = bench.raw("raw-files", "raw socket, the same, each message a file "
                                      "of its own (tmp/, then renamed into cur/)", BULK,
                                      files=True)  # fmt: skip
        for fmt in formats():
            rows[f"ours-{fmt}"] = bench.ours(
                f"ours-{fmt}", f"o365imap `export DEST Bulk --format {fmt} --json`", [BULK],
                "--format", fmt)  # fmt: skip
        rows["mbsync"] = bench.mbsync(BULK, rows["raw"].messages)
        rows["offlineimap"] = bench.offlineimap(BULK, rows["raw"].messages)
        rows["small"] = bench.ours("small", f"o365imap `export DEST {SMALL} --json`", [SMALL])
        rows["raw-big"] = bench.raw("raw-big", f"raw socket, `{big.folder}`", big.folder)
        rows["ours-big"] = bench.ours(
            "ours-big", f"o365imap `export DEST {big.folder} --json`", [big.folder]
        )
        rows["jobs1"] = bench.ours("jobs1", "o365imap `export DEST --jobs 1`", folders,
                                   "--jobs", "1")  # fmt: skip
        rows["jobs4"] = bench.ours("jobs4", "o365imap `export DEST --jobs 4`", folders,
                                   "--jobs", "4")  # fmt: skip

        for count in (2, 4):
            rows[f"at-once-{count}"] = bench.at_once(count)

        phases_out = work / "phases"
        phases_out.mkdir()
        argv = [sys.executable, str(Path(__file__).resolve()), "_phases", server.host,
                str(server.imaps_port), str(server.ca_file), USER, BULK, str(phases_out)]  # fmt: skip
        found = launch(argv, env, work / "phases.stderr")
        if found["returncode"] != 0:
            raise RuntimeError((work / "phases.stderr").read_text("utf-8", "replace")[-500:])
        phases = json.loads(found["stdout"].splitlines()[-1])
        report = ExportReport(rows, phases, len(folders), runs, big,
                              float(startup["wall"]), int(startup["maxrss_kb"]) / 1024)  # fmt: skip
        report.markdown = render(report)
        return report
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------- report


def _cell(row: Row, base: Row | None) -> str:
    if not row.ok:
        return f"| {row.label} | {row.status} | | | | |"
    ratio = f"{row.seconds / base.seconds:.2f}x" if base is not None and base.ok else ""
    mb = row.bytes / MB
    spread = f" ({min(row.walls):.1f}-{max(row.walls):.1f})" if len(row.walls) > 1 else ""
    return (f"| {row.label} | {row.messages:,} | {row.seconds:.2f} s{spread} | {mb / row.seconds:.0f} | "
            f"{row.rss_mb:.0f} MB | {ratio} |")  # fmt: skip


def ratio(report: ExportReport, key: str, base: str) -> float | None:
    row, floor = report.rows[key], report.rows[base]
    return row.seconds / floor.seconds if row.ok and floor.ok else None


def targets(report: ExportReport) -> list[str]:
    """The export's lines for run.py's "Against the targets"."""
    lines = []
    for key, floor, what in (
        ("ours-maildir", "raw", f"`{BULK}` within {TARGET}x of a raw socket reading the same "
         "bytes into one file"),
        ("ours-maildir", "raw-files", f"`{BULK}` within {TARGET}x of a raw socket writing each "
         "message to a file of its own, as a Maildir needs"),
        ("ours-big", "raw-big", f"`{report.big.folder}` within {TARGET}x of a raw socket"),
    ):  # fmt: skip
        found = ratio(report, key, floor)
        verdict = "not measured" if found is None else (
            f"{found:.2f}x ({'met' if found <= TARGET else 'not met'})")  # fmt: skip
        lines.append(f"- Exporting {what}: {verdict}.")
    return lines


def render(report: ExportReport) -> str:
    rows = report.rows
    raw, ours, big = rows["raw"], rows["ours-maildir"], report.big
    head = ["| how | messages | median time (range) | MB/s | peak RSS | vs raw |",
            "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    phases = report.phases
    lines = [
        MARK_START,
        "## 8. Exporting a folder (`o365imap export`)",
        "",
        f"Written by `benchmarks/export_bench.py` (part of `make bench`; alone: `benchmarks/run.py "
        f"--only export`) on {time.strftime('%Y-%m-%d')} ({platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}). Sandbox Dovecot on "
        f"loopback, TLS, XOAUTH2. `Bulk`: {raw.messages:,} generated messages, "
        f"{raw.bytes / MB:.0f} MB (RFC822.SIZE from ~150 bytes to ~100 kB, 3% with an "
        "attachment, 200 senders in ten languages, about 30% of subjects RFC 2047-encoded; "
        "sandbox/mailgen.py). Every run is a process of its own exporting into an empty "
        "destination (Maildir); time is its whole wall time (interpreter start, TLS, sign-in, "
        "listing, fetch, files), peak RSS its `ru_maxrss` from `wait4` (save_big's launcher). "
        f"Median of {report.runs} runs (mbsync: the same; offlineimap, e: one), largest RSS; "
        "Dovecot and the page cache warmed by one unmeasured raw fetch. MB = 2^20 bytes.",
        "",
        f"### a, c. `Bulk`, {raw.messages:,} messages: o365imap, a raw socket, mbsync, offlineimap",
        "",
        *head,
        _cell(raw, None),
        _cell(rows["raw-files"], raw),
    ]
    lines += [_cell(rows[k], raw) for k in rows if k.startswith("ours-") and k != "ours-big"]
    lines += [_cell(rows["mbsync"], raw), _cell(rows["offlineimap"], raw)]
    if len([k for k in rows if k.startswith("ours-")]) == 2:
        lines += ["", "mbox and eml: not measured, their stores (`o365imap.backup._mbox`, "
                  "`_eml`) are not in this tree yet; `formats()` adds their rows when they are."]  # fmt: skip
    lines += [
        "",
        f"Where o365imap's time goes (each phase alone, in one process, `Bulk`): the listing "
        f"`UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE)` {phases['listing']:.2f} s; every "
        f"batch fetched and parsed into a store that writes nothing {phases['fetch']:.2f} s; "
        f"the disk alone ({phases['messages']:,} Maildir files of the same sizes created in tmp/, "
        f"renamed into cur/ with their dates, cur/ fsynced once at the folder's end as the engine "
        f"does) {phases['disk']:.2f} s, of which the fsyncs "
        f"{phases['disk'] - phases.get('disk_nosync', phases['disk']):.2f} s (the same files "
        f"without them: {phases.get('disk_nosync', 0.0):.2f} s). "
        f"Interpreter start and imports (`o365imap --version`): {report.startup_seconds:.2f} s, "
        f"{report.startup_rss_mb:.0f} MB. Sum: "
        f"{report.startup_seconds + phases['listing'] + phases['fetch'] + phases['disk']:.2f} s "
        f"against {ours.seconds:.2f} s measured whole (the phases ran apart, at another "
        "moment: on this machine, an ext4 virtual disk shared with other jobs, creating a small "
        "file costs from 60 to 500 µs from one minute to the next). The second raw row does "
        "the same file work as the Maildir with nothing else: the disk, not the protocol or "
        "the parser, is what a 20,000-message export waits for. mbsync runs with its default "
        "`FSync yes`; offlineimap3 with its defaults."
        if ours.ok
        else "",
        "",
        f"### b. `{big.folder}`: one message of {big.message_size / MB:.0f} MB "
        f"(an attachment of {big.size / MB:g} MB, base64)",
        "",
        *head,
        _cell(rows["raw-big"], None),
        _cell(rows["ours-big"], rows["raw-big"]),
        _cell(rows["small"], None),
        "",
        f"### d. Every folder of the test bed ({report.folders} folders, `Bulk` and "
        f"`{big.folder}` among them), one connection or four",
        "",
        *head,
        _cell(rows["jobs1"], None),
        _cell(rows["jobs4"], rows["jobs1"]),
        "",
        "(d's last column is against `--jobs 1`.)",
        "",
        "### e. Several mailboxes at once: `Bulk` exported by 1, 2 and 4 processes at once, "
        "each into its own destination",
        "",
        *head,
        _cell(ours, None),
        _cell(rows["at-once-2"], ours),
        _cell(rows["at-once-4"], ours),
        "",
        "(e: time and MB/s are for all of them together, peak RSS is the largest process's, "
        "the last column is against one export. Dovecot, TLS on both ends and the exports "
        "share the same 2 cores here.)",
        "",
        "Targets:",
        "",
        *targets(report),
    ]
    if rows["ours-big"].ok and rows["small"].ok:
        lines.append(
            f"- Peak RSS exporting {big.message_size / MB:.0f} MB in one message: "
            f"{rows['ours-big'].rss_mb:.0f} MB; a folder of {rows['small'].messages} small "
            f"messages: {rows['small'].rss_mb:.0f} MB; the {raw.messages:,}-message folder: "
            f"{ours.rss_mb:.0f} MB."
        )
    lines += ["", MARK_END]
    return "\n".join(lines)


def main() -> ExportReport:
    """Only this benchmark, in a Dovecot of its own; updates its section of the report."""
    with own_dovecot("export", USER) as (server, work):
        report = run(server, work)
    print(report.markdown)
    update_doc(report.markdown, DOC, marks=(MARK_START, MARK_END))
    json.dump(report.summary(), sys.stderr)
    print(file=sys.stderr)
    return report


if __name__ == "__main__":
    if sys.argv[1:2] and sys.argv[1] in WORKERS:
        WORKERS[sys.argv[1]](sys.argv[2:])
    else:
        main()
