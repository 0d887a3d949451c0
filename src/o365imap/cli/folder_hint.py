"""What a wrong folder name is told: where the names are, and the one most likely meant.

The server's refusal says only that the folder does not exist. On that error path (never
before: a command that works costs no extra round trip) one LIST gives the folders, and the
sentence names the closest: the same name in another case, the folder with the special use
the word means ("Deleted" or "Trash" is Office 365's "Deleted Items", RFC 6154 ``\\Trash``),
or a near spelling.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from o365imap import FolderNotFound, O365ImapError

if TYPE_CHECKING:
    from o365imap import ImapClient
    from o365imap.models import Folder

__all__ = ["closest_folder", "with_folder_hint"]

# Words a person uses for a special-use folder (RFC 6154), whatever the server calls it.
_SPECIAL_WORDS = {
    "archive": "\\archive",
    "archives": "\\archive",
    "deleted": "\\trash",
    "deleted items": "\\trash",
    "trash": "\\trash",
    "bin": "\\trash",
    "draft": "\\drafts",
    "drafts": "\\drafts",
    "junk": "\\junk",
    "junk email": "\\junk",
    "junk e-mail": "\\junk",
    "spam": "\\junk",
    "sent": "\\sent",
    "sent items": "\\sent",
    "sent mail": "\\sent",
    "sent messages": "\\sent",
}

_LISTED = "`o365imap folders` lists them"


def closest_folder(name: str, folders: Sequence[Folder]) -> str | None:
    """The folder most likely meant by ``name``, which is none of ``folders``; or None."""
    wanted = name.strip().casefold()
    by_key = {f.name.casefold(): f.name for f in folders}
    if wanted in by_key:
        return by_key[wanted]
    use = _SPECIAL_WORDS.get(wanted)
    if use is not None:
        special = next((f for f in folders if (f.special_use or "").lower() == use), None)
        if special is not None:
            return special.name
    import difflib  # noqa: PLC0415 - only for a folder that is not there

    near = difflib.get_close_matches(wanted, list(by_key), n=1, cutoff=0.75)
    return by_key[near[0]] if near else None


def with_folder_hint(exc: FolderNotFound, client: ImapClient) -> FolderNotFound:
    """``exc`` said again with where the names are and, when one is close, which was meant.
    The LIST is asked here, on the error path; if it fails, the hint goes without a name."""
    if exc.folder is None:
        return exc
    try:
        meant = closest_folder(exc.folder, client.list_folders())
    except O365ImapError:
        meant = None
    said = f"did you mean {meant!r}? ({_LISTED})" if meant else f"({_LISTED})"
    sentence = f"{exc}: {said}" if meant else f"{exc} {said}"
    hinted = FolderNotFound(
        sentence, command=exc.command, status=exc.status, code=exc.code, text=exc.text
    )
    hinted.folder = exc.folder
    return hinted
