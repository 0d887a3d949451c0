"""Writing from the mail browser (issue 13): c, R, A, F through ``$EDITOR``, sent over SMTP.

The mailbox is BOB's on the Dovecot test bed, each test in a folder of its own (``Tui13...``);
mail goes to the loopback fault server (tests/smtp_faults.py), which signs in its own user
with its own token: the outbox's ``me`` (the From) is BOB all the same, as a mailbox allowed to
send as another would. The editor is a Python script written into ``tmp_path`` and named by
``$EDITOR``: it runs the test's ``plan`` over the template (headless, the app runs the editor
without suspending: there is no terminal to hand over) and keeps a copy of what it was shown.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conftest import ALICE, BOB
from fixtures_smtp import SEND_SCOPES, SmtpBed
from o365imap import ImapClient, SequenceSet
from o365imap.auth import ConnectionSettings
from o365imap.sandbox.dovecot import DovecotServer
from o365imap.sandbox.mailmodel import SeedAddress, SeedAttachment, SeedMessage
from o365imap.sandbox.seed import MaildirWriter
from smtp_faults import TOKEN, USER, FaultySmtp
from test_tui import folder_open, run, session_for, until

textual = pytest.importorskip("textual")

from textual.pilot import Pilot  # noqa: E402

if TYPE_CHECKING:
    from o365imap.tui.app import MailApp
    from o365imap.tui.dialogs import ChoiceScreen
    from o365imap.tui.model import MailSession
    from o365imap.tui.outbox import Outbox
    from o365imap.tui.screens import MessageScreen

pytestmark = pytest.mark.dovecot

SIZE = (120, 36)
CAROL = SeedAddress("Carol Jones", "carol@example.net")
DAVE = SeedAddress("Dave", "dave@example.net")

# The editor: ``plan.py`` next to it says what to do to ``text`` (the template); ``status``
# is its exit status. What it was shown is kept as ``seen-N.txt``, and the path in ``paths``.
EDITOR = """
import pathlib, sys
path = pathlib.Path(sys.argv[-1])
here = pathlib.Path(__file__).parent
seen = len(list(here.glob("seen-*.txt")))
text = path.read_text(encoding="utf-8")
(here / f"seen-{seen}.txt").write_text(text, encoding="utf-8")
with open(here / "paths", "a", encoding="utf-8") as paths:
    paths.write(str(path) + "\\n")

def field(text, name, value):
    head, _, body = text.partition("\\n\\n")
    lines = [f"{name}: {value}" if l.startswith(name + ":") else l for l in head.split("\\n")]
    return "\\n".join(lines) + "\\n\\n" + body

def body_first(text, words):
    head, _, body = text.partition("\\n\\n")
    return head + "\\n\\n" + words + body

space = {"text": text, "field": field, "body_first": body_first, "status": 0}
exec((here / "plan.py").read_text(encoding="utf-8"), space)
path.write_text(space["text"], encoding="utf-8")
sys.exit(space["status"])
"""


@pytest.fixture(autouse=True, scope="module")
def _tui() -> None:
    from test_tui import import_tui

    import_tui(globals())
    from o365imap.tui import dialogs, outbox

    globals().update(ChoiceScreen=dialogs.ChoiceScreen, Outbox=outbox.Outbox)


@pytest.fixture
def server() -> Iterator[FaultySmtp]:
    with FaultySmtp() as running:
        yield running


class Editor:
    """``$EDITOR`` for one test: ``plan`` says what the next edit does."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir()
        script = directory / "editor.py"
        script.write_text(EDITOR, encoding="utf-8")
        self.command = f"{sys.executable} {script}"

    def plan(self, code: str) -> None:
        (self.directory / "plan.py").write_text(code, encoding="utf-8")

    def seen(self, index: int = -1) -> str:
        shown = sorted(self.directory.glob("seen-*.txt"), key=lambda p: int(p.stem[5:]))
        return shown[index].read_text(encoding="utf-8")

    @property
    def paths(self) -> list[Path]:
        text = (self.directory / "paths").read_text(encoding="utf-8")
        return [Path(line) for line in text.splitlines()]


