"""The ``Attachments`` folder: one message for each kind of part a reader must open and save.

Built for ``o365imap show`` / ``save`` and their tests: hostile and duplicate file names,
winmail.dat, HTML-only mail, quoted-printable parts, and raw messages whose MIME is broken the
ways real mail is (the same boundary inside and outside, a boundary that is the prefix of
another, an unquoted boundary with ``=``, a missing close delimiter, 8-bit headers, CR LF
encoded into a subject), and parts that are no attachments although they are not the text
(a ``text/enriched`` alternative; the status and the returned message of a bounce, from
Office 365 and from Postfix). Every message carries a tag; :data:`EXPECTED` says, per tag,
which files a correct ``save`` writes (name, bytes), in order; :data:`ALTERNATIVES` and
:data:`REPORTS` what ``show`` lists besides them.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .mailcatalog import PDF_BYTES, PNG_1X1
from .mailmodel import SeedAddress, SeedAttachment, SeedMessage
from .tnefbuild import build_tnef

__all__ = [
    "ALTERNATIVES",
    "CUT_SHORT",
    "EXPECTED",
    "REPORTS",
    "ExpectedReport",
    "attachment_messages",
]

# tag -> the files a correct save writes: (file name, bytes), in part order.
EXPECTED: dict[str, list[tuple[str, bytes]]] = {}
# Tags of the messages that end inside their last file (no close delimiter): a save keeps
# what there is of it and says it is incomplete.
CUT_SHORT = frozenset({"missing-close"})
# tag -> the other versions of the text (RFC 2046 5.1.4), listed apart: (part, content type).
ALTERNATIVES: dict[str, list[tuple[str, str]]] = {
    "enriched-alternative": [("1.2", "text/enriched")],
}


@dataclass(frozen=True, slots=True)
class ExpectedReport:
    """What ``show`` says of a seeded bounce (a ``multipart/report``)."""

    text_begins: str  # the text shown: the report's first part
    reporting_mta: str
    # per recipient: address, action, status code, diagnostic (without its "smtp;" type)
    recipients: tuple[tuple[str, str, str, str], ...]
    returned_part: str
    returned_type: str
    returned_subject: str
    returned_message_id: str


REPORTS: dict[str, ExpectedReport] = {
    "bounce-office365": ExpectedReport(
        text_begins="Your message to jane.doe@fabrikam.example couldn't be delivered.",
        reporting_mta="DB9PR01MB0001.eurprd01.prod.exchangelabs.com",
        recipients=(
            (
                "jane.doe@fabrikam.example",
                "failed",
                "5.1.10",
                "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP "
                "address lookup",
            ),
        ),
        returned_part="3",
        returned_type="message/rfc822",
        returned_subject="Quarterly numbers",
        returned_message_id="<quarterly-numbers@contoso.example>",
    ),
    "bounce-headers": ExpectedReport(
        text_begins="This is the mail system at host mx.fabrikam.example.",
        reporting_mta="mx.fabrikam.example",
        recipients=(
            (
                "jane.doe@fabrikam.example",
                "failed",
                "5.1.1",
                "550 5.1.1 <jane.doe@fabrikam.example>: Recipient address rejected: User unknown",
            ),
            (
                "lee.chen@fabrikam.example",
                "delayed",
                "4.4.1",
                "connect to mailstore2.fabrikam.example[10.0.0.8]:25: Connection timed out",
            ),
        ),
        returned_part="3",
        returned_type="text/rfc822-headers",
        returned_subject="Budget für Juni",
        returned_message_id="<budget-june@contoso.example>",
    ),
}

_SENDER = SeedAddress("Megan Bowen", "megan.bowen@contoso.example")
_CSV = b"name,amount\r\nAlpha,1\r\nBeta,2\r\n"
_QP_TEXT = "Übergrößenträger = 42 €\nZeile zwei, mit einem sehr langen Satz, der umbrochen wird.\n"


def _b64(data: bytes) -> bytes:
    text = base64.b64encode(data)
    return b"\r\n".join(text[i : i + 76] for i in range(0, len(text), 76))


def attachment_messages(user: str) -> list[SeedMessage]:
    """The messages of the ``Attachments`` folder, in UID order (fills :data:`EXPECTED`)."""
    me = SeedAddress("Adele Vance", user)
    start = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
    out: list[SeedMessage] = []

    def add(tag: str, subject: str, files: list[tuple[str, bytes]], **kw: object) -> None:
        when = start + timedelta(hours=len(out))
        fields: dict[str, object] = {"from_": (_SENDER,), "to": (me,), "body": "See attached.\n"}
        fields.update(kw)
        msg = SeedMessage(
            date=when,
            subject=subject,
            message_id=f"<{tag}@attachments.sandbox.test>",
            tags=frozenset({tag}),
            **fields,  # type: ignore[arg-type]
        )
        EXPECTED[tag] = files
        out.append(msg)

    hostile = [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\Windows\\win.ini", "win.ini"),
        ("/etc/cron.d/evil", "evil"),
        ("CON.txt", "_CON.txt"),
        (".bashrc", "bashrc"),
        ("evil\r\nname.txt", "evil name.txt"),
        ("a" * 300 + ".pdf", "a" * 251 + ".pdf"),
    ]
    add(
        "hostile-names",
        "Hostile file names",
        [(safe, f"hostile {i}\n".encode()) for i, (_, safe) in enumerate(hostile)],
        attachments=tuple(
            SeedAttachment(
                name,
                "application/octet-stream",
                f"hostile {i}\n".encode(),
                filename_style="rfc2231",
            )
            for i, (name, _) in enumerate(hostile)
        ),
    )
    scan_a, scan_b = b"%PDF-1.4 first scan\n", b"%PDF-1.4 second scan\n"
    add(
        "duplicate-names",
        "Two scans with the same name",
        [("scan.pdf", scan_a), ("scan (2).pdf", scan_b)],
        attachments=(
            SeedAttachment("scan.pdf", "application/pdf", scan_a),
            SeedAttachment("scan.pdf", "application/pdf", scan_b),
        ),
    )
    carried = [("Budget 2024.xlsx", b"PK\x03\x04" + bytes(64)), ("Grüße.txt", "Grüße\n".encode())]
    add(
        "tnef",
        "Outlook rich text with winmail.dat",
        carried,
        attachments=(SeedAttachment("winmail.dat", "application/ms-tnef", build_tnef(carried)),),
    )
    big = random.Random(4).randbytes(3 << 20)  # noqa: S311 - reproducible bytes
    add(
        "unnamed-parts",
        "Parts without names",
        [("attachment-1.pdf", PDF_BYTES), ("image-2.png", PNG_1X1), ("attachment-3.bin", big)],
        attachments=(
            SeedAttachment(None, "application/pdf", PDF_BYTES),
            SeedAttachment(None, "image/png", PNG_1X1),
            SeedAttachment(None, "application/octet-stream", big),
        ),
    )
    add(
        "long-text",
        "A long text body (2 MB)",
        [],
        body="".join(
            f"Line {n:06d} of a very long report, kept whole by show.\n" for n in range(36_000)
        ),
    )
    for tag, subject, raw, files, sender in _raw_samples(me, user):
        when = start + timedelta(hours=len(out))
        EXPECTED[tag] = files
        out.append(
            SeedMessage(
                date=when,
                subject=subject,
                from_=(sender,),
                to=(me,),
                message_id=f"<{tag}@attachments.sandbox.test>",
                tags=frozenset({tag, "raw"}),
                raw=raw.replace(b"{date}", _rfc5322(when).encode()),
            )
        )
    return out


def _rfc5322(when: datetime) -> str:
    return when.strftime("%a, %d %b %Y %H:%M:%S +0000")


# tag, subject, bytes, files, sender
_Sample = tuple[str, str, bytes, list[tuple[str, bytes]], SeedAddress]


def _raw_samples(me: SeedAddress, user: str) -> list[_Sample]:
    samples: list[_Sample] = []

    def sample(
        tag: str,
        subject: str,
        rest: str | bytes,
        files: list[tuple[str, bytes]],
        subject_header: str | None = None,
        sender: SeedAddress = _SENDER,
    ) -> None:
        text = f"Date: {{date}}\r\nFrom: {sender.name} <{sender.email}>\r\n"
        text += f"To: {me.name} <{user}>\r\nMIME-Version: 1.0\r\n"
        text += f"Message-ID: <{tag}@attachments.sandbox.test>\r\n"
        text += f"Subject: {subject_header or subject}\r\n"
        body = rest.encode() if isinstance(rest, str) else rest
        samples.append((tag, subject, text.encode() + body, files, sender))

    sample(
        "html-only",
        "HTML only, with an inline image",
        'Content-Type: multipart/related; boundary="rel"\r\n\r\n'
        "--rel\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        "<html><body><h1>Quarterly update</h1><p>Revenue is <b>up</b>.</p>"
        "<ul><li>Alpha</li><li>Beta</li></ul>"
        '<table><tr><td>Q1</td><td>1200</td></tr></table><img src="cid:chart@x"></body></html>\r\n'
        "--rel\r\nContent-Type: image/png\r\nContent-ID: <chart@x>\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n" + _b64(PNG_1X1).decode() + "\r\n"
        "--rel--\r\n",
        [("image-1.png", PNG_1X1)],
    )
    notes = b"inner and outer share a boundary\r\n"
    sample(
        "same-boundary",
        "Same boundary inside and outside",
        'Content-Type: multipart/mixed; boundary="SAME"\r\n\r\n'
        "--SAME\r\n"
        'Content-Type: multipart/alternative; boundary="SAME"\r\n\r\n'
        "--SAME\r\nContent-Type: text/plain\r\n\r\nPlain body.\r\n"
        "--SAME\r\nContent-Type: text/html\r\n\r\n<p>HTML body.</p>\r\n"
        "--SAME--\r\n"
        "--SAME\r\n"
        'Content-Type: text/plain; name="notes.txt"\r\n'
        'Content-Disposition: attachment; filename="notes.txt"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n" + _b64(notes).decode() + "\r\n"
        "--SAME--\r\n",
        [("notes.txt", notes)],
    )
    sample(
        "boundary-prefix",
        "A boundary that is the prefix of another",
        'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        "--b1\r\n"
        'Content-Type: multipart/alternative; boundary="b1_alt"\r\n\r\n'
        "--b1_alt\r\nContent-Type: text/plain\r\n\r\nPlain.\r\n"
        "--b1_alt\r\nContent-Type: text/html\r\n\r\n<p>HTML.</p>\r\n"
        "--b1_alt--\r\n"
        "--b1\r\n"
        'Content-Type: application/pdf; name="report.pdf"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n" + _b64(PDF_BYTES).decode() + "\r\n"
        "--b1--\r\n",
        [("report.pdf", PDF_BYTES)],
    )
    sample(
        "unquoted-boundary",
        "An unquoted boundary with =",
        "Content-Type: multipart/mixed; boundary=----=_NextPart_000_0012_01DA\r\n\r\n"
        "------=_NextPart_000_0012_01DA\r\nContent-Type: text/plain\r\n\r\nBody.\r\n"
        "------=_NextPart_000_0012_01DA\r\n"
        "Content-Type: text/csv; name=data.csv\r\n"
        "Content-Disposition: attachment; filename=data.csv\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n" + _b64(_CSV).decode() + "\r\n"
        "------=_NextPart_000_0012_01DA--\r\n",
        [("data.csv", _CSV)],
    )
    sample(
        "missing-close",
        "The close delimiter is missing",
        'Content-Type: multipart/mixed; boundary="open"\r\n\r\n'
        "--open\r\nContent-Type: text/plain\r\n\r\nBody.\r\n"
        "--open\r\n"
        'Content-Type: image/png; name="pixel.png"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n" + _b64(PNG_1X1).decode() + "\r\n",
        [("pixel.png", PNG_1X1)],
    )
    listing = "Größe;Menge\r\nÄpfel;3\r\n".encode()
    sample(
        "8bit-headers",
        "Raw UTF-8 headers: Bericht für März",
        b'Content-Type: multipart/mixed; boundary="8b"\r\n\r\n'
        b"--8b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit"
        b"\r\n\r\n" + "Grüße aus Köln.\r\n".encode() + b"--8b\r\n"
        b'Content-Type: text/csv; name="' + "Übersicht März.csv".encode() + b'"\r\n'
        b"Content-Disposition: attachment\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + listing
        + b"--8b--\r\n",
        [("Übersicht März.csv", listing[:-2])],  # the last CRLF belongs to the delimiter
        subject_header="Raw UTF-8 headers: Bericht für März",
    )
    inner = (
        b"From: Support <support@fabrikam.example>\r\nTo: Adele <adele@contoso.example>\r\n"
        b"Subject: =?UTF-8?Q?Ticket_123=0D=0A_resolved?=\r\nMessage-ID: <ticket123@fabrikam>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b"Your ticket is resolved.\r\n"
    )
    sample(
        "encoded-crlf",
        "Fwd: Ticket 123 resolved",
        b'Content-Type: multipart/mixed; boundary="fw"\r\n\r\n'
        b"--fw\r\nContent-Type: text/plain\r\n\r\nForwarded.\r\n"
        b"--fw\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--fw--\r\n",
        [("message-1.eml", inner)],
        subject_header="=?UTF-8?Q?Fwd:_Ticket_123=0D=0A_resolved?=",
    )
    qp_raw = (
        "=C3=9Cbergr=C3=B6=C3=9Fentr=C3=A4ger =3D 42 =E2=82=AC\r\n"
        "Zeile zwei, mit einem sehr langen Satz, der umbroc=\r\nhen wird.\r\n"
    )
    sample(
        "quoted-printable",
        "A quoted-printable attachment",
        'Content-Type: multipart/mixed; boundary="qp"\r\n\r\n'
        "--qp\r\nContent-Type: text/plain\r\n\r\nBody.\r\n"
        "--qp\r\n"
        'Content-Type: text/plain; charset=utf-8; name="Maße.txt"\r\n'
        "Content-Disposition: attachment; filename*=utf-8''Ma%C3%9Fe.txt\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n" + qp_raw + "--qp--\r\n",
        [("Maße.txt", _QP_TEXT.rstrip("\n").replace("\n", "\r\n").encode())],
    )
    # Samples added later go last: the messages above keep their UIDs.
    sized = random.Random(5000).randbytes(5000)  # noqa: S311 - reproducible bytes
    sample(
        "exact-sizes",
        "Two files whose sizes a script checks",
        # base64 of 5,000 bytes is 6,842 bytes on the server, of 300 bytes 410; estimated
        # back, they are 4,999 and 299: only a save (or a parse) tells the exact figures
        'Content-Type: multipart/mixed; boundary="sz"\r\n\r\n'
        "--sz\r\nContent-Type: text/plain\r\n\r\nTwo files.\r\n"
        '--sz\r\nContent-Type: application/octet-stream; name="data.bin"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n" + _b64(sized).decode() + "\r\n"
        '--sz\r\nContent-Type: text/plain; name="notes.txt"\r\n'
        "Content-Disposition: attachment\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n" + _b64(b"n" * 300).decode() + "\r\n"
        "--sz--\r\n",
        [("data.bin", sized), ("notes.txt", b"n" * 300)],
    )
    _report_samples(me, sample)
    return samples


def _report_samples(me: SeedAddress, sample: Callable[..., None]) -> None:
    """A message whose parts are versions of its text, and two bounces (RFC 6522, RFC 3464):
    Office 365's (the message returned whole, its own attachment inside not one of the
    bounce's) and Postfix's (only the returned headers, two recipients)."""
    sample(
        "enriched-alternative",
        "Agenda, in three versions of the text",
        'Content-Type: multipart/mixed; boundary="mx"\r\n\r\n'
        '--mx\r\nContent-Type: multipart/alternative; boundary="alt"\r\n\r\n'
        "--alt\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        "The agenda is attached. Please be on time.\r\n"
        "--alt\r\nContent-Type: text/enriched; charset=us-ascii\r\n\r\n"
        "The <bold>agenda</bold> is attached. Please be <italic>on time</italic>.\r\n"
        "--alt\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n"
        "<p>The <b>agenda</b> is attached. Please be <i>on time</i>.</p>\r\n"
        "--alt--\r\n\r\n"
        '--mx\r\nContent-Type: application/pdf; name="agenda.pdf"\r\n'
        'Content-Disposition: attachment; filename="agenda.pdf"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n" + _b64(PDF_BYTES).decode() + "\r\n"
        "--mx--\r\n",
        [("agenda.pdf", PDF_BYTES)],
    )
    returned = (
        f"From: {me.name} <{me.email}>\r\nTo: Jane Doe <jane.doe@fabrikam.example>\r\n"
        "Subject: Quarterly numbers\r\nDate: Mon, 6 May 2024 08:58:00 +0000\r\n"
        "Message-ID: <quarterly-numbers@contoso.example>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="orig"\r\n\r\n'
        "--orig\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nFigures attached.\r\n"
        '--orig\r\nContent-Type: text/csv; name="figures.csv"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n" + _b64(_CSV).decode() + "\r\n"
        "--orig--\r\n"
    )
    sample(
        "bounce-office365",
        "Undeliverable: Quarterly numbers",
        "Content-Type: multipart/report; report-type=delivery-status;\r\n"
        '\tboundary="ndr_b1"\r\n'
        "Auto-Submitted: auto-replied\r\nX-MS-Exchange-Message-Is-Ndr:\r\n"
        "Content-Language: en-US\r\n\r\n"
        "--ndr_b1\r\nContent-Type: multipart/alternative; differences=Content-Type;\r\n"
        '\tboundary="ndr_b2"\r\n\r\n'
        '--ndr_b2\r\nContent-Type: text/plain; charset="us-ascii"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        "Your message to jane.doe@fabrikam.example couldn't be delivered.\r\n\r\n"
        "jane.doe wasn't found at fabrikam.example.\r\n\r\n"
        "Diagnostic information for administrators:\r\n\r\n"
        "Generating server: DB9PR01MB0001.eurprd01.prod.exchangelabs.com\r\n\r\n"
        "jane.doe@fabrikam.example\r\n"
        "Remote server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not =\r\n"
        "found by SMTP address lookup'\r\n\r\n"
        '--ndr_b2\r\nContent-Type: text/html; charset="us-ascii"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        "<html><body><p>Your message to jane.doe@fabrikam.example couldn't be delivered.=\r\n"
        "</p><p><b>jane.doe</b> wasn't found at fabrikam.example.</p></body></html>\r\n\r\n"
        "--ndr_b2--\r\n\r\n"
        "--ndr_b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns;DB9PR01MB0001.eurprd01.prod.exchangelabs.com\r\n"
        "Received-From-MTA: dns;DB9PR01MB0002.eurprd01.prod.exchangelabs.com\r\n"
        "Arrival-Date: Mon, 6 May 2024 08:58:02 +0000\r\n\r\n"
        "Final-Recipient: rfc822;jane.doe@fabrikam.example\r\n"
        "Action: failed\r\nStatus: 5.1.10\r\n"
        "Diagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not\r\n"
        " found by SMTP address lookup\r\n"
        "X-Display-Name: Jane Doe\r\n\r\n"
        "--ndr_b1\r\nContent-Type: message/rfc822\r\n\r\n" + returned + "\r\n"
        "--ndr_b1--\r\n",
        [],
        sender=SeedAddress(
            "Microsoft Outlook",
            "MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@contoso.example",
        ),
    )
    boundary = "8C1F2A0034.1715000000/mx.fabrikam.example"
    sample(
        "bounce-headers",
        "Undelivered Mail Returned to Sender",
        "Auto-Submitted: auto-replied\r\n"
        "Content-Type: multipart/report; report-type=delivery-status;\r\n"
        f'\tboundary="{boundary}"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'
        "This is a MIME-encapsulated message.\r\n\r\n"
        f"--{boundary}\r\nContent-Description: Notification\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        "This is the mail system at host mx.fabrikam.example.\r\n\r\n"
        "I'm sorry to have to inform you that your message could not\r\n"
        "be delivered to one or more recipients.\r\n\r\n"
        "<jane.doe@fabrikam.example>: host mailstore.fabrikam.example[10.0.0.7] said:\r\n"
        "    550 5.1.1 <jane.doe@fabrikam.example>: Recipient address rejected: User\r\n"
        "    unknown (in reply to RCPT TO command)\r\n\r\n"
        f"--{boundary}\r\nContent-Description: Delivery report\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.fabrikam.example\r\nX-Postfix-Queue-ID: 8C1F2A0034\r\n"
        f"X-Postfix-Sender: rfc822; {me.email}\r\n"
        "Arrival-Date: Mon,  6 May 2024 08:58:10 +0000 (UTC)\r\n\r\n"
        "Final-Recipient: rfc822; jane.doe@fabrikam.example\r\n"
        "Original-Recipient: rfc822;Jane.Doe@fabrikam.example\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; mailstore.fabrikam.example\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <jane.doe@fabrikam.example>: Recipient address\r\n"
        "    rejected: User unknown\r\n\r\n"
        "Final-Recipient: rfc822; lee.chen@fabrikam.example\r\n"
        "Action: delayed\r\nStatus: 4.4.1\r\n"
        "Diagnostic-Code: X-Postfix; connect to mailstore2.fabrikam.example[10.0.0.8]:25:\r\n"
        "    Connection timed out\r\n"
        "Will-Retry-Until: Fri, 10 May 2024 08:58:10 +0000 (UTC)\r\n\r\n"
        f"--{boundary}\r\nContent-Description: Undelivered Message Headers\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        f"Return-Path: <{me.email}>\r\n"
        "Received: from contoso.example (mail.contoso.example [192.0.2.10])\r\n"
        "\tby mx.fabrikam.example (Postfix) with ESMTPS id 8C1F2A0034;\r\n"
        "\tMon,  6 May 2024 08:58:10 +0000 (UTC)\r\n"
        f"From: {me.name} <{me.email}>\r\n"
        "To: Jane Doe <jane.doe@fabrikam.example>, Lee Chen <lee.chen@fabrikam.example>\r\n"
        "Subject: =?utf-8?q?Budget_f=C3=BCr_Juni?=\r\n"
        "Date: Mon, 6 May 2024 08:58:05 +0000\r\n"
        "Message-ID: <budget-june@contoso.example>\r\n\r\n"
        f"--{boundary}--\r\n",
        [],
        sender=SeedAddress("Mail Delivery System", "MAILER-DAEMON@mx.fabrikam.example"),
    )


attachment_messages(
    "adele.vance@contoso.example"
)  # fills EXPECTED (it does not depend on the user)
