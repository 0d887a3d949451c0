"""Replies and forwards made from realistic originals (the project's own fixtures)."""

from __future__ import annotations

import base64
import io
from dataclasses import replace
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from o365imap.compose import (
    Attachment,
    forward_draft,
    reply_draft,
    subject_with,
    write_message,
)
from o365imap.compose._reply import MAX_REFERENCES

ME = "Me Myself <me@contoso.com>"
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 8
PDF64 = base64.encodebytes(PDF).replace(b"\n", b"\r\n")

# Outlook's shape: mixed(alternative(plain QP, html), attachment), Exchange IDs, RFC 2047 names.
OUTLOOK = (
    b"From: =?iso-8859-1?Q?J=FCrgen_M=FCller?= <juergen@fabrikam.de>\r\n"
    b'To: Me Myself <me@contoso.com>, "Lee, Ann" <ann@contoso.com>\r\n'
    b"CC: Bob <BOB@fabrikam.de>, me@CONTOSO.com\r\n"
    b"Subject: AW: Angebot =?iso-8859-1?Q?f=FCr?= Q1\r\n"
    b"Thread-Topic: Angebot f\xfcr Q1\r\n"
    b"Thread-Index: AQHZ1Y2kq7Lw1kz5bUa0aXmK7JcT0w==\r\n"
    b"Date: Tue, 1 Dec 2026 09:15:02 +0000\r\n"
    b"Message-ID: <AM0PR07MB6148B2D0C0F33F5A6E4B7C1A8E3F0@AM0PR07MB6148.eurprd07.prod.outlook.com>\r\n"
    b"References: <root@contoso.com>\r\n"
    b"In-Reply-To: <root@contoso.com>\r\n"
    b"Accept-Language: de-DE, en-US\r\n"
    b"Content-Language: de-DE\r\n"
    b"X-MS-Has-Attach: yes\r\n"
    b"Content-Type: multipart/mixed;\r\n"
    b'\tboundary="_004_AM0PR07MB6148B2D0C0F33F5A6E4B7C1A8E3F0AM0PR07MB6148eurp_"\r\n'
    b"MIME-Version: 1.0\r\n"
    b"\r\n"
    b"--_004_AM0PR07MB6148B2D0C0F33F5A6E4B7C1A8E3F0AM0PR07MB6148eurp_\r\n"
    b"Content-Type: multipart/alternative;\r\n"
    b'\tboundary="_000_AM0PR07MB6148B2D0C0F33F5A6E4B7C1A8E3F0AM0PR07MB6148eurp_"\r\n'
    b"\r\n"
    b"--_000_AM0PR07MB6148B2D0C0F33F5A6E4B7C1A8E3F0AM0PR07MB6148eurp_\r\n"
    b'Content-Type: text/plain; charset="iso-8859-1"\r\n'
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Hallo zusammen,\r\n"
    b"\r\n"
    b"anbei das Angebot f=FCr Q1.\r\n"
    b"> zitiert\r\n"
    b"\r\n"
    b"Gr=FC=DFe\r\n"
    b"J=FCrgen\r\n"
    b"\r\n"
    b"--_000_AM0PR07MB6148B2D0C0F33F5A6E4B7C1A8E3F0AM0PR07MB6148eurp_\r\n"
    b'Content-Type: text/html; charset="iso-8859-1"\r\n'
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"<html><body><p>Hallo zusammen,</p><p>anbei das Angebot f=FCr Q1.</p></body></html>\r\n"
    b"\r\n"
    b"--_000_AM0PR07MB6148B2D0C0F33F5A6E4B7C1A8E3F0AM0PR07MB6148eurp_--\r\n"
    b"\r\n"
    b"--_004_AM0PR07MB6148B2D0C0F33F5A6E4B7C1A8E3F0AM0PR07MB6148eurp_\r\n"
    b'Content-Type: application/pdf; name="=?iso-8859-1?Q?Angebot_f=FCr_Q1.pdf?="\r\n'
    b"Content-Description: =?iso-8859-1?Q?Angebot_f=FCr_Q1.pdf?=\r\n"
    b"Content-Disposition: attachment;\r\n"
    b'\tfilename="=?iso-8859-1?Q?Angebot_f=FCr_Q1.pdf?="; size=2057;\r\n'
    b'\tcreation-date="Tue, 01 Dec 2026 09:14:00 GMT"\r\n'
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n" + PDF64 + b"\r\n"
    b"--_004_AM0PR07MB6148B2D0C0F33F5A6E4B7C1A8E3F0AM0PR07MB6148eurp_--\r\n"
)

WITH_REPLY_TO = (
    b"From: Newsletter Robot <robot@lists.example.org>\n"
    b"Reply-To: Discussion <discuss@lists.example.org>, owner@lists.example.org\n"
    b"To: discuss@lists.example.org\n"
    b"Subject: Re[2]: RE:Re: Budget\n"
    b"Date: Wed, 2 Dec 2026 18:00:00 -0500\n"
    b"Message-ID: <42@lists.example.org>\n"
    b"Content-Type: text/plain; charset=utf-8\n"
    b"\n"
    b"Numbers attached.\n"
    b"\n"
    b"-- \n"
    b"Robot\n"
)

