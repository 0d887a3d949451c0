"""Writing and sending from the mail browser, as mutt and aerc do it: the draft made from the
message answered, the file the person edits in ``$EDITOR``, the sending. No Textual here:
``tui/compose.py`` drives it from the keys, off the event loop where it touches the network.

The rule this module keeps: what a person wrote is never lost. Each message being written has
a private folder of its own (``mkdtemp``: 0700; the file in it 0600) holding the template and,
for a forward, the original's attachments; it goes when the message is sent or the person
discards it, and stays, with its path said, when sending fails.
"""

from __future__ import annotations

import enum
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, cast

from o365imap import SendResult, SmtpSender, UsageError
from o365imap._display import human_size
from o365imap.compose import (
    Draft,
    forward_draft,
    parse_template,
    render_template,
    reply_draft,
    unchanged,
)
from o365imap.smtp import spool_draft

__all__ = [
    "MAX_ORIGINAL",
    "Kind",
    "Outbox",
    "Sent",
    "Writing",
    "editor_command",
    "run_editor",
    "send",
    "start_writing",
    "summary",
]

# An original read whole to answer or forward it: the stdlib parses it in memory, so a bound
# a person at a terminal would not reach by answering mail (a 50 MB message is a file, not mail).
MAX_ORIGINAL = 50 * 1024 * 1024
_TEMPLATE = "message.eml"  # .eml: editors colour it as mail


class Connection(Protocol):
    """What writing needs of the app's connection (``tui.model.MailSession`` has it)."""

    def fetch_raw(self, uid: int, out: BinaryIO, *, folder: str, limit: int) -> int: ...

    def add_kept_flag(self, uid: int, flag: str, *, folder: str) -> tuple[str, ...] | None: ...


class Kind(enum.Enum):
    NEW = "new message"
    REPLY = "reply"
    REPLY_ALL = "reply to all"
    FORWARD = "forward"


@dataclass(frozen=True, slots=True)
class Outbox:
    """How the session sends: ``me`` is the mailbox (the From of a new message, left out of a
    reply to all); ``open_sender`` returns a connected, signed-in SmtpSender."""

    me: str
    open_sender: Callable[[], SmtpSender]