@pytest.fixture
def editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Editor:
    made = Editor(tmp_path / "editor")
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", made.command)
    return made


def _app(
    dovecot: DovecotServer, server: FaultySmtp, folder: str, *messages: SeedMessage
) -> MailApp:
    """The app on BOB's ``folder`` (seeded with ``messages``, else one original), sending to
    ``server``."""
    _seed(dovecot, folder, *(messages or (_original(),)))
    session = session_for(dovecot, BOB)
    settings = ConnectionSettings(
        user=USER,
        access_token=TOKEN,
        smtp_host=server.host,
        smtp_port=server.port,
        smtp_security="plain",
        timeout=5,
    )
    session.outbox = Outbox(BOB, settings.open_sender)
    return MailApp(session, start_folder=folder, watch=False)


def _seed(dovecot: DovecotServer, folder: str, *messages: SeedMessage) -> list[SeedMessage]:
    return MaildirWriter(dovecot.maildir(BOB), dovecot.mail_owner).write(folder, messages)


def _original(**changes: object) -> SeedMessage:
    values: dict[str, object] = {
        "date": datetime(2025, 3, 1, 9, 30, tzinfo=UTC),
        "subject": "Quarterly numbers",
        "from_": (CAROL,),
        "to": (SeedAddress("Bob", BOB),),
        "cc": (DAVE,),
        "message_id": "<q1@example.net>",
        "references": ("<q0@example.net>",),
        "body": "Here are the numbers.\nSee you Monday.\n",
    }
    values.update(changes)
    return SeedMessage(**values)  # type: ignore[arg-type]


def _parsed(server: FaultySmtp, index: int = -1) -> EmailMessage:
    message = BytesParser(policy=default_policy).parsebytes(server.received[index].data)
    assert isinstance(message, EmailMessage)
    return message


def _body(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content()).replace("\r\n", "\n")  # as it came: CRLF


def _flags(dovecot: DovecotServer, folder: str, uid: int) -> tuple[str, ...]:
    """The flags the server holds, read over a connection of its own."""
    session = session_for(dovecot, BOB)
    try:
        with session.use() as imap:
            imap.select(folder, readonly=True)
            (response,) = imap.iter_fetch(SequenceSet([uid]), "(UID FLAGS)", uid=True)
            return tuple(response.items["FLAGS"])
    finally:
        session.close()


async def _press(pilot: Pilot[None], app: MailApp, key: str) -> None:
    """``key`` once the first message of the app's folder is in the list."""
    await until(pilot, folder_open(app, app.start_folder), "the folder")
    await pilot.press(key)


async def _question(pilot: Pilot[None], app: MailApp) -> ChoiceScreen:
    await until(pilot, lambda: isinstance(app.screen, ChoiceScreen), "a question")
    screen = app.screen
    assert isinstance(screen, ChoiceScreen)
    return screen


async def _done(pilot: Pilot[None], app: MailApp) -> str:
    await until(pilot, lambda: not app.composer.busy, "the message's end")
    return app.composer.said


async def _send(pilot: Pilot[None], app: MailApp, recipients: int) -> tuple[str, str]:
    """The confirmation, answered y once it asks about ``recipients``: its question, and the
    line said after sending."""
    question = await _question(pilot, app)
    assert question.question.startswith(f"Send to {recipients} recipient")
    await pilot.press("y")
    return question.question, await _done(pilot, app)


# ---------------------------------------------------------------- a new message


