"""Find Dovecot, run one instance of it, and say in one sentence why it did not start.

:class:`DovecotInstall` is where a Dovecot lives and how to run it: the system's own
(``/usr/sbin/dovecot``, or the first ``dovecot`` on PATH), or one inside another system's root
run with ``chroot`` (how the test bed tries Debian 13's Dovecot 2.4 on a Debian 12 machine:
``O365IMAP_DOVECOT_ROOT``). Paths handed to a chrooted Dovecot are translated to what it sees.

:class:`DovecotProcess` starts ``dovecot -F`` in a session of its own, waits for the IMAP
greeting, and stops the whole process group. A start that fails ends in
:class:`DovecotStartError` whose message is one sentence: Dovecot's own error line and the fix,
when one is known. Stdlib only: the capability probe and ``scripts/system_deps.py`` use it too.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from o365imap.errors import SandboxError, UsageError

from .dovecot_config import ProcessIdentity

__all__ = [
    "UPGRADE_COMMAND",
    "DovecotError",
    "DovecotInstall",
    "DovecotNotInstalled",
    "DovecotProcess",
    "DovecotStartError",
    "PortsInUse",
    "explain_failure",
    "free_ports",
    "ports_in_use",
    "process_identity",
]

HOST = "127.0.0.1"
START_TIMEOUT = 10.0
_STOP_GRACE = 0.5
UPGRADE_COMMAND = "apt-get install --only-upgrade dovecot-core dovecot-imapd"
INSTALL_COMMAND = "apt-get install dovecot-imapd"
ROOT_VARIABLE = "O365IMAP_DOVECOT_ROOT"
BINARY_VARIABLE = "O365IMAP_DOVECOT"
_SYSTEM_BINARY = Path("/usr/sbin/dovecot")
# Dovecot refuses uid 0 for mail; 5000 is the uid its own documentation uses for virtual users.
ROOT_MAIL_UID = 5000


class DovecotError(SandboxError):
    """The sandbox's Dovecot could not be set up or run; the message says why and what to do."""


class PortsInUse(DovecotError, UsageError):
    """A port asked for by number is taken (a usage error: exit 1, not 3)."""


class DovecotNotInstalled(DovecotError):
    """No Dovecot where one was looked for."""

    def __init__(self, binary: Path) -> None:
        super().__init__(
            f"Dovecot is not installed ({binary} is missing): run `{INSTALL_COMMAND}` (as root)"
        )


class DovecotStartError(DovecotError):
    """Dovecot did not come up. ``log_excerpt`` keeps what its logs said since the start."""

    def __init__(self, message: str, log_excerpt: str = "") -> None:
        super().__init__(message)
        self.log_excerpt = log_excerpt


