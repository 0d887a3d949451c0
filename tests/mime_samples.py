"""The project's own MIME fixtures: the structural quirks of real-world messages (see
../shared/corpus/mime and SOURCES.md section 4), rewritten with our own names and contents.

Each function returns the bytes of one message. Payloads are module constants so tests can
compare decoded bytes (and hashes) with what was encoded.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import quopri
import random
import struct
import zlib
from collections.abc import Iterator
from typing import Any


def _png(width: int, height: int, seed: int) -> bytes:
    """A small valid PNG with deterministic pixels."""
    rng = random.Random(seed)
    rows = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


GIF_PIXEL = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
PNG_SPACER = _png(8, 1, 1)
PNG_BADGE = _png(24, 24, 2)
PNG_BANNER = _png(60, 12, 3)
PNG_EMBLEM = _png(16, 16, 4)
PDF_DRAFT = (
    b"%PDF-1.4\r\n%\xe2\xe3\xcf\xd3\r\n" + random.Random(5).randbytes(1500) + b"\r\n%%EOF\r\n"
)
GZIP_BACKUP = gzip.compress(b"nightly backup of the wiki\n" * 40, mtime=0)
CERT_BLOB = random.Random(6).randbytes(600)  # stands in for the mp3 of the corpus sample


def _b64(data: bytes, width: int = 76) -> bytes:
    text = base64.b64encode(data)
    return b"\n".join(text[i : i + width] for i in range(0, len(text), width))


def _crlf(message: bytes) -> bytes:
    return message.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- structural quirks


def same_boundary_inner_and_outer() -> bytes:
    """The inner multipart/alternative reuses the outer boundary (CPython msg_15 shape), LF
    line endings; the attachment after the inner close delimiter is what ``email`` loses."""
    return (
        b"""Return-Path: <ingrid@example.dk>
User-Agent: Microsoft-Outlook-Express-Macintosh-Edition/5.02.2106
Subject: Kvartalstal
From: ingrid@example.dk
To: team@example.dk
Message-ID: <oe-mac-1@example.dk>
MIME-version: 1.0
Content-Type: multipart/mixed;
   boundary="MS_Mac_OE_3141592653_271828_MIME_Part"

> This message is in MIME format. Since your mail reader does not understand

--MS_Mac_OE_3141592653_271828_MIME_Part
Content-Type: multipart/alternative;
   boundary="MS_Mac_OE_3141592653_271828_MIME_Part"


--MS_Mac_OE_3141592653_271828_MIME_Part
Content-Type: text/plain; charset="ISO-8859-1"
Content-Transfer-Encoding: quoted-printable

Tallene er vedh=E6ftet.

--MS_Mac_OE_3141592653_271828_MIME_Part
Content-Type: text/html; charset="ISO-8859-1"
Content-Transfer-Encoding: quoted-printable

<HTML>
<BODY>
Tallene er vedh=E6ftet.
</BODY>
</HTML>


--MS_Mac_OE_3141592653_271828_MIME_Part--


--MS_Mac_OE_3141592653_271828_MIME_Part
Content-Type: image/gif; name="graf.gif";
 x-mac-creator="4A565753";
 x-mac-type="47494666"
Content-Disposition: attachment
Content-Transfer-Encoding: base64

"""
        + _b64(GIF_PIXEL)
        + b"""

--MS_Mac_OE_3141592653_271828_MIME_Part--

"""
    )


def duplicate_names_no_disposition() -> bytes:
    """Two parts both called ``notes.txt``, no Content-Disposition (CPython msg_44 shape)."""
    return b"""From: kim@example.org
To: kim@example.org
Subject: two notes
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="k7Qp2ZxW"
Content-Transfer-Encoding: 7bit


--k7Qp2ZxW
Content-Type: text/plain; name="notes.txt"
Content-Transfer-Encoding: 7bit

first draft of the notes

--k7Qp2ZxW
Content-Type: text/plain; name="notes.txt"
Content-Transfer-Encoding: 7bit

second draft of the notes