CHAIN = [f"<{n}.{'t' * 40}@thread.example.com>" for n in range(25)]
LONG_THREAD = (
    b"From: Ann <ann@contoso.com>\r\n"
    b"To: me@contoso.com\r\n"
    b"Subject: Re: Re: re: The long thread\r\n"
    b"Message-ID: <last@thread.example.com>\r\n"
    b"In-Reply-To: " + CHAIN[-1].encode() + b"\r\n"
    b"References: " + b"\r\n ".join(c.encode() for c in CHAIN) + b"\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"\r\n"
    b"<div>Agreed.<br>Let&#39;s <b>ship</b> it.</div>\r\n"
)


def test_a_reply_goes_to_the_sender_quoting_the_plain_text() -> None:
    draft = reply_draft(OUTLOOK, me=ME)
    assert draft.sender == "Me Myself <me@contoso.com>"
    assert draft.to == ("Jürgen Müller <juergen@fabrikam.de>",)
    assert draft.cc == ()
    assert draft.subject == "Re: Angebot für Q1"
    original_id = "<AM0PR07MB6148B2D0C0F33F5A6E4B7C1A8E3F0@AM0PR07MB6148.eurprd07.prod.outlook.com>"
    assert draft.in_reply_to == original_id
    assert draft.references == ("<root@contoso.com>", original_id)
    assert draft.text == (
        "On Tue, 01 Dec 2026 at 09:15, Jürgen Müller wrote:\n"
        "> Hallo zusammen,\n"
        ">\n"
        "> anbei das Angebot für Q1.\n"
        ">> zitiert\n"
        ">\n"
        "> Grüße\n"
        "> Jürgen\n\n"
    )
    assert draft.attachments == ()


def test_reply_all_adds_to_and_cc_without_me_or_repeats() -> None:
    draft = reply_draft(OUTLOOK, me="ME@contoso.com", reply_all=True)
    assert draft.to == ("Jürgen Müller <juergen@fabrikam.de>",)
    assert draft.cc == ('"Lee, Ann" <ann@contoso.com>', "Bob <BOB@fabrikam.de>")


def test_a_reply_goes_to_reply_to_and_prefixes_are_not_doubled() -> None:
    draft = reply_draft(WITH_REPLY_TO, me=ME)
    assert draft.to == ("Discussion <discuss@lists.example.org>", "owner@lists.example.org")
    assert draft.subject == "Re: Budget"
    assert draft.references == ("<42@lists.example.org>",)
    assert (draft.text or "").startswith("On Wed, 02 Dec 2026 at 18:00, Newsletter Robot wrote:\n")
    assert "> -- \n> Robot\n" in (draft.text or "")
    everyone = reply_draft(WITH_REPLY_TO, me=ME, reply_all=True)
    assert everyone.cc == ()  # To was the list, already replied to


def test_a_long_thread_keeps_its_root_and_the_last_ids() -> None:
    draft = reply_draft(io.BytesIO(LONG_THREAD), me=ME)
    assert len(draft.references) == MAX_REFERENCES
    assert draft.references[0] == CHAIN[0]
    assert draft.references[-1] == "<last@thread.example.com>"
    assert draft.references[1:-1] == tuple(CHAIN[-(MAX_REFERENCES - 2) :])
    assert draft.subject == "Re: The long thread"
    assert "> Agreed." in (draft.text or "") and "ship" in (draft.text or "")
    assert "<b>" not in (draft.text or "")


def test_replying_to_ones_own_message_goes_to_its_recipients() -> None:
    sent = b"From: Me <me@contoso.com>\nTo: Ann <ann@contoso.com>\nSubject: Plan\n\nHi\n"
    assert reply_draft(sent, me=ME).to == ("Ann <ann@contoso.com>",)


def test_a_reply_is_a_message_that_threads() -> None:
    out = io.BytesIO()
    write_message(reply_draft(OUTLOOK, me=ME, reply_all=True), out, sender=ME)
    message = BytesParser(policy=policy.default).parsebytes(out.getvalue())
    assert message["In-Reply-To"].startswith("<AM0PR07MB6148")
    assert message["Subject"] == "Re: Angebot für Q1"


def test_an_original_with_odd_headers_still_gives_a_reply() -> None:
    odd = (
        b"From: nobody\nTo: a@x.org, \xff\xfe@broken, undisclosed-recipients:;\n"
        b"Subject: =?bogus?q?x?= \x01ctl\nDate: not a date\nMessage-ID: no brackets\n\nbody\n"
    )
    draft = reply_draft(odd, me=ME, reply_all=True)
    assert draft.to == ()  # "nobody" is no address: the person fills To in
    assert draft.cc == ("a@x.org",)
    assert draft.in_reply_to is None and draft.references == ()
    assert draft.text == "nobody wrote:\n> body\n\n"


