"""Writing from the mail browser: ``c`` a new message, ``R`` reply, ``A`` reply to all, ``F``
forward, from the list or the message view, in ``$VISUAL`` / ``$EDITOR`` as mutt and aerc do.

The steps, each a callback on the event loop; the network runs in thread workers:

1. prepare (worker): the original read with BODY.PEEK[] (at most 50 MB), the draft made from
   it and rendered into a private file (``outbox.start_writing``);
2. edit: the editor on that file, the app suspended (headless, as under the pilot's tests, the
   editor runs as it is: there is no terminal to hand over);
3. check: saved unchanged, nothing is sent (as mutt aborts); a line that does not parse is
   named, to edit again or discard; else the confirmation (y send, e edit, n discard);
4. send (worker): ``outbox.send``; sent, the files go; failed, the file stays and its path is
   said, to retry, edit or keep.

Escape in any of the questions keeps the file (its path said) rather than throw the text away.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Protocol, TypeVar

from textual.app import App, SuspendNotSupported

from o365imap import MaybeSent, UsageError
from o365imap._display import counted
from o365imap.compose import Draft
from o365imap.tui.dialogs import ChoiceScreen
from o365imap.tui.model import MailSession, describe_error
from o365imap.tui.outbox import Kind, Sent, Writing, run_editor, send, start_writing, summary
from o365imap.tui.screens import Failed

__all__ = ["Composer"]

_T = TypeVar("_T")
_KEEP = "k"  # what Escape answers in every question: keep the file


class _Status(Protocol):
    def __call__(self, text: str, *, error: bool = False) -> None: ...


class Composer:
    """The app's writing of one message at a time; the app's keys call :meth:`start`.

    ``status`` shows a line in the app's status bar; ``said`` is the last line shown about the
    message (the tests read it).
    """

    def __init__(self, app: App[None], session: MailSession, status: _Status) -> None:
        self.app = app
        self.session = session
        self.status = status
        self.busy = False
        self.said = ""

    def start(self, kind: Kind, uid: int | None, folder: str | None) -> None:
        """Begin a ``kind`` of message; ``uid`` and ``folder``: the message answered."""
        session = self.session
        outbox = session.outbox
        if outbox is None:
            self._say("This session cannot send mail: it has no mailbox to send from", True)
        elif self.busy:
            self._say("Finish the message being written first", True)
        elif kind is not Kind.NEW and (uid is None or folder is None):
            self._say("Open a message, or choose one in the list, first", True)
        else:
            self.busy = True
            self._say(f"Preparing the {kind.value}…")
            self._work(
                lambda: start_writing(session, outbox, kind, uid, folder),
                self._edit,
                partial(self._not_prepared, kind),
            )

    # ---------------------------------------------------------------- steps

    def _work(
        self,
        job: Callable[[], _T],
        then: Callable[[_T], None],
        failed: Callable[[BaseException], None],
    ) -> None:
        app = self.app

        def run() -> None:
            try:
                result = job()
            except Exception as exc:
                app.call_later(failed, exc)
            else:
                app.call_later(then, result)

        app.run_worker(run, thread=True, group="compose", exit_on_error=False)

    def _not_prepared(self, kind: Kind, error: BaseException) -> None:
        self.busy = False
        if isinstance(error, UsageError):  # too large, no such message: one line says it
            self._say(f"Cannot prepare the {kind.value}: {describe_error(error)[0]}", True)
        else:
            self.app.post_message(Failed(error, f"prepare the {kind.value}"))

    def _edit(self, writing: Writing) -> None:
        try:
            code = self._run_editor(writing)
        except SuspendNotSupported:
            self._drop(writing, "Cannot run an editor here: this terminal cannot be handed over.")
            return
        except OSError as exc:
            reason = exc.strerror or str(exc)
            self._drop(writing, f"Cannot run the editor ({reason}): set $EDITOR.")
            return
        if code != 0:
            self._ask(writing, f"The editor ended with status {code}.", _FIX)
        elif writing.unchanged():
            self._drop(writing, "Not sent: the message was not edited.")
        else:
            self._check(writing)

    def _run_editor(self, writing: Writing) -> int:
        if self.app.is_headless:
            return run_editor(writing.template)
        with self.app.suspend():
            return run_editor(writing.template)

    def _check(self, writing: Writing) -> None:
        try:
            draft = writing.draft()
        except UsageError as exc:
            sentence = describe_error(exc)[0]
            self._say(f"Not sent yet: {sentence}", True)
            self._ask(writing, f"{sentence}\n\nEdit the message again, or discard it?", _FIX)
            return
        self._ask(writing, summary(draft), _CONFIRM, draft)

    def _ask(
        self,
        writing: Writing,
        question: str,
        choices: list[tuple[str, str]],
        draft: Draft | None = None,
    ) -> None:
        def answered(key: str | None) -> None:
            if key == "e":
                self._edit(writing)
            elif key in ("y", "r") and draft is not None:
                self._send(writing, draft)
            elif key in ("d", "n"):
                self._drop(writing, "Not sent: the message was discarded.", keep=False)
            else:
                self.busy = False
                self._say(f"Your message is kept in {writing.template}")

        self.app.push_screen(ChoiceScreen(question, choices, _KEEP), answered)

    def _send(self, writing: Writing, draft: Draft) -> None:
        session = self.session
        outbox = session.outbox
        assert outbox is not None  # start() checked
        count = len(draft.recipients)
        self._say(f"Sending to {counted(count, 'recipient')}…")
        self._work(
            lambda: send(session, outbox, writing, draft),
            partial(self._sent, writing),
            partial(self._not_sent, writing, draft),
        )

    def _sent(self, writing: Writing, sent: Sent) -> None:
        writing.discard()
        self.busy = False
        result = sent.result
        text = f"Sent to {', '.join(result.accepted)}"
        if result.refused:
            refused = "; ".join(f"{a} ({reply})" for a, reply in result.refused.items())
            text += f". Refused: {refused}; the others got it"
        if sent.mark_error is not None:
            mark = "answered" if writing.kind is not Kind.FORWARD else "forwarded"
            text += f" (the original was not marked {mark}: {describe_error(sent.mark_error)[0]})"
        self._say(text, bool(result.refused))

    def _not_sent(self, writing: Writing, draft: Draft, error: BaseException) -> None:
        # MaybeSent: the whole message went out, the answer did not come back.
        sentence = describe_error(error)[0]
        sentence = f"{'Perhaps sent' if isinstance(error, MaybeSent) else 'Not sent'}: {sentence}"
        kept = f"Your message is kept in {writing.template}"
        self._say(f"{sentence} {kept}", True)
        self._ask(writing, f"{sentence}\n\n{kept}.", _RETRY, draft)

    def _drop(self, writing: Writing, text: str, *, keep: bool = True) -> None:
        """The end without sending: the files go, unless they hold what the person wrote and
        ``keep`` (then the path is said)."""
        self.busy = False
        if keep and not writing.unchanged():
            text += f" Your message is kept in {writing.template}"
        else:
            writing.discard()
        self._say(text, True)

    def _say(self, text: str, error: bool = False) -> None:
        self.said = text
        self.status(text, error=error)
        if self.app.screen is not self.app.screen_stack[0]:  # the status bar is hidden
            self.app.notify(text, severity="error" if error else "information", markup=False)


_FIX = [("e", "Edit again"), ("d", "Discard")]
_CONFIRM = [("y", "Send"), ("e", "Edit"), ("n", "Discard")]
_RETRY = [("r", "Retry"), ("e", "Edit"), ("k", "Keep the file")]
