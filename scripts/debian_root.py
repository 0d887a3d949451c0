"""Build a Debian 13 (trixie) system root with Dovecot 2.4 in it, for ``make test-dovecot24``.

The test bed runs that Dovecot through ``chroot`` (``O365IMAP_DOVECOT_ROOT=ROOT``), so a Debian
12 machine tests the sandbox against both configuration languages without touching its own
Dovecot. The root is made by debootstrap, from the Debian mirror apt already uses here.

Idempotent: a stamp file in the root records a finished build (and the command that made it);
a rerun with the same command does nothing. A root without the stamp is a build that was
interrupted: it is removed (after unmounting anything left below it) and built again. A folder
this script did not start is never removed. Needs root (debootstrap and chroot do).

    python3 scripts/debian_root.py [--root ROOT] [--mirror URL]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

SUITE = "trixie"
PACKAGES = ("dovecot-imapd", "dovecot-core", "dovecot-submissiond", "dovecot-lmtpd", "openssl")
DEFAULT_ROOT = Path(__file__).resolve().parent.parent / ".cache" / "debian13"
STAMP = ".o365imap-root-built"  # written last: the build finished
MARK = ".o365imap-root-building"  # written first: this folder is ours to remove
APT_SOURCES = Path("/etc/apt")


class RootError(Exception):
    """Why the root could not be built, in one sentence with the fix."""


# -- which mirror ---------------------------------------------------------------------------------


def _deb822_paragraphs(text: str) -> Iterable[dict[str, str]]:
    """The stanzas of a deb822 ``.sources`` file, field names lower-cased; comments dropped."""
    fields: dict[str, str] = {}
    name = ""
    for raw in [*text.splitlines(), ""]:
        if raw.startswith("#"):
            continue
        if not raw.strip():
            if fields:
                yield fields
            fields, name = {}, ""
        elif raw[0].isspace() and name:  # a continuation line
            fields[name] += " " + raw.strip()
        elif ":" in raw:
            name, value = raw.split(":", 1)
            name = name.strip().lower()
            fields[name] = value.strip()


def _one_line_entries(text: str) -> Iterable[tuple[str, str]]:
    """(URI, suite) of each ``deb`` line of a one-line-style ``.list`` file."""
    for raw in text.splitlines():
        words = raw.split("#", 1)[0].split()
        if not words or words[0] != "deb":
            continue
        words = words[1:]
        if words and words[0].startswith("["):  # options: [arch=amd64 signed-by=...]
            while words and not words[0].endswith("]"):
                words = words[1:]
            words = words[1:]
        if len(words) >= 2:
            yield words[0], words[1]


def _is_main_archive(suite: str) -> bool:
    # the security archive and suite-relative or flat entries ("./") cannot serve debootstrap
    return "/" not in suite and not suite.endswith("-security")


def apt_mirror(etc_apt: Path = APT_SOURCES) -> str:
    """The first Debian archive URI apt uses here (sources.list, then sources.list.d/*)."""
    candidates: list[tuple[str, str]] = []
    files = [etc_apt / "sources.list"]
    folder = etc_apt / "sources.list.d"
    if folder.is_dir():
        files += sorted(p for p in folder.iterdir() if p.suffix in (".list", ".sources"))
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        if path.suffix == ".sources":
            for stanza in _deb822_paragraphs(text):
                if "deb" not in stanza.get("types", "").split():
                    continue
                if stanza.get("enabled", "yes").lower() == "no":
                    continue
                candidates += [
                    (uri, suite)
                    for uri in stanza.get("uris", "").split()
                    for suite in stanza.get("suites", "").split()
                ]
        else:
            candidates += list(_one_line_entries(text))
    for uri, suite in candidates:
        if _is_main_archive(suite) and uri.startswith(("http://", "https://", "file:/")):
            return uri.rstrip("/")
    raise RootError(
        f"no Debian archive found in {etc_apt}/sources.list or sources.list.d: "
        "give one with --mirror (e.g. http://deb.debian.org/debian)"
    )


# -- mounts and removal ---------------------------------------------------------------------------


def _unescape_mount_path(field: str) -> str:
    # /proc/self/mounts writes space, tab, newline and backslash as octal escapes
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def mounts_below(root: Path) -> list[Path]:
    """Mount points at or below ``root``, deepest first (the order to unmount them in)."""
    found = []
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        for line in mounts:
            point = Path(_unescape_mount_path(line.split()[1]))
            if point == root or root in point.parents:
                found.append(point)
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def unmount_below(root: Path) -> None:
    """Unmount whatever an interrupted debootstrap left mounted (/proc, /sys, ...) in ``root``."""
    for point in mounts_below(root):
        subprocess.run(["umount", str(point)], check=False)
    left = mounts_below(root)
    if left:
        raise RootError(
            f"still mounted below {root}: {', '.join(map(str, left))}; unmount them "
            "(umount -l PATH) and run this again"
        )


def processes_inside(root: Path) -> list[int]:
    """Pids of processes whose root directory is ``root`` or below it (dpkg, a Dovecot)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                seen = Path(os.readlink(entry / "root"))
            except OSError:
                continue  # gone meanwhile, or not ours to look at
            if seen == root or root in seen.parents:
                found.append(int(entry.name))
    return found


def remove_half_built(root: Path) -> None:
    """Remove an interrupted build, never a folder this script did not start."""
    if not root.exists():
        return
    if not (root / MARK).exists() and any(root.iterdir()):
        raise RootError(
            f"{root} exists but was not made by this script (no {MARK} in it): "
            "remove it yourself or choose another --root"
        )
    running = processes_inside(root)
    if running:
        # an earlier build still at work (or a Dovecot in it): removing files under it fails
        raise RootError(
            f"processes still run inside {root} (pids {', '.join(map(str, running))}): "
            "stop them, then run this again"
        )
    # rmtree would follow a mounted /proc or /dev into the host's own files: unmount first
    unmount_below(root)
    print(f"removing the unfinished root {root}", file=sys.stderr)
    shutil.rmtree(root)


# -- the build -----------------------------------------------------------------------------------


def debootstrap_command(root: Path, mirror: str) -> list[str]:
    return [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(PACKAGES)}",
        SUITE,
        str(root),
        mirror,
    ]


def _run(command: Sequence[str], what: str) -> None:
    """Run ``command`` in a session of its own; stopped with all it started if we are.

    debootstrap ignores SIGINT and goes on unpacking after a Ctrl-C: stopped by its process
    group, it leaves nothing running that could remount or rewrite the root.
    """
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        process = subprocess.Popen(command, env=env, start_new_session=True)
    except FileNotFoundError:
        raise RootError(f"{what}: {command[0]} is not installed") from None
    try:
        status = process.wait()
    except BaseException:
        _stop_group(process)
        raise
    if status != 0:
        raise RootError(f"{what} failed (exit status {status}): {' '.join(command)}")


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break  # the group is gone
        try:
            process.wait(timeout=30)
            break
        except subprocess.TimeoutExpired:
            continue


def ensure_debootstrap() -> None:
    if shutil.which("debootstrap", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin"):
        return
    if shutil.which("apt-get") is None:
        raise RootError("debootstrap is missing and there is no apt-get to install it with")
    print("installing debootstrap with apt-get", file=sys.stderr)
    _run(["apt-get", "install", "-y", "-qq", "debootstrap"], "installing debootstrap")


def built_already(root: Path) -> bool:
    """Whether ``root`` holds a finished build of this suite with these packages."""
    stamp = root / STAMP
    return stamp.exists() and stamp.read_text(encoding="utf-8").strip() == _recorded()


def _recorded() -> str:
    # what the root holds, not where it came from: another mirror is no reason to rebuild
    return f"{SUITE} {' '.join(PACKAGES)}"


def build(root: Path, mirror: str) -> None:
    """Make ``root`` a Debian 13 root with Dovecot, from scratch."""
    command = debootstrap_command(root, mirror)
    if os.geteuid() != 0:
        raise RootError("building the root needs root (debootstrap, chroot): run it as root")
    ensure_debootstrap()
    remove_half_built(root)
    root.mkdir(parents=True)
    (root / MARK).touch()
    try:
        _run(command, "debootstrap")
        # the package cache is 50 MB nobody reads again
        _run(["chroot", str(root), "apt-get", "clean"], "apt-get clean in the root")
    finally:
        # debootstrap unmounts what it mounted, also on failure; make sure of it
        unmount_below(root)
    for binary in ("usr/sbin/dovecot", "usr/bin/doveconf", "usr/lib/dovecot/imap"):
        if not (root / binary).exists():
            raise RootError(f"the root was built but /{binary} is missing in it")
    (root / STAMP).write_text(_recorded() + "\n", encoding="utf-8")
    (root / MARK).unlink()


def dovecot_version(root: Path) -> str:
    done = subprocess.run(
        ["chroot", str(root), "/usr/sbin/dovecot", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "(no answer to dovecot --version)"


def _interrupt(_signal: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="default: %(default)s")
    parser.add_argument("--mirror", help="Debian mirror (default: the one apt uses here)")
    args = parser.parse_args(argv)
    # a SIGTERM (timeout, make killed) ends the build through its cleanup, as a Ctrl-C does
    signal.signal(signal.SIGTERM, _interrupt)
    root: Path = args.root.resolve()
    start = time.monotonic()
    built = not built_already(root)
    try:
        if built:
            build(root, args.mirror or apt_mirror())
    except RootError as exc:
        print(f"debian_root: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"debian_root: interrupted; the next run builds {root} again", file=sys.stderr)
        return 130
    took = time.monotonic() - start
    what = "built" if built else "already built"
    print(f"Debian 13 root {what} in {took:.1f} s: {root}, Dovecot {dovecot_version(root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