def test_an_id_that_cannot_be_sent_back_is_left_out_of_the_thread() -> None:
    original = (
        "From: bob@x.org\nTo: me@contoso.com\nSubject: s\nMessage-ID: <last@x.org>\n"
        "References: <root@x.org> <caf\u00e9@x.org> <ctl\x01@x.org>\n\nbody\n"
    ).encode()
    draft = reply_draft(original, me=ME)
    assert draft.references == ("<root@x.org>", "<last@x.org>")
    assert draft.in_reply_to == "<last@x.org>"


@pytest.mark.parametrize(
    ("prefix", "subject", "expected"),
    [
        ("Re", "Hello", "Re: Hello"),
        ("Re", "Re: Hello", "Re: Hello"),
        ("Re", "RE:Hello", "Re: Hello"),
        ("Re", "aw: Re : Hello", "Re: Hello"),
        ("Re", "Fwd: Hello", "Re: Fwd: Hello"),
        ("Re", "", "Re: "),
        ("Fwd", "Hello", "Fwd: Hello"),
        ("Fwd", "FW: Fwd:WG: Hello", "Fwd: Hello"),
        ("Fwd", "Re: Hello", "Fwd: Re: Hello"),
        ("Re", "Regarding the plan", "Re: Regarding the plan"),
        ("Fwd", "Forward planning", "Fwd: Forward planning"),
    ],
)
def test_subject_prefixes(prefix: str, subject: str, expected: str) -> None:
    assert subject_with(prefix, subject) == expected


# ---------------------------------------------------------------- forward


def test_a_forward_keeps_the_attachments_under_their_names(tmp_path: Path) -> None:
    draft = forward_draft(OUTLOOK, me=ME, attachments_dir=tmp_path / "fwd")
    assert draft.to == () and draft.sender == "Me Myself <me@contoso.com>"
    assert draft.subject == "Fwd: AW: Angebot für Q1"
    assert draft.text == (
        "\n\n---------- Forwarded message ---------\n"
        "From: Jürgen Müller <juergen@fabrikam.de>\n"
        "Date: Tue, 01 Dec 2026 09:15:02 +0000\n"
        "Subject: AW: Angebot für Q1\n"
        'To: Me Myself <me@contoso.com>, "Lee, Ann" <ann@contoso.com>\n'
        "Cc: Bob <BOB@fabrikam.de>, me@CONTOSO.com\n"
        "\n"
        "Hallo zusammen,\n\nanbei das Angebot für Q1.\n> zitiert\n\nGrüße\nJürgen\n"
    )
    (attached,) = draft.files
    assert attached == Attachment(
        tmp_path / "fwd" / "Angebot für Q1.pdf", "Angebot für Q1.pdf", "application/pdf"
    )
    assert attached.path.read_bytes() == PDF


def test_a_forward_is_sent_with_the_attachment(tmp_path: Path) -> None:
    draft = forward_draft(OUTLOOK, me=ME, attachments_dir=tmp_path)
    out = io.BytesIO()
    write_message(replace(draft, to=("x@example.org",)), out, sender=ME)
    message = BytesParser(policy=policy.default).parsebytes(out.getvalue())
    (part,) = message.iter_attachments()
    assert part.get_filename() == "Angebot für Q1.pdf"
    assert part.get_content() == PDF


HOSTILE = (
    b"From: a@x.org\r\nTo: b@x.org\r\nSubject: files\r\n"
    b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain\r\n\r\nsee files\r\n"
    b'--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename="../../etc/passwd"\r\n\r\nroot\r\n'
    b'--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename="passwd"\r\n\r\nsecond\r\n'
    b'--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=".bashrc"\r\n\r\nrc\r\n'
    b"--b\r\nContent-Type: image/png\r\nContent-Disposition: attachment;\r\n filename*=utf-8''a%0Ab%00c.png\r\n\r\npng\r\n"
    b"--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: c@x.org\r\nSubject: inner\r\n\r\ninner body\r\n"
    b'--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="'
    + b"n"
    * 300
    + b'.pdf"\r\n\r\npdf\r\n'
    b"--b--\r\n"
)


def test_forwarded_attachment_names_are_made_safe(tmp_path: Path) -> None:
    existing = tmp_path / "passwd"
    existing.write_text("already here")
    draft = forward_draft(HOSTILE, me=ME, attachments_dir=tmp_path)
    names = [a.filename for a in draft.files]
    assert names[:3] == ["passwd", "passwd", "bashrc"]
    assert names[3] == "a b c.png"
    assert names[4] == "message-5.eml"
    assert names[5] == "n" * 251 + ".pdf"
    files = [a.path for a in draft.files]
    assert all(p.parent == tmp_path for p in files)
    assert [p.name for p in files[:2]] == ["passwd (2)", "passwd (3)"]
    assert existing.read_text() == "already here"
    assert files[0].read_bytes() == b"root"
    assert b"Subject: inner" in files[4].read_bytes()