--k7Qp2ZxW--
"""


def dsn_report_rfc822_no_filename() -> bytes:
    """multipart/report: a part with no header at all, message/delivery-status, and a
    message/rfc822 with no file name whose From is an RFC 2047 word (imap_tools DSN shape)."""
    return _crlf(
        b"""Date: Tue, 14 Mar 2023 08:15:00 +0100 (CET)
From: Mail Delivery Subsystem <MAILER-DAEMON@relay.example.net>
Message-Id: <202303140715.dsn1@relay.example.net>
To: <pat@example.org>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="q2Wd0.1678778100/relay.example.net"
Subject: Warning: could not send message for past 4 hours
Auto-Submitted: auto-generated (warning-timeout)

This is a MIME-encapsulated message

--q2Wd0.1678778100/relay.example.net

    **********************************************
    **      THIS IS A WARNING MESSAGE ONLY      **
    **********************************************

   ----- Transcript of session follows -----
<lee@mail.example.com>... Deferred

--q2Wd0.1678778100/relay.example.net
Content-Type: message/delivery-status

Reporting-MTA: dns; relay.example.net

Final-Recipient: RFC822; lee@mail.example.com
Action: delayed
Status: 4.4.7

--q2Wd0.1678778100/relay.example.net
Content-Type: message/rfc822

Return-Path: <pat@example.org>
Message-ID: <orig-42@example.org>
Date: Tue, 14 Mar 2023 04:02:11 +0100
From: "=?ISO-8859-1?Q?Andr=E9?=" <pat@example.org>
To: lee@mail.example.com
Subject: Rendez-vous ?
MIME-Version: 1.0
Content-Type: text/plain; charset=ISO-8859-1; format=flowed
Content-Transfer-Encoding: 7bit
Content-Disposition: inline

Bonjour,
on se voit jeudi ?
Pat

--q2Wd0.1678778100/relay.example.net--
"""
    )


DSN_INNER_TEXT = b"Bonjour,\r\non se voit jeudi ?\r\nPat\r\n"


def inline_images_related() -> bytes:
    """multipart/alternative > multipart/related with inline PNGs and Content-IDs, LF only,
    8bit UTF-8 text, base64 whose last line touches the next delimiter (imap_tools shape)."""
    return (
        """To: reader@example.ru
MIME-Version: 1.0
From: =?UTF-8?B?0J/QvtGH0YLQvtCy0YvQuSDRgdC10YDQstC40YE=?=
 <hello@mail.example.ru>
Subject: =?UTF-8?B?0JTQvtCx0YDQviDQv9C+0LbQsNC70L7QstCw0YLRjA==?=
Content-Type: multipart/alternative;
 boundary="------------030905040601080904070402"

This is a multi-part message in MIME format.
--------------030905040601080904070402
Content-Type: text/plain; charset=utf-8; format=flowed
Content-Transfer-Encoding: 8bit

Добро пожаловать

--------------030905040601080904070402
Content-Type: multipart/related;
 boundary="------------060208070005040109030801"


--------------060208070005040109030801
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: 8bit

<html><body>
<img src="cid:spacer.7a1@mail.example.ru" alt="">
<p>Добро пожаловать</p>
<img src="cid:badge.7a2@mail.example.ru"><img src="cid:banner.7a3@mail.example.ru">
</body></html>

--------------060208070005040109030801
Content-Type: image/png;
 name="spacer.png"
Content-Transfer-Encoding: base64
Content-ID: <spacer.7a1@mail.example.ru>
Content-Disposition: inline;
 filename="spacer.png"

""".encode()
        + _b64(PNG_SPACER)
        + b"""
--------------060208070005040109030801
Content-Type: image/png;
 name="badge.png"
Content-Transfer-Encoding: base64
Content-ID: <badge.7a2@mail.example.ru>
Content-Disposition: inline;
 filename="badge.png"

"""
        + _b64(PNG_BADGE)
        + b"""
--------------060208070005040109030801
Content-Type: image/png;
 name="banner.png"
Content-Transfer-Encoding: base64
Content-ID: <banner.7a3@mail.example.ru>
Content-Disposition: inline;
 filename="banner.png"

