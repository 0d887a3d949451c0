"""Install the Debian packages the tests and the sandbox need, or say exactly what is missing.

Dovecot is the real IMAP server of the tests and the sandbox; Chromium is the real browser of
the sign-in tests (driven by Playwright through its system executable: browser downloads are
neither wanted nor possible here).

Run by `make test` and `make demo` in the project's venv, before anything else uses Dovecot.
Installs through apt-get only when the user is root; otherwise prints the one command to run and
fails. Presence is not enough: the Dovecot found is probed (o365imap.sandbox.dovecot_probe,
the check the sandbox itself runs), and one that cannot run the sandbox is upgraded (as root) or
named with the command that fixes it.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys

# binary that proves the package is there -> Debian package that ships it
SANDBOX = {
    "/usr/sbin/dovecot": "dovecot-core",
    "/usr/lib/dovecot/imap": "dovecot-imapd",
    # the sandbox's SMTP submission server and its delivery into the mailboxes
    "/usr/lib/dovecot/submission": "dovecot-submissiond",
    "/usr/lib/dovecot/lmtp": "dovecot-lmtpd",
}
# what only the tests run: a real browser, and other mail clients against the sandbox
NEEDED = {
    **SANDBOX,
    "/usr/bin/chromium": "chromium",
    # Other mail clients run against the sandbox (tests/test_sandbox_clients.py); mbsync
    # needs Cyrus SASL's XOAUTH2 plugin, neomutt is driven in tmux.
    "/usr/bin/mbsync": "isync",
    "/usr/lib/*/sasl2/libkdexoauth2.so": "libsasl2-modules-kdexoauth2",  # any architecture
    "/usr/bin/neomutt": "neomutt",
    "/usr/bin/offlineimap": "offlineimap3",
    "/usr/bin/tmux": "tmux",
}


def _can_install() -> bool:
    return os.geteuid() == 0 and shutil.which("apt-get") is not None


def _apt(*args: str) -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", *args], check=True, env=env)


def install_missing(needed: dict[str, str]) -> int:
    missing = sorted({pkg for path, pkg in needed.items() if not glob.glob(path)})
    if not missing:
        return 0
    if not _can_install():
        print(
            "o365imap's tests and sandbox need these Debian packages. Install them with:\n"
            f"  sudo apt-get install -y --no-install-recommends {' '.join(missing)}",
            file=sys.stderr,
        )
        return 1
    print(f"installing {' '.join(missing)} with apt-get", file=sys.stderr)
    _apt("install", "-y", "-qq", "--no-install-recommends", *missing)
    return 0


def check_dovecot() -> int:
    """Probe the Dovecot the sandbox will use; upgrade it (as root) when it cannot serve."""
    from o365imap.errors import SandboxError
    from o365imap.sandbox.dovecot_probe import probe
    from o365imap.sandbox.dovecot_process import UPGRADE_COMMAND, DovecotInstall

    install = DovecotInstall.find()
    try:
        features = probe(install)
    except SandboxError as exc:
        if not _can_install() or install.root is not None:
            print(f"o365imap: {exc}", file=sys.stderr)
            return 1
        print(f"o365imap: {exc}\nupgrading Dovecot with apt-get", file=sys.stderr)
        _apt(*UPGRADE_COMMAND.split()[1:], "-y", "-qq")
        probe.cache_clear()
        install = DovecotInstall.find()
        try:
            features = probe(install)
        except SandboxError as again:
            print(f"o365imap: {again}", file=sys.stderr)
            return 1
    if not features.audience:
        # Not a reason to fail or to upgrade behind the user's back: the sandbox works, and
        # this is the Dovecot some users have (Ubuntu's 2.3, Debian 12 before deb12u7).
        print(
            f"note: Dovecot {features.version} cannot check a token's audience itself; "
            f"{features.describe_audience().split('; ', 1)[1]}. "
            f"`sudo {UPGRADE_COMMAND}` adds the check where the update exists.",
            file=sys.stderr,
        )
    return 0


def main(argv: list[str]) -> int:
    # `make demo` needs the sandbox only; `make test` (the default) everything
    needed = SANDBOX if argv[1:] == ["--for", "demo"] else NEEDED
    return install_missing(needed) or check_dovecot()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
