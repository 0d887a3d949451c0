"""What a sandbox folder remembers between runs: its ports, and what its Dovecot can do.

``sandbox.json`` in the sandbox's folder. The ports come back on the next start in the same
folder (when free), so the configurations given to other mail clients (mbsync, neomutt,
offlineimap) and the saved profile's sign-in address keep working; the Dovecot features let
``o365imap doctor`` say how this sandbox checks a token's audience without starting anything.
Written atomically; a damaged file is ignored (the next start rewrites it).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from o365imap._files import write_text_atomically

from .dovecot_config import Features

__all__ = ["STATE_FILE", "SandboxPorts", "SandboxState", "find_state"]

STATE_FILE = "sandbox.json"


@dataclass(frozen=True, slots=True)
class SandboxPorts:
    """The sandbox's ports on 127.0.0.1; ``None``: any free one."""

    imap: int | None = None  # plain IMAP, STARTTLS
    imaps: int | None = None  # implicit TLS, as outlook.office365.com:993
    identity: int | None = None  # the identity platform (HTTPS)
    submission: int | None = None  # SMTP submission, STARTTLS, as smtp.office365.com:587
    submissions: int | None = None  # SMTP submission over implicit TLS (465's way)


@dataclass(frozen=True, slots=True)
class SandboxState:
    ports: SandboxPorts
    dovecot: Features | None = None

    def save(self, root: Path) -> None:
        data = {
            "ports": asdict(self.ports),
            "dovecot": asdict(self.dovecot) if self.dovecot else None,
        }
        write_text_atomically(root / STATE_FILE, json.dumps(data, indent=2) + "\n")

    @classmethod
    def load(cls, root: Path) -> SandboxState | None:
        """The state saved in ``root``, or None (none yet, or unreadable: it is only a hint)."""
        try:
            data = json.loads((root / STATE_FILE).read_text("utf-8"))
            ports = SandboxPorts(**{k: _port(v) for k, v in data["ports"].items()})
            dovecot = data.get("dovecot")
            features = (
                Features(
                    dialect="2.4" if dovecot["dialect"] == "2.4" else "2.3",
                    audience=bool(dovecot["audience"]),
                    version=str(dovecot.get("version", "")),
                )
                if isinstance(dovecot, dict)
                else None
            )
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return None
        return cls(ports, features)


def _port(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 65536:
        return value
    raise ValueError(f"not a port: {value!r}")


def find_state(ca_file: str | Path | None) -> SandboxState | None:
    """The state of the sandbox whose CA is ``ca_file`` (``<folder>/tls/ca.pem``), if any."""
    if not ca_file:
        return None
    return SandboxState.load(Path(ca_file).parent.parent)