"""
        + _b64(PNG_BANNER)
        + b"""
--------------060208070005040109030801--

--------------030905040601080904070402--

"""
    )


def inner_boundary_prefix_of_outer() -> bytes:
    """The inner boundary is the outer one plus ``_alt`` (imap_tools similar-boundaries
    shape); the attachment's type is the misspelt ``application/octetstream``."""
    outer = b"----=_NextPart_5d1f0e9a2b7c4e3f8a6b9c0d1e2f3a4b"
    return _crlf(
        b"""Message-ID: <php.1@www.example.com>
To: <buyer@example.com>
Subject: Your order
Date: Sat, 7 Apr 2012 09:30:00 +0000
From: Shop <orders@example.com>
X-Mailer: PHP/5.2.6
Content-Type: multipart/mixed;
\tboundary="%(o)s"
MIME-Version: 1.0

--%(o)s
Content-Type: multipart/alternative;
\tboundary="%(o)s_alt"

--%(o)s_alt
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: 8bit

Thank you

--%(o)s_alt
Content-Type: text/html; charset="utf-8"
Content-Transfer-Encoding: 8bit

<html><body><p>Thank you</p></body></html>

--%(o)s_alt--

--%(o)s
Content-Type: application/octetstream
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="EMBLEM.png"
Content-ID: <EMBLEM.png>

%(png)s

--%(o)s--
"""
        % {b"o": outer, b"png": _b64(PNG_EMBLEM)}
    )


def nested_message_rfc822_with_pdf() -> bytes:
    """A forwarded message/rfc822 (``name=`` with a trailing ';', no disposition) that starts
    with an mbox ``From`` line and holds a PDF (imap_tools shape); unquoted outer boundary."""
    return _crlf(
        b"""Mime-Version: 1.0 (Apple Message framework v730)
Content-Type: multipart/mixed; boundary=Apple-Mail-21-314159265
Message-Id: <AB12CD34-0000-4000-8000-000000000001@example.com>
From: robin@example.com
Subject: fwd: the draft
Date: Tue, 7 Jun 2005 10:00:00 +0200
To: sam@example.com


--Apple-Mail-21-314159265
Content-Transfer-Encoding: quoted-printable
Content-Type: text/plain;
\tcharset=ISO-8859-1;
\tdelsp=yes;
\tformat=flowed

See the forwarded message.

--Apple-Mail-21-314159265
Content-Type: message/rfc822;
  name="Forwarded.eml";

From alex@example.net Mon Jun  6 09:00:00 2005
Return-Path: <alex@example.net>
Received: from localhost (localhost [127.0.0.1])
\tby mx.example.net (Postfix) with ESMTP id 1A2B3C4D5E
\tfor <robin@example.com>; Mon, 6 Jun 2005 09:00:00 +0000 (GMT)
Message-ID: <inner-1@example.net>
Date: Mon, 6 Jun 2005 09:00:00 +0000
From: Alex <alex@example.net>
To: robin@example.com
Subject: the draft
Mime-Version: 1.0
Content-Type: multipart/mixed;
\tboundary="----=_Part_1717_27182818.1118048400000"

------=_Part_1717_27182818.1118048400000
Content-Type: text/plain; charset=ISO-8859-1
Content-Transfer-Encoding: quoted-printable
Content-Disposition: inline

Here is the draft; tell me what you th=
ink.

------=_Part_1717_27182818.1118048400000
Content-Type: application/pdf; name="draft.pdf"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="draft.pdf"

%(pdf)s
------=_Part_1717_27182818.1118048400000--

--Apple-Mail-21-314159265--
"""
        % {b"pdf": _b64(PDF_DRAFT)}
    )


