"""o365imap tui (being written)."""

from __future__ import annotations