@dataclass(slots=True)  # not frozen: message_id is set by the first send
class Writing:
    """One message being written: the template file the editor opens and the draft it was
    rendered from (what the person does not see, In-Reply-To and References, comes from it)."""

    kind: Kind
    directory: Path
    base: Draft
    rendered: str
    uid: int | None = None  # the message answered or forwarded
    folder: str | None = None  # the folder it is in
    # set by the first attempt to send: a retry (after "perhaps sent") sends the same
    # Message-ID, so that a copy that did arrive is a duplicate mail programs can drop
    message_id: str | None = None

    @property
    def template(self) -> Path:
        return self.directory / _TEMPLATE

    def text(self) -> str:
        try:
            return self.template.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise UsageError("the message is not UTF-8 text: save it as UTF-8") from None
        except OSError as exc:
            raise UsageError(f"cannot read {self.template}: {exc.strerror or exc}") from None

    def unchanged(self) -> bool:
        """Saved as it was rendered: the person's way of saying "do not send"."""
        try:
            return unchanged(self.rendered, self.text())
        except UsageError:
            return False

    def draft(self) -> Draft:
        """What the edited template says; UsageError naming the line, or the attachment that
        cannot be read (said now, not after signing in to send)."""
        draft = parse_template(self.text(), base=self.base)
        for attachment in draft.files:
            if not attachment.path.is_file() or not os.access(attachment.path, os.R_OK):
                raise UsageError(f"Attach: {attachment.path} is not a file that can be read")
        return draft

    def discard(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def start_writing(
    session: Connection,
    outbox: Outbox,
    kind: Kind,
    uid: int | None = None,
    folder: str | None = None,
) -> Writing:
    """A new message, or a reply, reply to all or forward of ``uid`` in ``folder`` (read with
    BODY.PEEK[]: it stays unread), rendered into its template file. Runs in a worker."""
    directory = Path(tempfile.mkdtemp(prefix="o365imap-message-"))
    try:
        base = _base(session, outbox, kind, uid, folder, directory)
        rendered = render_template(base)
        writing = Writing(kind, directory, base, rendered, uid, folder)
        descriptor = os.open(writing.template, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with open(descriptor, "w", encoding="utf-8") as handle:
            handle.write(rendered)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return writing


def _base(
    session: Connection,
    outbox: Outbox,
    kind: Kind,
    uid: int | None,
    folder: str | None,
    directory: Path,
) -> Draft:
    if kind is Kind.NEW:
        return Draft(sender=outbox.me)
    if uid is None or folder is None:
        raise UsageError(f"choose the message to {kind.value} first")
    original = directory / "original.eml"
    try:
        with open(original, "w+b") as handle:
            session.fetch_raw(uid, handle, folder=folder, limit=MAX_ORIGINAL)
            handle.seek(0)
            if kind is Kind.FORWARD:
                return forward_draft(handle, me=outbox.me, attachments_dir=directory / "files")
            return reply_draft(handle, me=outbox.me, reply_all=kind is Kind.REPLY_ALL)
    finally:
        original.unlink(missing_ok=True)


# ---------------------------------------------------------------- the editor


def editor_command(environ: Mapping[str, str] | None = None) -> list[str]:
    """``$VISUAL``, else ``$EDITOR``, else ``vi``, split as a shell would (``code --wait``);
    the file's path goes after it."""
    environ = os.environ if environ is None else environ
    for name in ("VISUAL", "EDITOR"):
        words = shlex.split(environ.get(name, ""))
        if words:
            return words
    return ["vi"]


def run_editor(path: Path) -> int:
    """The editor on ``path``, waited for; its exit status. OSError when it cannot be run."""
    return subprocess.run([*editor_command(), str(path)], check=False).returncode


def summary(draft: Draft) -> str:
    """What the confirmation shows before sending."""
    count = len(draft.recipients)
    lines = [f"Send to {count} recipient{'s' if count != 1 else ''}?", ""]
    for name, values in (("To", draft.to), ("Cc", draft.cc), ("Bcc", draft.bcc)):
        if values:
            lines.append(f"{name}: {', '.join(values)}")
    lines.append(f"Subject: {draft.subject or '(none)'}")
    for attachment in draft.files:
        size = attachment.path.stat().st_size if attachment.path.is_file() else None
        lines.append(f"Attached: {attachment.name} ({human_size(size)})")
    return "\n".join(lines)


# ---------------------------------------------------------------- sending

_MARKS = {Kind.REPLY: "\\Answered", Kind.REPLY_ALL: "\\Answered", Kind.FORWARD: "$Forwarded"}


@dataclass(frozen=True, slots=True)
class Sent:
    """A send: what the server took, and the original's mark when it could not be set."""

    result: SendResult
    mark_error: BaseException | None = None


def send(session: Connection, outbox: Outbox, writing: Writing, draft: Draft) -> Sent:
    """Write ``draft`` into the writing's folder and submit it; then mark the original
    (answered, or ``$Forwarded`` where the folder keeps keywords). Runs in a worker; the
    writing's files are left for the caller to discard."""
    path = writing.directory / "outgoing.eml"
    with open(path, "w+b") as handle:
        try:
            spooled = spool_draft(
                draft,
                sender=outbox.me,
                file=cast(BinaryIO, handle),
                message_id=writing.message_id,
            )
            writing.message_id = spooled.message_id
            with outbox.open_sender() as sender:
                result = sender.send_spooled(spooled)
        finally:
            path.unlink(missing_ok=True)
    mark = _MARKS.get(writing.kind)
    if mark is None or writing.uid is None or writing.folder is None:
        return Sent(result)
    try:
        session.add_kept_flag(writing.uid, mark, folder=writing.folder)
    except Exception as exc:  # sent all the same: said, not raised
        return Sent(result, exc)
    return Sent(result)