def raw_8bit_filename() -> bytes:
    """An unquoted file name in raw UTF-8 bytes, in both name= and filename= (imap_tools)."""
    return _crlf(
        """Mime-Version: 1.0 (Apple Message framework v730)
Content-Type: multipart/mixed; boundary=Apple-Mail-34-271828182
Message-Id: <CD56EF78-0000-4000-8000-000000000002@example.com>
From: noor@example.com
Subject: cv
Date: Wed, 8 Jun 2005 12:00:00 +0200
To: hr@example.com


--Apple-Mail-34-271828182
Content-Transfer-Encoding: 7bit
Content-Type: text/plain;
\tcharset=US-ASCII;
\tformat=flowed

My CV is attached.

--Apple-Mail-34-271828182
Content-Type: text/plain; name=résumé.txt
Content-Transfer-Encoding: 7bit
Content-Disposition: attachment;
\tfilename=résumé.txt

Noor, engineer.

--Apple-Mail-34-271828182--
""".encode()
    )


def _rfc2231_pieces(text: str, cut: int) -> tuple[bytes, bytes]:
    encoded = "".join(f"%{b:02X}" for b in text.encode())
    split = encoded.index("%", cut)
    return encoded[:split].encode(), encoded[split:].encode()


LONG_JAPANESE_NAME = "さしすせそ" * 5 + ".txt"


def rfc2231_continuation_plus_rfc2047_name() -> bytes:
    """``filename*0*=utf-8''...; filename*1*=...`` in the disposition and a three-word RFC 2047
    ``name=`` (one word ends mid-character) in the type; no newline at the very end."""
    first, second = _rfc2231_pieces(LONG_JAPANESE_NAME, 180)
    raw = LONG_JAPANESE_NAME.encode()
    words = [raw[:20], raw[20:59], raw[59:]]  # 20 bytes: the 7th character is cut in two
    name = b"\r\n ".join(b"=?utf-8?B?" + base64.b64encode(w) + b"?=" for w in words)
    return (
        _crlf(
            b"""Subject: =?utf-8?B?44GV44GX44GZ44Gb44Gd?=
From: Aki <aki@example.jp>
Content-Type: multipart/mixed; boundary=Apple-Mail-8--123456789
Message-Id: <EF90AB12-0000-4000-8000-000000000003@example.jp>
Date: Fri, 30 Oct 2009 19:11:02 +1100
To: Aki <aki@example.jp>
Mime-Version: 1.0 (Apple Message framework v1076)


--Apple-Mail-8--123456789
Content-Disposition: attachment;
\tfilename*0*=utf-8''%(first)s;
\tfilename*1*=%(second)s
Content-Type: text/plain;
\tx-unix-mode=0644;
\tname="%(name)s"
Content-Transfer-Encoding: 7bit

the attached data

"""
            % {b"first": first, b"second": second, b"name": name}
        )
        + b"--Apple-Mail-8--123456789--"
    )


def rfc2231_iso2022jp_name_in_content_type_only() -> bytes:
    """``name*=iso-2022-jp'ja'...%8A...`` (a byte ISO-2022-JP cannot have) in Content-Type
    only; the disposition is ``attachment`` with no file name; mbox From line (imap_tools)."""
    return _crlf(
        b"""From sender.name@example.com Sun May  8 19:07:09 2005
Return-Path: <sender.name@example.com>
Message-ID: <msg-77@mail.example.com>
Date: Sun, 8 May 2005 14:09:11 -0500
From: Sender Name <sender.name@example.com>
To: List <list@example.org>
Subject: Fwd: odd attachment names
Mime-Version: 1.0
Content-Type: multipart/mixed;
\tboundary="----=_Part_4242_1234567.1115579351471"

------=_Part_4242_1234567.1115579351471
Content-Type: text/plain; charset=ISO-8859-1
Content-Transfer-Encoding: quoted-printable
Content-Disposition: inline

Attachment name oddly encoded with a Japanese charset.

------=_Part_4242_1234567.1115579351471
Content-Type: application/octet-stream; name*=iso-2022-jp'ja'02%%20Cancion%%20Vieja%%8a.%%20Live.mp3
Content-Transfer-Encoding: base64
Content-Disposition: attachment

%(blob)s
------=_Part_4242_1234567.1115579351471--
"""
        % {b"blob": _b64(CERT_BLOB)}
    )


