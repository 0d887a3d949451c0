"""The ``Attachments`` folder: one message for each kind of part a reader must open and save.

Built for ``o365imap show`` / ``save`` and their tests: hostile and duplicate file names,
winmail.dat, HTML-only mail, quoted-printable parts, and raw messages whose MIME is broken the
ways real mail is (the same boundary inside and outside, a boundary that is the prefix of
another, an unquoted boundary with ``=``, a missing close delimiter, 8-bit headers, CR LF
encoded into a subject). Every message carries a tag; :data:`EXPECTED` says, per tag, which
files a correct ``save`` writes (name, bytes), in order.
"""

from __future__ import annotations

import base64
import random
from datetime import UTC, datetime, timedelta

from .mailbuild import SeedAddress, SeedAttachment, SeedMessage
from .mailgen import PDF_BYTES, PNG_1X1
from .tnefbuild import build_tnef

__all__ = ["CUT_SHORT", "EXPECTED", "attachment_messages"]

# tag -> the files a correct save writes: (file name, bytes), in part order.
EXPECTED: dict[str, list[tuple[str, bytes]]] = {}
# Tags of the messages that end inside their last file (no close delimiter): a save keeps
# what there is of it and says it is incomplete.
CUT_SHORT = frozenset({"missing-close"})

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
    for tag, subject, raw, files in _raw_samples(me, user):
        when = start + timedelta(hours=len(out))
        EXPECTED[tag] = files
        out.append(
            SeedMessage(
                date=when,
                subject=subject,
                from_=(_SENDER,),
                to=(me,),
                message_id=f"<{tag}@attachments.sandbox.test>",
                tags=frozenset({tag, "raw"}),
                raw=raw.replace(b"{date}", _rfc5322(when).encode()),
            )
        )
    return out


def _rfc5322(when: datetime) -> str:
    return when.strftime("%a, %d %b %Y %H:%M:%S +0000")


_Sample = tuple[str, str, bytes, list[tuple[str, bytes]]]  # tag, subject, bytes, files


def _raw_samples(me: SeedAddress, user: str) -> list[_Sample]:
    head = (
        "Date: {date}\r\nFrom: Megan Bowen <megan.bowen@contoso.example>\r\n"
        f"To: {me.name} <{user}>\r\nMIME-Version: 1.0\r\n"
    )
    samples: list[_Sample] = []

    def sample(tag: str, subject: str, rest: str | bytes, files: list[tuple[str, bytes]],
               subject_header: str | None = None) -> None:  # fmt: skip
        text = head + f"Message-ID: <{tag}@attachments.sandbox.test>\r\n"
        text += f"Subject: {subject_header or subject}\r\n"
        body = rest.encode() if isinstance(rest, str) else rest
        samples.append((tag, subject, text.encode() + body, files))

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
    return samples


attachment_messages(
    "adele.vance@contoso.example"
)  # fills EXPECTED (it does not depend on the user)
