"""Messages written from a Draft: read back by the stdlib's parser, bytes checked on the wire."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage, MIMEPart
from email.parser import BytesParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import examples
from o365imap.compose import Attachment, Draft, Written, write_message
from o365imap.compose._write import attachment_name
from o365imap.errors import UsageError
from o365imap.mime import safe_filename
from traced import peak_writing

ME = "Me Myself <me@example.com>"
WHEN = datetime(2026, 12, 5, 14, 30, tzinfo=timezone(timedelta(hours=1)))


def write(draft: Draft, **options: object) -> tuple[bytes, Written]:
    out = io.BytesIO()
    written = write_message(draft, out, sender=ME, date=WHEN, **options)  # type: ignore[arg-type]
    data = out.getvalue()
    assert written.size == len(data)
    check_wire(data)
    return data, written


def check_wire(data: bytes) -> None:
    """CRLF everywhere, no line over 998 octets, no Bcc, every byte 7-bit."""
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"\r" not in data.replace(b"\r\n", b"")
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    header = data.partition(b"\r\n\r\n")[0].lower()
    assert not header.startswith(b"bcc:") and b"\r\nbcc:" not in header
    assert data.isascii()


def parse(data: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    return message


def text_of(part: MIMEPart | None) -> str:
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


# ---------------------------------------------------------------- shapes


def test_text_only_is_one_text_part_with_the_envelope_fields() -> None:
    draft = Draft(
        to=("bob@example.org, Carol <carol@example.net>",),
        cc=("Dave <DAVE@example.com>",),
        bcc=("secret@example.com", "carol@EXAMPLE.net"),
        subject="Lunch?",
        text="Shall we?\n",
    )
    data, written = write(draft)
    message = parse(data)
    assert message.get_content_type() == "text/plain"
    assert message["Content-Transfer-Encoding"] == "7bit"
    assert message.get_param("charset") == "utf-8"
    assert message["From"] == ME
    assert message["To"] == "bob@example.org, Carol <carol@example.net>"
    assert message["Cc"] == "Dave <DAVE@example.com>"
    assert message["Bcc"] is None and b"secret" not in data
    assert message["MIME-Version"] == "1.0"
    assert message["Date"].datetime == WHEN
    assert message["Message-ID"] == written.message_id
    assert written.message_id.startswith("<") and written.message_id.endswith("@example.com>")
    assert written.sender == "me@example.com"
    assert written.recipients == (
        "bob@example.org",
        "carol@example.net",
        "DAVE@example.com",
        "secret@example.com",
    )
    assert text_of(message) == "Shall we?\n"


def test_the_drafts_own_from_and_the_given_date_id_and_domain() -> None:
    draft = Draft(sender="Shared <shared@example.com>", to=("a@example.org",), text="x")
    data, written = write(draft, message_id="<fixed@here>")
    message = parse(data)
    assert message["From"] == "Shared <shared@example.com>"
    assert written.sender == "me@example.com"  # the envelope stays the signed-in account
    assert message["Message-ID"] == "<fixed@here>"
    _, other = write(draft, domain="mail.example.net")
    assert other.message_id.endswith("@mail.example.net>")


def test_a_naive_date_is_local_time_and_no_date_is_now() -> None:
    out = io.BytesIO()
    write_message(Draft(to=("a@example.org",), text="x"), out, sender=ME)
    date = parse(out.getvalue())["Date"].datetime
    assert date.tzinfo is not None
    assert abs((datetime.now().astimezone() - date).total_seconds()) < 60
    naive = datetime(2026, 1, 2, 3, 4, 5)
    out = io.BytesIO()
    write_message(Draft(to=("a@example.org",), text="x"), out, sender=ME, date=naive)
    assert parse(out.getvalue())["Date"].datetime == naive.astimezone()


def test_html_gives_alternative_with_text_first() -> None:
    draft = Draft(to=("a@example.org",), html="<p>Hello <b>world</b></p><ul><li>one</li></ul>")
    message = parse(write(draft)[0])
    assert message.get_content_type() == "multipart/alternative"
    plain, html = message.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert "Hello world" in text_of(plain) and "one" in text_of(plain)
    assert "<b>world</b>" in text_of(html)


def test_html_and_text_and_attachments_nest_alternative_in_mixed(tmp_path: Path) -> None:
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 40)
    draft = Draft(
        to=("a@example.org",),
        text="See attached.",
        html="<p>See attached.</p>",
        attachments=(report,),
    )
    message = parse(write(draft)[0])
    assert message.get_content_type() == "multipart/mixed"
    body, attached = message.iter_parts()
    assert body.get_content_type() == "multipart/alternative"
    assert attached.get_content_type() == "application/pdf"
    assert attached.get_content_disposition() == "attachment"
    assert attached.get_filename() == "report.pdf"
    assert attached.get_content() == report.read_bytes()
    assert text_of(message.get_body(("plain",))) == "See attached.\n"


def test_attachments_alone_make_a_mixed_message_of_files(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"\x00\x01")
    draft = Draft(to=("a@example.org",), attachments=(tmp_path / "a.bin",))
    message = parse(write(draft)[0])
    assert [p.get_filename() for p in message.iter_parts()] == ["a.bin"]


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("notes.txt", "text/plain"),
        ("photo.JPG", "image/jpeg"),
        ("backup.tar.gz", "application/gzip"),
        ("mystery.qqq", "application/octet-stream"),
        ("no-extension", "application/octet-stream"),
    ],
)
def test_media_types_are_guessed_from_the_name(
    tmp_path: Path, name: str, content_type: str
) -> None:
    (tmp_path / name).write_bytes(b"data")
    message = parse(write(Draft(to=("a@example.org",), attachments=(tmp_path / name,)))[0])
    assert next(message.iter_attachments()).get_content_type() == content_type


def test_an_attachment_can_be_renamed_and_typed(tmp_path: Path) -> None:
    (tmp_path / "tmp123").write_bytes(b"BEGIN:VCALENDAR")
    attachment = Attachment(
        tmp_path / "tmp123", filename="invite.ics", content_type="text/calendar"
    )
    part = next(
        parse(write(Draft(to=("a@example.org",), attachments=(attachment,)))[0]).iter_attachments()
    )
    assert (part.get_filename(), part.get_content_type()) == ("invite.ics", "text/calendar")


# ---------------------------------------------------------------- non-ASCII


def test_non_ascii_subject_and_names_are_encoded_words() -> None:
    subject = "Grüße aus Köln – 会議の議題 and a long tail to make the header fold over lines"
    draft = Draft(
        to=("Jürgen Müller <j@example.de>", '"Doe, John" <jd@example.com>'),
        cc=("محمد <m@example.sa>",),
        subject=subject,
        text="Grüße\n",
    )
    data, _ = write(draft)
    header = data.partition(b"\r\n\r\n")[0]
    assert b"=?utf-8?" in header
    assert max(len(line) for line in header.split(b"\r\n")) <= 78
    message = parse(data)
    assert message["Subject"] == subject
    names = [a.display_name for a in message["To"].addresses + message["Cc"].addresses]
    assert names == ["Jürgen Müller", "Doe, John", "محمد"]
    assert text_of(message) == "Grüße\n"


@pytest.mark.parametrize(
    "name",
    [
        "résumé.pdf",
        "📎 Anhang 🎉.txt",
        "تقرير الربع الأول.xlsx",
        "שלום.docx",
        "日本語のファイル名.zip",
    ],
)
def test_non_ascii_file_names_round_trip(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(name.encode())
    data, _ = write(Draft(to=("a@example.org",), attachments=(tmp_path / name,)))
    assert b"filename*" in data  # RFC 2231, by the stdlib
    part = next(parse(data).iter_attachments())
    assert part.get_filename() == name
    assert part.get_payload(decode=True) == name.encode()


def test_mostly_foreign_text_is_base64_and_mostly_ascii_is_quoted_printable() -> None:
    russian = parse(write(Draft(to=("a@example.org",), text="Привет, как дела?\n" * 5))[0])
    assert russian["Content-Transfer-Encoding"] == "base64"
    assert text_of(russian) == "Привет, как дела?\n" * 5
    french = parse(write(Draft(to=("a@example.org",), text="Un café, s'il vous plaît.\n"))[0])
    assert french["Content-Transfer-Encoding"] == "quoted-printable"


def test_control_characters_are_never_sent_raw() -> None:
    text = "bell\x07 nul\x00 escape\x1b[31m\n"
    data, _ = write(Draft(to=("a@example.org",), text=text))
    message = parse(data)
    assert message["Content-Transfer-Encoding"] == "quoted-printable"
    assert b"\x00" not in data and b"\x1b" not in data
    assert text_of(message) == text


def test_long_lines_are_wrapped_by_the_encoding_not_cut() -> None:
    text = "word " * 2000 + "\n" + "x" * 5000 + "\n"
    data, _ = write(Draft(to=("a@example.org",), text=text))
    message = parse(data)
    assert message["Content-Transfer-Encoding"] == "quoted-printable"
    assert text_of(message) == text


def test_the_boundary_never_occurs_in_a_text_part(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = iter(["aaaa", "aaaa", "bbbb", "cccc"])
    monkeypatch.setattr("o365imap.compose._write.secrets.token_hex", lambda _: next(tokens))
    draft = Draft(to=("a@example.org",), text="--=_aaaa\n", html="<p>hi</p>")
    data, _ = write(draft)
    message = parse(data)
    assert message.get_param("boundary") == "=_bbbb"
    assert text_of(message.get_body(("plain",))) == "--=_aaaa\n"


# ---------------------------------------------------------------- refused


def test_a_missing_attachment_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    (tmp_path / "ok.txt").write_text("fine")
    draft = Draft(
        to=("a@example.org",), text="x", attachments=(tmp_path / "ok.txt", tmp_path / "gone.pdf")
    )
    out = io.BytesIO()
    with pytest.raises(UsageError, match=r"cannot read attachment .*gone\.pdf: No such file"):
        write_message(draft, out, sender=ME)
    assert out.getvalue() == b""


def test_a_directory_is_not_an_attachment(tmp_path: Path) -> None:
    out = io.BytesIO()
    with pytest.raises(UsageError, match="cannot read attachment"):
        write_message(Draft(to=("a@example.org",), attachments=(tmp_path,)), out, sender=ME)
    assert out.getvalue() == b""


def test_an_attachment_that_cannot_be_opened_is_refused_with_the_reason(tmp_path: Path) -> None:
    # A name over NAME_MAX fails to open for every user, root included (a file without read
    # permission would not stop root, who runs CI here).
    unopenable = tmp_path / ("x" * 300 + ".pdf")
    with pytest.raises(UsageError, match="File name too long"):
        write_message(
            Draft(to=("a@example.org",), attachments=(unopenable,)), io.BytesIO(), sender=ME
        )


def test_an_extra_header_too_long_to_fold_is_refused() -> None:
    draft = Draft(to=("a@example.org",), text="x", headers=(("Sender", "y" * 1200 + "@x.org"),))
    with pytest.raises(UsageError, match="the Sender header is too long"):
        write_message(draft, io.BytesIO(), sender=ME)


def test_long_message_ids_are_folded_between_ids_never_encoded() -> None:
    exchange = "<AM0PR07MB6148B2D0C0F33F5A6E4B7C1A8E3F0@AM0PR07MB6148.eurprd07.prod.outlook.com>"
    chain = (*(f"<{n}.{'x' * 60}@example.com>" for n in range(5)), exchange)
    draft = Draft(to=("a@example.org",), text="x", in_reply_to=exchange, references=chain)
    data, _ = write(draft, message_id="<" + "m" * 90 + "@example.com>")
    assert b"=?" not in data
    message = parse(data)
    assert message["In-Reply-To"] == exchange
    assert message["References"].split() == list(chain)
    assert message["Message-ID"] == "<" + "m" * 90 + "@example.com>"


@pytest.mark.parametrize("bad", ["no-brackets@x", "<two words@x>", "<a@b> <c@d>", "<\u00e9@x>"])
def test_message_ids_must_be_one_id(bad: str) -> None:
    with pytest.raises(UsageError, match="not a message ID"):
        Draft(to=("a@example.org",), in_reply_to=bad.encode().decode("unicode_escape"))


def test_extra_headers_are_written_folded() -> None:
    draft = Draft(
        to=("a@example.org",), text="x", headers=(("X-Priority", "1"), ("X-Note", "Ünïcode " * 20))
    )
    message = parse(write(draft)[0])
    assert message["X-Priority"] == "1"
    assert message["X-Note"] == ("Ünïcode " * 20).strip()


# ---------------------------------------------------------------- hostile names


@pytest.mark.parametrize(
    "hostile",
    [
        "../../etc/passwd",
        "..\\..\\boot.ini",
        "evil\r\nBcc: x@example.com.txt",
        "nul\x00byte.txt",
        ".hidden",
        "a" * 400 + ".pdf",
        "\u202egpj.exe",
        "CON.txt",
    ],
)
def test_hostile_display_names_are_made_safe(tmp_path: Path, hostile: str) -> None:
    (tmp_path / "file").write_bytes(b"content")
    attachment = Attachment(tmp_path / "file", filename=hostile)
    data, _ = write(Draft(to=("a@example.org",), attachments=(attachment,)))
    part = next(parse(data).iter_attachments())
    name = part.get_filename()
    content_type = part.get_content_type()
    assert name == safe_filename(hostile, content_type=content_type, index=1, kind="attachment")
    assert "/" not in name and "\\" not in name and not name.startswith(".")
    assert not any(ord(c) < 32 for c in name)
    assert len(name.encode()) <= 255
    assert part.get_payload(decode=True) == b"content"


def test_a_file_whose_own_name_has_a_line_break(tmp_path: Path) -> None:
    path = tmp_path / "two\nlines.txt"
    path.write_bytes(b"x")
    data, _ = write(Draft(to=("a@example.org",), attachments=(path,)))
    assert next(parse(data).iter_attachments()).get_filename() == "two lines.txt"


# ---------------------------------------------------------------- properties

_header_text = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")))


@settings(max_examples=examples(100))
@given(before=_header_text, bad=st.sampled_from("\r\n\x00\x0b\x0c\x1c\x7f\x85\u2028\u2029"))
def test_a_subject_that_could_end_a_line_is_refused(before: str, bad: str) -> None:
    with pytest.raises(UsageError, match="the subject must be one line"):
        Draft(to=("a@example.org",), subject=f"{before}{bad}Bcc: x@example.com")


def _normal_text(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text if text.endswith("\n") else text + "\n"


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(), subject=_header_text)
def test_any_text_and_subject_come_back(text: str, subject: str) -> None:
    data, _ = write(Draft(to=("a@example.org",), subject=subject, text=text))
    message = parse(data)
    assert text_of(message) == _normal_text(text)
    # the stdlib unfolds and decodes; runs of white space come back as it writes them
    assert " ".join(str(message["Subject"] or "").split()) == " ".join(subject.split())


@settings(
    max_examples=examples(200),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(name=st.text(min_size=1, max_size=300), html=st.text())
def test_any_file_name_and_html_come_back(tmp_path: Path, name: str, html: str) -> None:
    (tmp_path / "payload").write_bytes(b"\x00\xffdata")
    attachment = Attachment(tmp_path / "payload", filename=name)
    data, _ = write(Draft(to=("a@example.org",), html=html, attachments=(attachment,)))
    message = parse(data)
    part = next(message.iter_attachments())
    assert part.get_filename() == attachment_name(name, part.get_content_type(), 1)
    # the bytes as sent, whatever type the name suggests (get_content() would decode a
    # text/* part and knows no chemical/* at all: both are types mimetypes guesses)
    assert part.get_payload(decode=True) == b"\x00\xffdata"
    assert text_of(message.get_body(("html",))) == _normal_text(html)


# ---------------------------------------------------------------- memory


def test_a_30_mb_attachment_is_streamed_in_a_few_mb(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    block = bytes(range(256)) * 4096  # 1 MiB
    with big.open("wb") as handle:
        for _ in range(30):
            handle.write(block)
    draft = Draft(to=("a@example.org",), text="The file.", attachments=(big,))
    out_path = tmp_path / "message.eml"
    written, peak = peak_writing(out_path, lambda out: write_message(draft, out, sender=ME))
    assert peak < 4 << 20, f"peak {peak / 2**20:.1f} MiB"
    assert written.size == out_path.stat().st_size > 40 << 20
    with out_path.open("rb") as handle:
        message = BytesParser(policy=policy.default).parse(handle)
    assert next(message.iter_attachments()).get_content() == block * 30