def single_part_attachment_only() -> bytes:
    """The whole message is one base64 attachment (``NAME=`` upper case); the base64 has no
    padding and no newline at the end (imap_tools attachment-only shape)."""
    body = _b64(GZIP_BACKUP).rstrip(b"=")
    assert len(body.replace(b"\n", b"")) % 4 in (2, 3), "the fixture must lack its padding"
    return _crlf(
        b"""Subject: this message only holds an attachment
From: Rowan <rowan@example.org>
To: ops@example.org
Content-Disposition: attachment; filename=backup.gz
Content-Transfer-Encoding: base64
Content-Description: wiki backup
Message-Id: <1066974048.4264.99.camel@localhost>
Mime-Version: 1.0
Date: 23 Oct 2003 22:40:49 -0700
Content-Type: application/x-gzip; NAME=backup.gz

"""
    ) + body.replace(b"\n", b"\r\n")


def unquoted_boundary_with_equals() -> bytes:
    """``boundary=----=_NextPart_...`` unquoted (an illegal '='), Outlook Express QP with soft
    line breaks and ``=3D``; mbox From line (imap_tools illegal-boundary shape)."""
    return _crlf(
        b"""From sam@example.net
Return-Path: <sam@example.net>
Date: Sun, 21 Oct 2007 19:38:13 +1000
From: Sam <sam@example.net>
To: jo@example.org
Message-Id: <0042abcd$19df3510$0437d30a@sam>
Subject: Testing outlook
Mime-Version: 1.0
Content-Type: multipart/alternative; boundary=----=_NextPart_000_0042_01D9A1B2.C3D4E5F6
X-Mailer: Microsoft Outlook Express 6.00.2900.3138

This is a multi-part message in MIME format.


------=_NextPart_000_0042_01D9A1B2.C3D4E5F6
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: Quoted-printable

Hello
This is an outlook test, caf=E9 included.

------=_NextPart_000_0042_01D9A1B2.C3D4E5F6
Content-Type: text/html; charset=iso-8859-1
Content-Transfer-Encoding: Quoted-printable

<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.0 Transitional//EN">
<HTML><HEAD>
<META http-equiv=3DContent-Type content=3D"text/html; =
charset=3Diso-8859-1">
</HEAD>
<BODY bgColor=3D#ffffff>
<DIV><FONT face=3DArial size=3D2>This is an outlook=20
test</FONT></DIV></BODY></HTML>


------=_NextPart_000_0042_01D9A1B2.C3D4E5F6--

"""
    )


OTRS_SUBJECT = "\r\n\r\n\r\nReport  draft \nfinal \rversion \r\nsummary\r\n\r\n\r\n"


def message_rfc822_subject_with_encoded_crlf() -> bytes:
    """A DSN whose message/rfc822 has a Subject encoded word decoding to CR/LF runs and a
    header block that ends early (a blank line right after the Subject); LF line endings, mbox
    From line (OTRS FilenameWithCRLF shape)."""
    return b"""From ops@example.test  Thu Mar 20 10:00:00 2014
Return-Path: <ops@example.test>
Date: Thu, 20 Mar 2014 10:00:00 +0100
To: <desk@example.test>
From: <ops@example.test>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="------------Boundary-00=_QA0001"
Subject: Delivery Status
Message-ID: <dsn-9@example.test>

--------------Boundary-00=_QA0001
Content-Type: text/plain; name="problems.txt"
Content-Disposition: attachment; filename="problems.txt"

    --- The following addresses had delivery problems ---

<nobody@example.test>   (5.1.1 unknown or illegal alias)

--------------Boundary-00=_QA0001
Content-Type: message/delivery-status; name="status.txt"
Content-Disposition: attachment; filename="status.txt"

Original-Recipient: <nobody@example.test>
Action: failed


--------------Boundary-00=_QA0001
Content-Type: message/rfc822
Content-Disposition: attachment

MIME-Version: 1.0
Subject: =?UTF-8?Q?=0D=0A=0D=0A=0D=0AReport $
 draft =0Afinal =0Dversion =0D=0Asummary=0D=0A=0D=0A=0D=0A?=

Date: Thu, 19 Mar 2014 09:00:00 +0100
To: <nobody@example.test>
Content-Type: multipart/mixed; boundary="----------=__QA0002-1"

------------=__QA0002-1
Content-Type: text/plain; charset="utf-8"

Report

------------=__QA0002-1--

--------------Boundary-00=_QA0001--
""".replace(b"$\n", b"\n")


