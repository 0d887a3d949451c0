"""Install the Debian packages the tests and the sandbox need, or say exactly what is missing.

Dovecot is the real IMAP server of the tests and the sandbox; Chromium is the real browser of
the sign-in tests (driven by Playwright through its system executable: browser downloads are
neither wanted nor possible here).

Run by `make test` and `make demo` before anything else. Installs through apt-get only when the
user is root; otherwise prints the one command to run and fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

# binary that proves the package is there -> Debian package that ships it
NEEDED = {
    "/usr/sbin/dovecot": "dovecot-core",
    "/usr/lib/dovecot/imap": "dovecot-imapd",
    "/usr/bin/chromium": "chromium",
}


def main() -> int:
    missing = sorted({pkg for path, pkg in NEEDED.items() if not os.path.exists(path)})
    if not missing:
        return 0
    packages = missing
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        print(
            "o365imap's tests and sandbox need these Debian packages. Install them with:\n"
            f"  sudo apt-get install -y --no-install-recommends {' '.join(packages)}",
            file=sys.stderr,
        )
        return 1
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    print(f"installing {' '.join(packages)} with apt-get", file=sys.stderr)
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
        check=True,
        env=env,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
