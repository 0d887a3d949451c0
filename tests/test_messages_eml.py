"""Opening and saving ``.eml`` files: the streaming MIME parser path, same answers as the server's."""

from __future__ import annotations

import base64
import hashlib
import tracemalloc
from pathlib import Path

import pytest

from o365imap import UsageError
from o365imap.messages import open_eml, save_eml_parts
from o365imap.sandbox.mailbuild import build_message
from o365imap.sandbox.mailcatalog import inbox_messages
from o365imap.sandbox.mailsamples import CUT_SHORT, EXPECTED, attachment_messages

SAMPLES = {next(iter(m.tags - {"raw"})): m for m in attachment_messages("adele@contoso.example")}


def _eml(tmp_path: Path, tag: str) -> Path:
    path = tmp_path / f"{tag}.eml"
    path.write_bytes(build_message(SAMPLES[tag]))
    return path


@pytest.mark.parametrize("tag", sorted(EXPECTED))
def test_eml_save_matches_the_answer_key(tmp_path: Path, tag: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    saved = save_eml_parts(_eml(tmp_path, tag), out)
    assert [s.filename for s in saved] == [name for name, _ in EXPECTED[tag]]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == dict(EXPECTED[tag])
    cut = tag in CUT_SHORT  # the message ends inside its last file: no close delimiter
    assert [s.complete for s in saved] == [True] * (len(saved) - cut) + [False] * cut


@pytest.mark.parametrize("tag", sorted(EXPECTED))
def test_eml_parts_are_listed_with_exact_sizes(tmp_path: Path, tag: str) -> None:
    view = open_eml(_eml(tmp_path, tag))
    if tag != "tnef":  # listed as the winmail.dat it is; saving unpacks it
        # Listing gives each part its own name; " (2)" is only added when saving.
        names = [n.replace(" (2)", "") for n, _ in EXPECTED[tag]]
        assert [p.safe_name for p in view.parts] == names
        assert [p.decoded_size for p in view.parts] == [len(d) for _, d in EXPECTED[tag]]
        # parsed whole, the decoded size is known: the "estimate" is the exact figure
        assert [p.estimated_size for p in view.parts] == [p.decoded_size for p in view.parts]
    assert view.summary.envelope is not None
    assert view.summary.envelope.message_id == f"<{tag}@attachments.sandbox.test>"


def test_eml_text_subject_and_html(tmp_path: Path) -> None:
    view = open_eml(_eml(tmp_path, "same-boundary"), headers=True)
    assert view.text == "Plain body."
    assert view.html == "<p>HTML body.</p>"
    assert view.summary.envelope is not None
    assert view.summary.envelope.subject == "Same boundary inside and outside"
    assert view.headers is not None and "Message-ID: <same-boundary@" in view.headers
    html_only = open_eml(_eml(tmp_path, "html-only"))
    assert html_only.text_from_html and html_only.text is not None
    assert "Quarterly update" in html_only.text and "<h1>" not in html_only.text
    crlf = open_eml(_eml(tmp_path, "encoded-crlf"))
    assert crlf.summary.envelope is not None
    assert crlf.summary.envelope.subject is not None
    assert crlf.summary.envelope.subject.startswith("Fwd: Ticket 123")


def test_eml_8bit_headers(tmp_path: Path) -> None:
    view = open_eml(_eml(tmp_path, "8bit-headers"))
    assert view.summary.envelope is not None
    assert view.summary.envelope.subject == "Raw UTF-8 headers: Bericht für März"
    assert view.text == "Grüße aus Köln."


def test_eml_part_by_number_and_unknown_part(tmp_path: Path) -> None:
    path = _eml(tmp_path, "same-boundary")
    saved = save_eml_parts(path, tmp_path, parts=["1.1"])
    assert [(s.content_type, s.size) for s in saved] == [("text/plain", len(b"Plain body."))]
    assert saved[0].filename == f"{path.stem}-part-1.1.txt"  # the text: no attachment-N name
    with pytest.raises(UsageError) as refused:
        save_eml_parts(path, tmp_path, parts=["7"])
    assert str(refused.value) == (
        f"{path.name} has no part 7: its parts are 1.1 (text/plain), 1.2 (text/html), 2 (notes.txt)"
    )


def test_eml_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read"):
        open_eml(tmp_path / "nope.eml")


def test_eml_inbox_attachments(tmp_path: Path) -> None:
    for number, msg in enumerate(inbox_messages("adele@contoso.example")):
        if not msg.attachments:
            continue
        tag = f"m{number}"
        out = tmp_path / tag
        out.mkdir()
        source = tmp_path / f"{tag}.eml"
        source.write_bytes(build_message(msg))
        saved = save_eml_parts(source, out)
        assert sorted(s.sha256 for s in saved) == sorted(
            hashlib.sha256(a.data).hexdigest() for a in msg.attachments
        ), msg.subject


@pytest.mark.slow
def test_eml_save_memory_stays_flat(tmp_path: Path) -> None:
    # A 24 MB attachment through parser, decoder and atomic file: Python allocations stay
    # far below the attachment's size (the bytes are never gathered).
    blob = bytes(range(256)) * (24 * 4096)
    encoded = base64.encodebytes(blob).replace(b"\n", b"\r\n")
    message = (
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="m"\r\n\r\n'
        b"--m\r\nContent-Type: text/plain\r\n\r\nHi\r\n--m\r\n"
        b'Content-Type: application/octet-stream; name="big.bin"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + encoded + b"--m--\r\n"
    )
    source = tmp_path / "big.eml"
    source.write_bytes(message)
    del encoded, message
    out = tmp_path / "out"
    out.mkdir()
    tracemalloc.start()
    try:
        saved = save_eml_parts(source, out)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert saved[0].size == len(blob)
    assert (out / "big.bin").read_bytes() == blob
    assert peak < 4 << 20, peak


# A charset named after a domain-name codec (idna, punycode) once made show and save fail.
IDNA_MESSAGE = (
    b"From: =?idna?q?=FF?= <a@example.com>\r\n"
    b"Subject: =?idna?q?=FF?=\r\n"
    b"Message-ID: <idna@example.com>\r\n"
    b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain; charset=punycode\r\n\r\nbcher-kva\r\n"
    b"--b\r\nContent-Type: application/pdf\r\n"
    b"Content-Disposition: attachment; filename*=idna''%FF.pdf\r\n\r\n%PDF-1.4\r\n--b--\r\n"
)


def test_eml_with_domain_name_codecs_as_charsets(tmp_path: Path) -> None:
    source = tmp_path / "idna.eml"
    source.write_bytes(IDNA_MESSAGE)
    view = open_eml(source)
    assert view.summary.envelope is not None
    assert view.summary.envelope.subject == "ÿ"
    assert [a.name for a in view.summary.envelope.from_] == ["ÿ"]
    assert view.text == "bcher-kva"
    assert [p.filename for p in view.parts] == ["ÿ.pdf"]
    saved = save_eml_parts(source, tmp_path)
    assert [s.filename for s in saved] == ["ÿ.pdf"]
    assert (tmp_path / "ÿ.pdf").read_bytes() == b"%PDF-1.4"


def test_a_read_receipt_is_a_report_but_no_bounce(tmp_path: Path) -> None:
    path = tmp_path / "mdn.eml"
    path.write_bytes(
        b"From: Jane <jane@fabrikam.example>\r\nSubject: Read: Agenda\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=disposition-notification; boundary="r"\r\n'
        b"\r\n--r\r\nContent-Type: text/plain\r\n\r\nYour message was read.\r\n"
        b"--r\r\nContent-Type: message/disposition-notification\r\n\r\n"
        b"Final-Recipient: rfc822; jane@fabrikam.example\r\n"
        b"Disposition: manual-action/MDN-sent-manually; displayed\r\n"
        b"--r--\r\n"
    )
    view = open_eml(path)
    assert view.text == "Your message was read." and view.parts == ()
    assert view.report is not None and not view.report.is_delivery_report
    assert view.report.type == "disposition-notification" and view.report.delivery is None
    assert view.report.status_part is not None
    assert view.report.status_part.content_type == "message/disposition-notification"
    assert view.report.returned is None


def test_a_report_without_its_type_is_known_by_its_status_part(tmp_path: Path) -> None:
    path = tmp_path / "dsn.eml"
    path.write_bytes(
        b'MIME-Version: 1.0\r\nContent-Type: multipart/report; boundary="r"\r\n\r\n'
        b"--r\r\n\r\nDelivery failed.\r\n"  # no Content-Type: text/plain (RFC 2045 5.2)
        b"--r\r\nContent-Type: message/delivery-status\r\nContent-Transfer-Encoding: base64"
        b"\r\n\r\n"
        + base64.encodebytes(b"Final-Recipient: rfc822; a@x.example\r\nAction: failed\r\n")
        + b"--r--\r\n"
    )
    view = open_eml(path)
    assert view.text == "Delivery failed." and view.parts == ()
    assert view.report is not None and view.report.is_delivery_report
    assert view.report.delivery is not None
    assert [(r.recipient, r.action) for r in view.report.delivery.recipients] == [
        ("a@x.example", "failed")
    ]