def missing_closing_boundary() -> bytes:
    """The last part runs to the end of the input: no close delimiter at all."""
    return _crlf(
        b"""From: lou@example.org
To: max@example.org
Subject: cut short
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1_cutshort"

--b1_cutshort
Content-Type: text/plain

see attachment

--b1_cutshort
Content-Type: application/pdf; name="draft.pdf"
Content-Transfer-Encoding: base64

%(pdf)s
"""
        % {b"pdf": _b64(PDF_DRAFT)}
    )


def inner_multipart_without_close() -> bytes:
    """An inner multipart/alternative never closes; the outer delimiter ends it."""
    return _crlf(
        b"""From: lou@example.org
Subject: no inner close
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="OUTER"

--OUTER
Content-Type: multipart/alternative; boundary="INNER"

--INNER
Content-Type: text/plain

plain words
--INNER
Content-Type: text/html

<p>html words</p>

--OUTER
Content-Type: image/gif; name="dot.gif"
Content-Transfer-Encoding: base64

%(gif)s
--OUTER--
"""
        % {b"gif": _b64(GIF_PIXEL)}
    )


def eight_bit_headers() -> bytes:
    """Raw 8-bit header text: a UTF-8 Subject and a quoted Latin-1 (Windows-1252) file name."""
    return _crlf(
        "Subject: Prüfbericht für März\n".encode()
        + b"From: =?utf-8?Q?J=C3=BCrgen?= <j@example.de>\n"
        + b"MIME-Version: 1.0\n"
        + b'Content-Type: multipart/mixed; boundary="8bit-b"\n'
        + b"\n"
        + b"--8bit-b\n"
        + b"Content-Type: text/plain; charset=utf-8\n"
        + b"Content-Transfer-Encoding: 8bit\n"
        + b"\n"
        + "Grüße\n".encode()
        + b"\n"
        + b"--8bit-b\n"
        + b'Content-Type: text/csv; name="\xdcbersicht M\xe4rz.csv"\n'
        + b"Content-Disposition: attachment\n"
        + b"Content-Transfer-Encoding: quoted-printable\n"
        + b"\n"
        + b"Monat;Wert\nM=E4rz;42\n"
        + b"\n"
        + b"--8bit-b--\n"
    )


def hostile_names() -> bytes:
    """Parts whose names try to escape the folder or hide their type."""
    rtl = base64.b64encode("\u202etxt.exe".encode()).decode()
    names = [
        'name="../../etc/passwd"',
        'name="..\\\\..\\\\boot.ini"',
        'name="/abs/path"',
        'name="C:\\x\\y.txt"',
        'name="con.txt"',
        f'name="=?utf-8?B?{rtl}?="',
        "name*=utf-8''a%00b.txt",
        'name="....."',
        'name="' + "x" * 1000 + '.pdf"',
    ]
    parts = "".join(
        f"--HOSTILE\nContent-Type: application/octet-stream; {n}\n"
        f"Content-Disposition: attachment\n\npayload {i}\n\n"
        for i, n in enumerate(names)
    )
    return _crlf(
        (
            "From: mallory@example.org\nSubject: names\nMIME-Version: 1.0\n"
            'Content-Type: multipart/mixed; boundary="HOSTILE"\n\n' + parts + "--HOSTILE--\n"
        ).encode()
    )


HOSTILE_COUNT = 9

