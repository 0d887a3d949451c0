"""o365imap search (being written)."""

from __future__ import annotations