@dataclass(frozen=True)  # no slots: cached_property keeps the version in __dict__
class DovecotInstall:
    """A Dovecot binary, and the system root it runs in (``None``: this system's own)."""

    binary: Path = _SYSTEM_BINARY  # as seen inside ``root``
    root: Path | None = None

    @classmethod
    def find(cls, environ: Mapping[str, str] = os.environ) -> DovecotInstall:
        """The Dovecot to use: ``O365IMAP_DOVECOT_ROOT`` (a system root with Dovecot inside,
        run through chroot; needs root), else ``O365IMAP_DOVECOT`` (a binary), else the
        system's ``/usr/sbin/dovecot`` or the first ``dovecot`` on PATH."""
        root = environ.get(ROOT_VARIABLE)
        if root:
            return cls(Path(environ.get(BINARY_VARIABLE) or _SYSTEM_BINARY), Path(root).resolve())
        binary = environ.get(BINARY_VARIABLE)
        if binary:
            return cls(Path(binary))
        if _SYSTEM_BINARY.exists():
            return cls(_SYSTEM_BINARY)
        found = shutil.which("dovecot", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
        return cls(Path(found) if found else _SYSTEM_BINARY)

    @property
    def host_binary(self) -> Path:
        """The binary's path on this system."""
        return self.on_host(self.binary)

    def on_host(self, inside: Path) -> Path:
        """A path as Dovecot sees it -> the same file's path here."""
        if self.root is None:
            return inside
        return self.root / inside.relative_to("/")

    def inside(self, path: Path) -> Path:
        """A path here -> the same file as Dovecot sees it (it must be below the root)."""
        if self.root is None:
            return path
        try:
            # abspath, not resolve(): a link below the root (the folder's alias) must stay one
            return Path("/") / Path(os.path.abspath(path)).relative_to(self.root)
        except ValueError:
            raise DovecotError(
                f"{path} is outside {self.root}, the system root Dovecot runs in "
                f"({ROOT_VARIABLE}): keep the sandbox's folder below it"
            ) from None

    def temp_parent(self) -> Path | None:
        """Where to make a short private folder Dovecot can see (None: the system's default)."""
        if self.root is None:
            return None
        return self.root / "tmp"  # mkdtemp below it makes a private (0700) folder

    def command(self, *args: str) -> list[str]:
        if self.root is None:
            return [str(self.binary), *args]
        return ["chroot", str(self.root), str(self.binary), *args]

    def require(self) -> None:
        """DovecotNotInstalled unless the binary exists (and, chrooted, that we are root)."""
        if not self.host_binary.exists():
            raise DovecotNotInstalled(self.host_binary)
        if self.root is not None and os.geteuid() != 0:
            raise DovecotError(f"running Dovecot inside {self.root} needs root (chroot)")

    @cached_property
    def version(self) -> str:
        """``dovecot --version`` ("2.3.19.1 (9b53102964)"), or "" when it does not answer."""
        try:
            done = subprocess.run(
                self.command("--version"), capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    def has_user(self, name: str) -> bool:
        """Whether Dovecot's system has the user ``name`` (read from its own /etc/passwd)."""
        if self.root is None:
            try:
                pwd.getpwnam(name)
            except KeyError:
                return False
            return True
        passwd = self.root / "etc" / "passwd"
        with contextlib.suppress(OSError):
            return any(line.split(":", 1)[0] == name for line in passwd.read_text().splitlines())
        return False

    def check_config(self, config: Path) -> str | None:
        """None if Dovecot accepts the configuration file, else its error line (doveconf)."""
        try:
            done = subprocess.run(
                self.command("-n", "-c", str(self.inside(config))),
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise DovecotError(f"{self.host_binary} -n gave no answer in 30 s") from None
        except OSError as exc:  # no chroot, or the binary is not executable
            raise DovecotError(f"cannot run {self.command()[0]}: {exc.strerror}") from None
        if done.returncode == 0:
            return None
        return _error_line(done.stderr + done.stdout) or f"exit status {done.returncode}"


def process_identity(install: DovecotInstall) -> ProcessIdentity:
    """Which users Dovecot's processes run as, for whoever runs this.

    Run as an ordinary user, every Dovecot process runs as that user. Run as root (CI
    containers), two Dovecot rules apply: login processes refuse root (they run as
    ``dovenull``, chrooted as Dovecot intends) and mail processes refuse uid 0, so mail
    belongs to uid/gid 5000 and each user is chrooted into the mail folder. The chroot happens
    while still root, so a private folder (mode 0700) holding it all need not be opened up.
    """
    if os.geteuid() == 0:
        for name in ("dovenull", "nobody"):
            if install.has_user(name):
                return ProcessIdentity(True, name, "root", "root", ROOT_MAIL_UID, ROOT_MAIL_UID)
        raise DovecotError("running as root needs an unprivileged user 'dovenull' or 'nobody'")
    uid, gid = os.getuid(), os.getgid()
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        raise DovecotError(f"uid {uid} has no passwd entry; Dovecot needs a user name") from None
    try:
        group = grp.getgrgid(gid).gr_name
    except KeyError:
        raise DovecotError(f"gid {gid} has no group entry; Dovecot needs a group name") from None
    return ProcessIdentity(False, user, user, group, uid, gid)


def free_ports(count: int) -> list[int]:
    """``count`` different ports free on 127.0.0.1 now (held open together while picked)."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind((HOST, 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def ports_in_use(ports: Iterable[int]) -> list[int]:
    """Those of ``ports`` that something on 127.0.0.1 already listens on or holds."""
    taken = []
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            # as servers bind: SO_REUSEADDR, so a port in TIME_WAIT counts as free
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((HOST, port))
            except OSError:
                taken.append(port)
    return taken


# -- failures in one sentence --------------------------------------------------------------------

# Dovecot's log lines: "Dec 05 10:00:00 auth: Fatal: ..." or "doveconf: Fatal: ...".
_PROBLEM = re.compile(r"(?:Fatal|Error|Panic): (.*)")
_UNKNOWN_SETTING = re.compile(r"Unknown setting: (\S+)")


def _error_line(text: str) -> str:
    """The first fatal line of a log, else the first error line, without the timestamp."""
    for level in ("Fatal", "Panic", "Error"):
        for line in text.splitlines():
            if f"{level}: " in line:
                match = _PROBLEM.search(line)
                if match:
                    return match.group(1).strip()
    return ""


def explain_failure(
    install: DovecotInstall, log: str, what: str = "did not start", log_path: Path | None = None
) -> str:
    """One sentence: which Dovecot failed, its own error line, and the fix when one is known."""
    version = install.version.split(" ", 1)[0] or "(version unknown)"
    line = _error_line(log)
    said = f": {line}" if line else ""
    where = f" in {install.root}" if install.root is not None else ""
    unknown = _UNKNOWN_SETTING.search(line)
    if unknown:
        upgrade = (
            f"`{UPGRADE_COMMAND}` (as root)"
            if shutil.which("apt-get")
            else "your system's package manager"
        )
        fix = (
            f"this Dovecot does not know the setting {unknown.group(1)}; upgrade it with "
            f"{upgrade}, or report this with its version"
        )
    elif "Address already in use" in log:
        fix = "another program holds the port: choose another or stop that program"
    elif "Permission denied" in log:
        fix = "check that the sandbox's folder is yours and not on a noexec or read-only mount"
    elif log_path is not None:
        fix = f"its log: {log_path}"
    else:
        fix = "run it by hand to see why"
    return f"Dovecot {version}{where} {what}{said} ({fix})"


# -- one running instance ------------------------------------------------------------------------


class DovecotProcess:
    """``dovecot -F -c CONFIG`` in a session of its own, stopped with its whole process group."""

    def __init__(
        self,
        install: DovecotInstall,
        config: Path,
        *,
        logs: Sequence[Path],
        stderr: Path,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.install = install
        self.config = config
        self.logs = (*logs, stderr)
        self.stderr = stderr
        self.env = dict(env) if env is not None else dict(os.environ)
        self._process: subprocess.Popen[bytes] | None = None
        self._offsets: list[int] = []

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, ports: Sequence[int], timeout: float = START_TIMEOUT) -> None:
        """Spawn Dovecot; return once each port accepts connections and port[0] greets.

        Fails early, on the first fatal line of its logs, rather than at the deadline: an auth
        process that rejects its configuration would otherwise leave logins hanging.
        """
        self._offsets = [p.stat().st_size if p.exists() else 0 for p in self.logs]
        with open(self.stderr, "ab") as err:
            self._process = subprocess.Popen(
                self.install.command("-F", "-c", str(self.install.inside(self.config))),
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
                start_new_session=True,  # its own process group: one killpg stops everything
                env=self.env,
            )
        try:
            self._wait_ready(ports, timeout)
        except BaseException:
            self.stop()
            raise

    def logged_since_start(self) -> str:
        parts = []
        for path, offset in zip(self.logs, self._offsets, strict=True):
            with contextlib.suppress(OSError), open(path, "rb") as log:
                log.seek(offset)
                parts.append(log.read().decode("utf-8", "replace"))
        return "\n".join(p for p in parts if p)

    def _fail(self, what: str) -> DovecotStartError:
        log = self.logged_since_start()
        return DovecotStartError(explain_failure(self.install, log, what, self.logs[0]), log)

    def _wait_ready(self, ports: Sequence[int], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            process = self._process
            assert process is not None
            if process.poll() is not None:
                raise self._fail(f"exited with status {process.returncode}")
            if "Fatal: " in self.logged_since_start():
                raise self._fail("failed")
            with contextlib.suppress(OSError):
                if _greets(ports[0]) and all(_accepts(port) for port in ports[1:]):
                    return
            if time.monotonic() > deadline:
                raise self._fail(f"gave no IMAP greeting within {timeout:.0f} s")
            time.sleep(0.005)

    def stop(self) -> None:
        """Stop Dovecot and every process it started (they share its process group)."""
        process = self._process
        self._process = None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=_STOP_GRACE)
        except subprocess.TimeoutExpired:
            # Stopped just after start, the master waits ~6 s for a login process it was
            # still spawning; nothing in the group needs a clean shutdown.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _greets(port: int) -> bool:
    with socket.create_connection((HOST, port), timeout=2) as sock:
        reader = sock.makefile("rb")
        # Dovecot may first say "* OK Waiting for authentication process to respond.."
        # while its auth process starts; the real greeting follows.
        for _ in range(3):
            line = reader.readline()
            if not line:
                return False
            if line.startswith(b"* OK [CAPABILITY"):
                return True
    return False


def _accepts(port: int) -> bool:
    # the TLS listener comes from the same process: accepting a connection is enough
    with socket.create_connection((HOST, port), timeout=2):
        return True