def test_compose_a_new_message_with_an_attachment_and_send_it(
    dovecot: DovecotServer, server: FaultySmtp, editor: Editor, tmp_path: Path
) -> None:
    notes = tmp_path / "notes – März.txt"
    notes.write_bytes("Zahlen für März\n".encode() * 100)
    editor.plan(
        'text = field(text, "To", "Eve <eve@fabrikam.example>, frank@fabrikam.example")\n'
        'text = field(text, "Bcc", "audit@contoso.example")\n'
        'text = field(text, "Subject", "Lunch on Friday?")\n'
        f"text = text.replace('\\n\\n', '\\nAttach: {notes}\\n\\n', 1)\n"
        "text += 'Shall we?\\n-- \\nBob\\n'\n"
    )
    app = _app(dovecot, server, "Tui13New")

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await _press(pilot, app, "c")
            question, said = await _send(pilot, app, 3)
            assert "Bcc: audit@contoso.example" in question
            assert f"Attached: {notes.name}" in question
            assert said.startswith("Sent to eve@fabrikam.example, frank@fabrikam.example, audit@")

    run(scenario)
    assert editor.seen(0).startswith(f"From: {BOB}\nTo: \nCc: \nBcc: \nSubject: \n\n")
    (received,) = server.received
    assert received.recipients == [
        "eve@fabrikam.example",
        "frank@fabrikam.example",
        "audit@contoso.example",
    ]
    message = _parsed(server)
    assert message["Subject"] == "Lunch on Friday?"
    assert message["From"].addresses[0].addr_spec == BOB
    assert "Bcc" not in message
    assert _body(message) == "Shall we?\n-- \nBob\n"
    (attachment,) = message.iter_attachments()
    assert attachment.get_filename() == notes.name
    assert attachment.get_payload(decode=True) == notes.read_bytes()
    (template,) = editor.paths
    assert not template.parent.exists()  # sent: the private folder is gone


def test_an_unchanged_template_is_not_sent(
    dovecot: DovecotServer, server: FaultySmtp, editor: Editor
) -> None:
    editor.plan("pass\n")
    app = _app(dovecot, server, "Tui13Unchanged")

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await _press(pilot, app, "R")
            assert await _done(pilot, app) == "Not sent: the message was not edited."
            assert "not edited" in str(app.query_one("#status").render())

    run(scenario)
    assert server.received == []
    (template,) = editor.paths
    assert not template.parent.exists()  # nothing left behind


# ---------------------------------------------------------------- replies and forwards


def test_reply_quotes_threads_and_marks_the_original_answered(
    dovecot: DovecotServer, server: FaultySmtp, editor: Editor
) -> None:
    original = _original()
    editor.plan("text = body_first(text, 'Thanks, Carol!\\n\\n')\n")
    app = _app(dovecot, server, "Tui13Reply", original)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await _press(pilot, app, "R")
            _, said = await _send(pilot, app, 1)
            assert said == "Sent to carol@example.net"

    run(scenario)
    shown = editor.seen(0)
    assert "To: Carol Jones <carol@example.net>\nCc: \n" in shown
    assert "> Here are the numbers.\n> See you Monday.\n" in shown
    (received,) = server.received
    assert received.recipients == ["carol@example.net"]
    message = _parsed(server)
    assert message["Subject"] == "Re: Quarterly numbers"
    assert message["In-Reply-To"] == "<q1@example.net>"
    assert message["References"].split() == ["<q0@example.net>", "<q1@example.net>"]
    assert _body(message).startswith("Thanks, Carol!\n\n")
    assert "> Here are the numbers.\n> See you Monday.\n" in _body(message)
    assert original.uid is not None
    flags = _flags(dovecot, "Tui13Reply", original.uid)
    assert "\\Answered" in flags and "\\Seen" not in flags  # read with BODY.PEEK[]


