"""File names for attachments: made safe to write, generated when missing, numbered on collision.

The rule this module keeps: whatever a message says a part is called, ``safe_filename`` returns
one path component that is harmless on Linux, macOS and Windows: no separators, no ``..``, no
control or bidirectional-override characters, no device name, at most 255 bytes of UTF-8 with
the extension kept, NFC-normalised. It never raises and never returns an empty string.

Names arrive here already decoded (RFC 2231 continuations and charsets, RFC 2047 words): see
``o365imap.protocol.text.decode_params``. Only ``unique_path`` touches the file system, and
only to ask whether a name is taken.
"""

from __future__ import annotations

import mimetypes
import os
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from o365imap.errors import StorageError, UnsafeFileName

__all__ = [
    "MAX_NAME_BYTES",
    "StorageError",
    "UnsafeFileName",
    "check_component",
    "extension_for",
    "iter_numbered_names",
    "safe_filename",
    "split_extension",
    "unique_path",
]

MAX_NAME_BYTES = 255  # NAME_MAX on Linux and macOS; NTFS allows 255 UTF-16 units, which is more


# Windows device names, reserved with any extension and in any case ("con.txt", "Lpt1.tar.gz").
_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{port}{digit}" for port in ("COM", "LPT") for digit in "123456789¹²³"}
)
# Characters Windows refuses in names; harmless on POSIX, but saved files get copied around.
_WINDOWS_FORBIDDEN = str.maketrans(dict.fromkeys('<>:"|?*', "_"))
_SEPARATORS = re.compile(r"[/\\]")
# A run of control characters (with the spaces around it) becomes one space: a subject folded
# over several lines keeps its word breaks instead of gluing words together.
_ASCII_CONTROLS = re.compile(r"[ ]*[\x00-\x1f\x7f][\x00-\x1f\x7f ]*")
_COMPOUND_EXTENSIONS = (".tar.gz", ".tar.bz2", ".tar.xz", ".tar.zst", ".tar.lz")
_MAX_EXTENSION = 16  # longer "extensions" are part of the name ("notes.from the meeting")

# What mimetypes lacks, or answers differently from one system to the next.
_EXTENSIONS = {
    "application/octet-stream": ".bin",
    "application/pdf": ".pdf",
    "application/zip": ".zip",
    "application/x-zip-compressed": ".zip",
    "application/gzip": ".gz",
    "application/x-gzip": ".gz",
    "application/x-7z-compressed": ".7z",
    "application/x-rar-compressed": ".rar",
    "application/vnd.rar": ".rar",
    "application/msword": ".doc",
    "application/vnd.ms-excel": ".xls",
    "application/vnd.ms-powerpoint": ".ppt",
    "application/vnd.ms-outlook": ".msg",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
    "application/vnd.oasis.opendocument.text": ".odt",
    "application/vnd.oasis.opendocument.spreadsheet": ".ods",
    "application/pkcs7-signature": ".p7s",
    "application/x-pkcs7-signature": ".p7s",
    "application/pkcs7-mime": ".p7m",
    "application/x-pkcs7-mime": ".p7m",
    "application/pgp-signature": ".asc",
    "application/ics": ".ics",
    "application/json": ".json",
    "application/xml": ".xml",
    "text/plain": ".txt",
    "text/html": ".html",
    "text/calendar": ".ics",
    "text/csv": ".csv",
    "text/xml": ".xml",
    "text/vcard": ".vcf",
    "text/x-vcard": ".vcf",
    "text/rfc822-headers": ".txt",
    "image/jpeg": ".jpg",
    "image/jpg": ".jpg",
    "image/pjpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/bmp": ".bmp",
    "image/tiff": ".tif",
    "image/webp": ".webp",
    "image/heic": ".heic",
    "image/svg+xml": ".svg",
    "audio/mpeg": ".mp3",
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "video/mp4": ".mp4",
    "message/rfc822": ".eml",
    "message/global": ".eml",
    "message/delivery-status": ".txt",
    "message/disposition-notification": ".txt",
}
_TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
_SAFE_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,10}\Z")
_builtin_types: mimetypes.MimeTypes | None = None


def extension_for(content_type: str) -> str:
    """The usual extension for a media type (``".pdf"``), ``".bin"`` when there is none.

    The table above first, then Python's built-in table only (not the system's mime.types),
    so the answer is the same on every machine.
    """
    global _builtin_types  # noqa: PLW0603 - built on first use: mimetypes reads files then
    media = content_type.partition(";")[0].strip().lower()
    found = _EXTENSIONS.get(media)
    if found is not None:
        return found
    if _builtin_types is None:
        _builtin_types = mimetypes.MimeTypes()
    guessed = _builtin_types.guess_extension(media, strict=False)
    if guessed and _SAFE_EXTENSION.match(guessed):
        return guessed
    return ".bin"


def split_extension(name: str) -> tuple[str, str]:
    """``("report", ".pdf")``; ``("backup", ".tar.gz")``; ``(name, "")`` when there is none."""
    lower = name.lower()
    for compound in _COMPOUND_EXTENSIONS:
        if lower.endswith(compound) and len(name) > len(compound):
            return name[: -len(compound)], name[-len(compound) :]
    dot = name.rfind(".")
    if dot <= 0 or dot == len(name) - 1:
        return name, ""
    extension = name[dot:]
    if len(extension) > _MAX_EXTENSION or " " in extension:
        return name, ""
    return name[:dot], extension