ALL_SAMPLES = {
    "same_boundary_inner_and_outer": same_boundary_inner_and_outer,
    "duplicate_names_no_disposition": duplicate_names_no_disposition,
    "dsn_report_rfc822_no_filename": dsn_report_rfc822_no_filename,
    "inline_images_related": inline_images_related,
    "inner_boundary_prefix_of_outer": inner_boundary_prefix_of_outer,
    "nested_message_rfc822_with_pdf": nested_message_rfc822_with_pdf,
    "raw_8bit_filename": raw_8bit_filename,
    "rfc2231_continuation_plus_rfc2047_name": rfc2231_continuation_plus_rfc2047_name,
    "rfc2231_iso2022jp_name_in_content_type_only": rfc2231_iso2022jp_name_in_content_type_only,
    "single_part_attachment_only": single_part_attachment_only,
    "unquoted_boundary_with_equals": unquoted_boundary_with_equals,
    "message_rfc822_subject_with_encoded_crlf": message_rfc822_subject_with_encoded_crlf,
    "missing_closing_boundary": missing_closing_boundary,
    "inner_multipart_without_close": inner_multipart_without_close,
    "eight_bit_headers": eight_bit_headers,
    "hostile_names": hostile_names,
}


# ---------------------------------------------------------------- big


def large_payload(size: int, seed: int = 7) -> Iterator[bytes]:
    """``size`` deterministic pseudo-random bytes, in pieces of 57 KiB (base64 line-aligned)."""
    rng = random.Random(seed)
    step = 57 * 1024
    left = size
    while left > 0:
        n = min(step, left)
        yield rng.randbytes(n)
        left -= n


def large_payload_sha256(size: int, seed: int = 7) -> str:
    digest = hashlib.sha256()
    for piece in large_payload(size, seed):
        digest.update(piece)
    return digest.hexdigest()


def iter_large_message(size: int, seed: int = 7) -> Iterator[bytes]:
    """A message with a ``size``-byte base64 attachment, generated piece by piece (never whole)."""
    yield _crlf(
        b"""From: big@example.org
Subject: big attachment
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="BIG-b"

--BIG-b
Content-Type: text/plain

the attachment is big

--BIG-b
Content-Type: application/octet-stream; name="big.bin"
Content-Disposition: attachment; filename="big.bin"
Content-Transfer-Encoding: base64

"""
    )
    for piece in large_payload(size, seed):
        yield base64.encodebytes(piece).replace(b"\n", b"\r\n")
    yield b"\r\n--BIG-b--\r\n"


def qp_encode(data: bytes) -> bytes:
    """Quoted-printable for binary data: CR and LF escaped too, soft breaks at 76."""
    return binascii.b2a_qp(data, istext=False)


# ---------------------------------------------------------------- event helpers


def canonical(events: list[object]) -> list[tuple[Any, ...]]:
    """Events with each part's data joined and attached to its end, so that feeding a message
    whole or in any chunks must give the same list. Checks the event grammar on the way:
    ends match starts, data only for open non-multipart parts."""
    from o365imap.mime.parser import PartData, PartEnd, PartStart

    out: list[tuple[Any, ...]] = []
    stack: list[tuple[PartStart, bytearray]] = []
    for event in events:
        if isinstance(event, PartStart):
            stack.append((event, bytearray()))
            out.append(("start", event))
        elif isinstance(event, PartData):
            assert event.data, "no empty PartData"
            for start, collected in reversed(stack):
                if start.part == event.part and not start.is_multipart:
                    collected.extend(event.data)
                    break
            else:
                raise AssertionError(f"data for a part that is not open: {event.part!r}")
        else:
            assert isinstance(event, PartEnd)
            start, data = stack.pop()
            assert (start.part, start.depth) == (event.part, event.depth)
            assert event.size == len(data)
            out.append(("end", event.part, event.depth, event.complete, bytes(data)))
    assert not stack, "every part ends"
    return out


def parse(message: bytes, cuts: list[int] | None = None) -> list[object]:
    """All events of ``message`` fed whole, or cut at the given offsets."""
    from o365imap.mime.parser import MimeParser

    parser = MimeParser()
    events: list[object] = []
    start = 0
    for cut in sorted(set(cuts or [])):
        events += parser.feed(message[start:cut])
        start = cut
    events += parser.feed(message[start:])
    events += parser.close()
    return events


def qp_decode(data: bytes) -> bytes:
    return quopri.decodestring(data)