def test_reply_to_all_from_the_message_view_leaves_me_out(
    dovecot: DovecotServer, server: FaultySmtp, editor: Editor
) -> None:
    original = _original()
    editor.plan("text = body_first(text, 'All fine.\\n')\n")
    app = _app(dovecot, server, "Tui13ReplyAll", original)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await _press(pilot, app, "enter")
            await until(pilot, lambda: isinstance(app.screen, MessageScreen), "the message")
            await pilot.press("A")
            _, said = await _send(pilot, app, 2)
            assert said == "Sent to carol@example.net, dave@example.net"
            assert isinstance(app.screen, MessageScreen)  # still reading it

    run(scenario)
    (received,) = server.received
    assert received.recipients == ["carol@example.net", "dave@example.net"]
    message = _parsed(server)
    assert [a.addr_spec for a in message["To"].addresses] == ["carol@example.net"]
    assert [a.addr_spec for a in message["Cc"].addresses] == ["dave@example.net"]
    assert original.uid is not None
    assert "\\Answered" in _flags(dovecot, "Tui13ReplyAll", original.uid)


def test_forward_keeps_the_attachment_and_sets_forwarded(
    dovecot: DovecotServer, server: FaultySmtp, editor: Editor
) -> None:
    data = bytes(range(256)) * 300
    attached = SeedAttachment("figures.pdf", "application/pdf", data)
    original = _original(attachments=(attached,))
    editor.plan('text = field(text, "To", "grace@fabrikam.example")\n')
    app = _app(dovecot, server, "Tui13Forward", original)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await _press(pilot, app, "F")
            question, said = await _send(pilot, app, 1)
            assert "Attached: figures.pdf" in question
            assert said == "Sent to grace@fabrikam.example"

    run(scenario)
    shown = editor.seen(0)
    assert "Subject: Fwd: Quarterly numbers\n" in shown
    assert "\nAttach: " in shown and "figures.pdf" in shown
    message = _parsed(server)
    assert message["Subject"] == "Fwd: Quarterly numbers"
    (attachment,) = message.iter_attachments()
    assert attachment.get_filename() == "figures.pdf"
    assert attachment.get_content() == data
    (template,) = editor.paths
    assert not template.parent.exists()  # the attachments extracted for it too
    assert original.uid is not None
    flags = _flags(dovecot, "Tui13Forward", original.uid)
    assert "$Forwarded" in flags and "\\Answered" not in flags


# ---------------------------------------------------------------- what goes wrong


def test_a_refused_recipient_is_named_and_the_others_get_it(
    dovecot: DovecotServer, server: FaultySmtp, editor: Editor
) -> None:
    server.faults.refuse["nobody@fabrikam.example"] = "550 5.1.10 RESOLVER.ADR.RecipNotFound"
    editor.plan(
        'text = field(text, "To", "eve@fabrikam.example, nobody@fabrikam.example")\n'
        'text = field(text, "Subject", "Hello")\n'
        "text += 'Hi.\\n'\n"
    )
    app = _app(dovecot, server, "Tui13Refused")

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await _press(pilot, app, "c")
            _, said = await _send(pilot, app, 2)
            assert said.startswith("Sent to eve@fabrikam.example. Refused: nobody@fabrikam")
            assert said.endswith("the others got it")
            assert "nobody@fabrikam.example" in str(app.query_one("#status").render())

    run(scenario)
    (received,) = server.received
    assert received.recipients == ["eve@fabrikam.example"]


def test_a_failed_send_keeps_the_file_and_retry_sends_it(
    dovecot: DovecotServer, server: FaultySmtp, editor: Editor
) -> None:
    server.faults.data_reply = "554 5.6.0 STOREDRV.Submit; message rejected"
    editor.plan("text = body_first(text, 'Worth keeping.\\n')\n")
    app = _app(dovecot, server, "Tui13Failed")
    kept: list[str] = []

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await _press(pilot, app, "R")
            await _question(pilot, app)
            await pilot.press("y")
            await until(
                pilot,
                lambda: (
                    isinstance(app.screen, ChoiceScreen)
                    and app.composer.said.startswith("Not sent")
                ),
                "the failure",
            )
            (template,) = editor.paths
            assert str(template) in app.composer.said
            assert "Worth keeping." in template.read_text(encoding="utf-8")
            assert oct(template.stat().st_mode & 0o777) == "0o600"
            kept.append(template.read_text(encoding="utf-8"))
            server.faults.data_reply = None
            await pilot.press("r")  # retry
            assert (await _done(pilot, app)) == "Sent to carol@example.net"
            assert not template.parent.exists()

    run(scenario)
    assert _body(_parsed(server)).startswith("Worth keeping.\n")


