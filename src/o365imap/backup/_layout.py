"""Folder names on disk: the mailbox's tree kept, every name readable, no two names alike.

A folder ``Projekte/Übersicht`` becomes the directory ``Projekte/Übersicht`` (UTF-8, as a person
reads it), under the export's destination. Only what a file system or a Maildir cannot hold is
escaped, as ``%XX`` of its UTF-8 bytes: ``%`` itself (so the mapping goes back), ``/`` inside
a name (a server whose delimiter is another character), control characters, a leading ``.``
(hidden files, ``..``), and the Maildir's own ``cur``, ``new`` and ``tmp`` (a folder of that
name would be read as the parent's messages). So are names the stores' own files have beside a
subfolder's directory: ``dovecot-keywords`` and what a Dovecot serving the export writes
(``dovecot*``, ``maildirfolder``, ``subscriptions``), the eml store's ``index.json`` and
``<uid>.eml``, and an mbox's ``<name>.mbox`` (its ``.`` escaped: the folder ``A.mbox``'s
children would be a directory where the folder ``A``'s file is). Two different names never meet
on disk, and ``name_of(path_of(name)) == name``.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

__all__ = ["component", "folder_path", "unescape"]

_RESERVED = {"cur", "new", "tmp"}
# the stores' files beside a subfolder's directory (and Dovecot's, when it serves the export)
_FILES = re.compile(r"dovecot.*|maildirfolder|subscriptions|index\.json|\d+\.eml", re.I)
_MBOX = re.compile(r"\.(mbox)\Z", re.I)
_ESCAPED = re.compile(r"[%/\\\x00-\x1f\x7f]")
_MAX = 200  # bytes of a component: file systems stop at 255, room for ".mbox" and escapes


def _hex(match: re.Match[str]) -> str:
    return "".join(f"%{byte:02X}" for byte in match.group(0).encode("utf-8"))


def component(name: str) -> str:
    """One part of a folder's name as a directory or file name."""
    escaped = _ESCAPED.sub(_hex, name)
    if escaped.startswith(".") or not escaped:
        escaped = "%2E" + escaped[1:] if escaped else "%00"
    if escaped.lower() in _RESERVED or _FILES.fullmatch(escaped):
        escaped = "%" + f"{ord(escaped[0]):02X}" + escaped[1:]  # ASCII: both patterns say so
    escaped = _MBOX.sub(r"%2E\1", escaped)
    if len(escaped.encode("utf-8")) > _MAX:
        raise ValueError(f"a folder name too long to keep on disk: {name[:40]!r}...")
    return escaped


def unescape(text: str) -> str:
    """``component``'s inverse."""
    if text == "%00":
        return ""
    data = re.sub(
        r"(?:%[0-9A-F]{2})+",
        lambda m: bytes.fromhex(m.group(0).replace("%", "")).decode("utf-8", "surrogateescape"),
        text,
    )
    return data


def folder_path(name: str, delimiter: str | None) -> PurePosixPath:
    """Where folder ``name`` goes, relative to the destination (its hierarchy as directories)."""
    parts = name.split(delimiter) if delimiter else [name]
    return PurePosixPath(*(component(part) for part in parts))
