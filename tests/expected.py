"""The answer key, in the CLI's JSON shape, computed from the seed data (never from a parser)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from o365imap.sandbox.seed import SeedGroup, SeedMessage


def addresses(entries: tuple[Any, ...]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for entry in entries:
        if isinstance(entry, SeedGroup):
            out.append(
                {
                    "group": entry.name,
                    "members": [{"name": m.name, "email": m.email} for m in entry.members],
                }
            )
        else:
            out.append({"name": entry.name, "email": entry.email})
    return out


def message(seed: SeedMessage, seq: int) -> dict[str, Any]:
    return {
        "seq": seq,
        "uid": seed.uid,
        "flags": sorted(seed.flags),
        "size": seed.size,
        "internal_date": seed.internal_date,
        "date": seed.expected_date,
        "subject": seed.subject,
        "from": addresses(seed.from_),
        "sender": addresses(seed.envelope_sender),
        "reply_to": addresses(seed.envelope_reply_to),
        "to": addresses(seed.to),
        "cc": addresses(seed.cc),
        "bcc": addresses(seed.bcc),
        "in_reply_to": seed.in_reply_to,
        "message_id": seed.message_id,
    }


def normalise(got: dict[str, Any]) -> dict[str, Any]:
    """A listed message in the answer key's terms: dates as datetimes, \\Recent dropped."""
    out = dict(got)
    out["flags"] = sorted(f for f in got["flags"] if f != "\\Recent")
    for key in ("internal_date", "date"):
        out[key] = datetime.fromisoformat(got[key]) if got[key] is not None else None
    return out


def mismatches(got: dict[str, Any], seed: SeedMessage, seq: int) -> list[str]:
    """Field-by-field differences; dates must be the same instant and the same UTC offset
    (the header's own offset is part of what the user sees)."""
    want = message(seed, seq)
    have = normalise(got)
    problems = []
    for key, value in want.items():
        if key == "internal_date":
            # Dovecot reports INTERNALDATE in its own zone: compare the instant only.
            if have[key] != value:
                problems.append(f"{key}: {have[key]} != {value}")
        elif key == "date" and value is not None:
            if have[key] != value or have[key].utcoffset() != value.utcoffset():
                problems.append(f"{key}: {have[key]!r} != {value!r}")
        elif have.get(key) != value:
            problems.append(f"{key}: {have.get(key)!r} != {value!r}")
    return problems