def test_a_message_perhaps_sent_is_kept_and_not_sent_again_by_itself(
    dovecot: DovecotServer, server: FaultySmtp, editor: Editor
) -> None:
    server.faults.cut_after_data = 1  # it arrives; the answer never comes
    editor.plan("text = body_first(text, 'Once only.\\n')\n")
    app = _app(dovecot, server, "Tui13Maybe")

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await _press(pilot, app, "R")
            await _question(pilot, app)
            await pilot.press("y")
            await until(pilot, lambda: app.composer.said.startswith("Perhaps sent"), "the cut")
            await _question(pilot, app)
            await pilot.press("escape")  # keep the file
            said = await _done(pilot, app)
            (template,) = editor.paths
            assert said == f"Your message is kept in {template}"
            assert "Once only." in template.read_text(encoding="utf-8")

    run(scenario)
    assert len(server.received) == 1  # arrived once, and was not sent again


def test_a_retry_after_perhaps_sent_keeps_the_message_id(
    dovecot: DovecotServer, server: FaultySmtp, editor: Editor
) -> None:
    """If the first copy did arrive, the second is the same message to the recipient's mail
    program (same Message-ID), not a new one."""
    server.faults.cut_after_data = 1
    editor.plan("text = body_first(text, 'Twice at most.\\n')\n")
    app = _app(dovecot, server, "Tui13MaybeRetry")

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await _press(pilot, app, "R")
            await _question(pilot, app)
            await pilot.press("y")
            await until(pilot, lambda: app.composer.said.startswith("Perhaps sent"), "the cut")
            await _question(pilot, app)
            await pilot.press("r")
            assert (await _done(pilot, app)).startswith("Sent to ")

    run(scenario)
    first, second = (_parsed(server, 0), _parsed(server, 1))
    assert first["Message-ID"] == second["Message-ID"]


def test_an_original_over_the_limit_is_refused_in_one_line(
    dovecot: DovecotServer, server: FaultySmtp, editor: Editor, monkeypatch: pytest.MonkeyPatch
) -> None:
    from o365imap.tui import outbox

    monkeypatch.setattr(outbox, "MAX_ORIGINAL", 100)  # 50 MB in real use
    editor.plan("text += 'never run'\n")
    app = _app(dovecot, server, "Tui13Large")

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await _press(pilot, app, "F")
            said = await _done(pilot, app)
            assert (
                said.startswith("Cannot prepare the forward: the message is")
                and "more than the 100 B" in said
            )
            assert app.screen is app.screen_stack[0]  # no error screen: one line

    run(scenario)
    assert not (editor.directory / "paths").exists()  # the editor never ran


def test_a_line_that_does_not_parse_is_named_and_edited_again(
    dovecot: DovecotServer, server: FaultySmtp, editor: Editor
) -> None:
    editor.plan('text = field(text, "Subject", "Hi").replace("Cc:", "not a header line\\nCc:")\n')
    app = _app(dovecot, server, "Tui13Parse")

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await _press(pilot, app, "R")
            question = await _question(pilot, app)
            assert "line 3" in question.question and "not a header line" in question.question
            editor.plan('text = text.replace("not a header line\\n", "")\n')
            await pilot.press("e")
            await until(
                pilot,
                lambda: (
                    isinstance(app.screen, ChoiceScreen)
                    and app.screen.question.startswith("Send to")
                ),
                "the confirmation",
            )
            await pilot.press("n")  # discard
            assert (await _done(pilot, app)) == "Not sent: the message was discarded."

    run(scenario)
    assert server.received == []
    assert "not a header line" in editor.seen(1)  # edited again: the person's text, kept
    assert not editor.paths[0].parent.exists()