def _truncate_utf8(text: str, limit: int) -> str:
    """The longest prefix of ``text`` that is at most ``limit`` bytes of UTF-8."""
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[: max(limit, 0)].decode("utf-8", "ignore")  # a cut character is dropped


def _fit(stem: str, suffix: str, extension: str) -> str:
    """``stem + suffix + extension`` cut to MAX_NAME_BYTES, shortening only the stem."""
    budget = MAX_NAME_BYTES - len(suffix.encode("utf-8")) - len(extension.encode("utf-8"))
    if budget < 1:  # an absurd extension: keep the name whole rather than the extension
        stem, extension = stem + extension, ""
        budget = MAX_NAME_BYTES - len(suffix.encode("utf-8"))
    cut = _truncate_utf8(stem, budget)
    if cut != stem:
        cut = cut.rstrip(" .") or "_"
    return cut + suffix + extension


def _without_invisibles(text: str) -> str:
    """Controls become spaces; format characters (bidi overrides, zero-width) disappear."""
    text = _ASCII_CONTROLS.sub(" ", text)
    if text.isascii():
        return text
    out: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        if category in ("Cc", "Zl", "Zp"):  # C1 controls, U+2028, U+2029
            if not out or out[-1] != " ":
                out.append(" ")
        elif category not in ("Cf", "Cs"):  # Cf: U+202E and friends; Cs: lone surrogates
            out.append(char)
    return "".join(out)


def _clean(name: str) -> str:
    text = _without_invisibles(unicodedata.normalize("NFC", name))
    # Keep the last component that means something: "../../etc/passwd" is "passwd".
    components = _SEPARATORS.split(text)
    text = next((c for c in reversed(components) if c.strip(" .")), "")
    text = text.translate(_WINDOWS_FORBIDDEN).strip(" .")
    if not text:
        return ""
    stem, extension = split_extension(text)
    if extension and stem != stem.rstrip(" "):  # "summary .eml", left by a trailing line break
        text = stem.rstrip(" ") + extension
    if text.split(".", 1)[0].rstrip(" ").upper() in _RESERVED:
        text = "_" + text
    if len(text.encode("utf-8")) > MAX_NAME_BYTES:
        stem, extension = split_extension(text)
        text = _fit(stem, "", extension)
    return text


def _generated(content_type: str, index: int, kind: str) -> str:
    media = content_type.partition(";")[0].strip().lower()
    if media in _TNEF_TYPES:
        return "winmail.dat"  # what Outlook calls it, and what TNEF tools look for
    if media in ("message/rfc822", "message/global"):
        stem = "message"
    elif media.startswith("image/"):
        stem = "image"
    elif kind.strip().lower() == "attachment":
        stem = "attachment"
    else:
        stem = "part"
    return f"{stem}-{index}{extension_for(media)}"


def safe_filename(
    name: str | None, *, content_type: str, index: int, kind: str, stem: str | None = None
) -> str:
    """A safe single file name for a part: ``name`` cleaned, or one made from type and position.

    ``name`` is the part's decoded file name (``filename`` of Content-Disposition, else ``name``
    of Content-Type), or None. ``kind`` is the part's disposition (``"attachment"``,
    ``"inline"``, or ``""``) and ``index`` its position among the parts being saved; together
    with ``content_type`` they name a part that has no usable name: ``attachment-2.pdf``,
    ``image-1.png``, ``message-3.eml``, ``part-4.bin``, ``winmail.dat``. ``stem``, when given,
    stands for ``kind`` and ``index`` (``message-63-part-1`` makes ``message-63-part-1.txt``).

    Cleaning: NFC; control characters become a space and bidi/zero-width format characters go;
    only the last path component is kept (``/`` and ``\\`` both separate); ``<>:"|?*`` become
    ``_``; leading and trailing dots and spaces go; a Windows device name gets a ``_`` in front;
    the name is cut to 255 bytes of UTF-8 keeping its extension.
    """
    cleaned = _clean(name) if name else ""
    if not cleaned and stem:
        media = content_type.partition(";")[0].strip().lower()
        cleaned = _clean(stem + extension_for(media))
    return cleaned or _generated(content_type, index, kind)


def check_component(name: str) -> None:
    """Raise UnsafeFileName unless ``name`` is exactly one path component that fits."""
    if (
        not name
        or name in (".", "..")
        or _SEPARATORS.search(name)
        or "\x00" in name
        or len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES
    ):
        raise UnsafeFileName(f"not a safe file name: {name!r}")


def iter_numbered_names(name: str) -> Iterator[str]:
    """``name``, then ``stem (2).ext``, ``stem (3).ext`` ... each within 255 bytes."""
    yield name
    stem, extension = split_extension(name)
    number = 2
    while True:
        yield _fit(stem, f" ({number})", extension)
        number += 1


_MAX_NUMBER = 10_000


def unique_path(directory: Path, name: str) -> Path:
    """``directory / name`` if nothing has that name yet, else the first free ``name (N).ext``.

    A dangling symlink counts as taken. ``name`` must be one path component (as
    ``safe_filename`` returns), else UnsafeFileName. The answer can be stale by the time it is
    used: ``AtomicFile`` does its own race-free version of this when it commits.
    """
    check_component(name)
    for count, candidate in enumerate(iter_numbered_names(name)):
        if count >= _MAX_NUMBER:
            break
        path = directory / candidate
        if not os.path.lexists(path):
            return path
    raise StorageError(f"no free name like {name!r} in {directory}")