def test_help_lists_the_writing_keys(dovecot: DovecotServer, server: FaultySmtp) -> None:
    app = _app(dovecot, server, "Tui13Help")

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, folder_open(app, "Tui13Help"), "the folder")
            await pilot.pause(0.1)  # the footer drawn for the list, focused now
            picture = app.export_screenshot().replace("&#160;", " ")
            assert "Write" in picture  # the footer: cRAF Write
            assert "Quit" in picture  # and what was there before still fits
            await pilot.press("question_mark")
            await pilot.pause(0.1)
            picture = app.export_screenshot().replace("&#160;", " ")
            assert "R / A / F" in picture and "reply to all" in picture

    run(scenario)


def test_the_editor_comes_from_visual_then_editor_then_vi() -> None:
    from o365imap.tui.outbox import editor_command

    assert editor_command({"VISUAL": "code --wait", "EDITOR": "nano"}) == ["code", "--wait"]
    assert editor_command({"VISUAL": " ", "EDITOR": "'my editor' -f"}) == ["my editor", "-f"]
    assert editor_command({}) == ["vi"]


# ---------------------------------------------------------------- the real submission server


def test_a_reply_through_the_real_submission_server_lands_in_the_inbox_and_in_sent(
    smtp: SmtpBed, editor: Editor
) -> None:
    """Dovecot's submission service checks the token (SMTP.Send), its relay delivers and
    files a read copy in the sender's Sent, as Exchange does."""
    server = smtp.server
    original = (
        f"From: Bob <{BOB}>\r\nTo: {ALICE}\r\nSubject: Offsite agenda\r\n"
        "Message-ID: <offsite-1@example.net>\r\nDate: Tue, 01 Dec 2026 09:00:00 +0000\r\n"
        "\r\nDraft agenda attached in spirit.\r\n"
    ).encode()
    server.append(ALICE, "Tui13Real", original, flags="")
    editor.plan("text = body_first(text, 'Looks good to me.\\n\\n')\n")

    def mint() -> str:
        return server.mint_token(ALICE, scopes=SEND_SCOPES, now=time.time() - 60)

    def connect() -> ImapClient:
        client = ImapClient(server.host, server.imaps_port, ca_file=smtp.ca_file, timeout=20)
        client.connect()
        client.authenticate_oauth(ALICE, mint(), refresh=mint)
        return client

    session = MailSession(connect, description=ALICE)
    settings = ConnectionSettings(
        user=ALICE,
        access_token=mint(),
        ca_file=smtp.ca_file,
        smtp_host=smtp.host,
        smtp_port=smtp.port,
        smtp_security="starttls",
        timeout=20,
    )
    session.outbox = Outbox(ALICE, settings.open_sender)
    app = MailApp(session, start_folder="Tui13Real", watch=False)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await _press(pilot, app, "R")
            _, said = await _send(pilot, app, 1)
            assert said == f"Sent to {BOB}"

    run(scenario)
    (reply, _), *_ = [(m, f) for m, f in smtp.folder(BOB) if m["Subject"] == "Re: Offsite agenda"]
    assert reply["In-Reply-To"] == "<offsite-1@example.net>"
    sent = [(m, f) for m, f in smtp.folder(ALICE, "Sent") if m["Subject"] == "Re: Offsite agenda"]
    assert len(sent) == 1 and b"\\Seen" in sent[0][1]
    flags = [f for m, f in smtp.folder(ALICE, "Tui13Real") if m["Subject"] == "Offsite agenda"]
    assert len(flags) == 1 and b"\\Answered" in flags[0]
