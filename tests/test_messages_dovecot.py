"""Opening and saving messages against the Dovecot test bed (``Attachments`` folder, INBOX).

Every saved file is checked byte for byte against the bytes the seeder put in the message;
names against what the issue asks for (safe, generated, numbered).
"""

from __future__ import annotations

import hashlib
import io
import os
import time
from pathlib import Path

import pytest

from o365imap import ImapClient, StorageError, StreamedLiteral, UsageError
from o365imap.messages import (
    MessageNotFound,
    PartInfo,
    Progress,
    open_eml,
    open_message,
    save_message,
    save_parts,
)
from o365imap.sandbox.mailbuild import build_message
from o365imap.sandbox.mailcatalog import PDF_BYTES, PNG_1X1
from o365imap.sandbox.mailsamples import ALTERNATIVES, CUT_SHORT, EXPECTED, REPORTS
from o365imap.sandbox.seed import Testbed


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def _section_size(client: ImapClient, uid: int, part: str) -> int:
    """How many bytes the server sends for the part (still transfer-encoded)."""
    [response] = client.iter_fetch([uid], f"(UID BODY.PEEK[{part}])", uid=True)
    value = response.items[f"BODY[{part}]"]
    assert isinstance(value, bytes | StreamedLiteral)
    return len(value) if isinstance(value, bytes) else value.size


@pytest.mark.parametrize("tag", sorted(EXPECTED))
def test_encoded_sizes_are_the_servers_and_a_files_alike(
    client: ImapClient, testbed: Testbed, tmp_path: Path, tag: str
) -> None:
    msg = testbed.tagged(tag, "Attachments")
    client.select("Attachments", readonly=True)
    view = open_message(client, msg.uid)
    for part in view.parts:
        assert part.encoded_size == _section_size(client, msg.uid, part.part), part.part
        assert part.decoded_size is None
    source = tmp_path / "message.eml"
    source.write_bytes(build_message(msg))
    parsed = open_eml(source)
    assert [(p.part, p.encoded_size) for p in parsed.parts] == [
        (p.part, p.encoded_size) for p in view.parts
    ]


@pytest.mark.parametrize("tag", sorted(EXPECTED))
def test_save_writes_exact_bytes_under_expected_names(
    client: ImapClient, testbed: Testbed, tmp_path: Path, tag: str
) -> None:
    msg = testbed.tagged(tag, "Attachments")
    client.select("Attachments", readonly=True)
    saved = save_parts(client, msg.uid, tmp_path)
    expected = EXPECTED[tag]
    assert [s.filename for s in saved] == [name for name, _ in expected]
    assert _files(tmp_path) == dict(expected)
    for item, (_, data) in zip(saved, expected, strict=True):
        assert item.size == len(data)
        assert item.sha256 == hashlib.sha256(data).hexdigest()
        assert item.path is not None and item.path.parent == tmp_path
    cut = tag in CUT_SHORT  # the message ends inside its last file: no close delimiter
    assert [s.complete for s in saved] == [True] * (len(saved) - cut) + [False] * cut


@pytest.mark.parametrize("tag", sorted(EXPECTED))
def test_other_versions_of_the_text_and_a_bounces_parts_are_no_attachments(
    client: ImapClient, testbed: Testbed, tmp_path: Path, tag: str
) -> None:
    """A text/enriched alternative, and a bounce's status and returned message, were listed
    (and saved) as unnamed attachments; a bounce did not say what it was."""
    msg = testbed.tagged(tag, "Attachments")
    client.select("Attachments", readonly=True)
    source = tmp_path / "message.eml"
    source.write_bytes(build_message(msg))
    views = (open_message(client, msg.uid), open_eml(source))
    assert [p.safe_name for p in views[0].parts] == [p.safe_name for p in views[1].parts]
    for view in views:
        assert [(p.part, p.content_type) for p in view.alternatives] == ALTERNATIVES.get(tag, [])
        expected = REPORTS.get(tag)
        if expected is None:
            assert view.report is None
            continue
        report = view.report
        assert report is not None and report.is_delivery_report
        assert report.type == "delivery-status"
        assert view.text is not None and view.text.startswith(expected.text_begins)
        assert report.status_part is not None
        assert report.status_part.content_type == "message/delivery-status"
        assert report.delivery is not None
        assert report.delivery.reporting_mta == expected.reporting_mta
        recipients = [
            (r.recipient, r.action, r.status, r.diagnostic) for r in report.delivery.recipients
        ]
        assert recipients == list(expected.recipients)
        assert report.returned is not None and report.returned_envelope is not None
        assert (report.returned.part, report.returned.content_type) == (
            expected.returned_part,
            expected.returned_type,
        )
        assert report.returned_envelope.subject == expected.returned_subject
        assert report.returned_envelope.message_id == expected.returned_message_id


def test_hostile_names_stay_inside_the_folder(
    client: ImapClient, testbed: Testbed, tmp_path: Path
) -> None:
    target = tmp_path / "out"
    target.mkdir()
    # A symlink planted under a name the message will use must not be followed.
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"untouched")
    (target / "passwd").symlink_to(outside)
    client.select("Attachments", readonly=True)
    saved = save_parts(client, testbed.tagged("hostile-names", "Attachments").uid, target)
    assert outside.read_bytes() == b"untouched"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "outside.txt"]
    names = [s.filename for s in saved]
    assert names[0] == "passwd (2)"
    for item in saved:
        assert item.path is not None and item.path.parent == target
        assert "/" not in item.filename and "\\" not in item.filename
        assert len(item.filename.encode()) <= 255
        assert not any(ord(c) < 32 for c in item.filename)


def test_existing_files_are_kept_unless_overwrite(
    client: ImapClient, testbed: Testbed, tmp_path: Path
) -> None:
    uid = testbed.tagged("pdf").uid
    client.select("INBOX", readonly=True)
    (tmp_path / "figures.csv").write_bytes(b"mine")
    first = save_parts(client, uid, tmp_path)
    assert [s.filename for s in first] == ["Quarterly report Q1.pdf", "figures (2).csv"]
    assert (tmp_path / "figures.csv").read_bytes() == b"mine"
    again = save_parts(client, uid, tmp_path, overwrite=True)
    assert [s.filename for s in again] == ["Quarterly report Q1.pdf", "figures.csv"]
    assert (tmp_path / "figures.csv").read_bytes().startswith(b"quarter,revenue")
    assert len(list(tmp_path.iterdir())) == 3


def test_overwrite_replaces_old_files_never_one_it_just_wrote(
    client: ImapClient, testbed: Testbed, tmp_path: Path
) -> None:
    msg = testbed.tagged("duplicate-names", "Attachments")
    expected = dict(EXPECTED["duplicate-names"])
    client.select("Attachments", readonly=True)
    (tmp_path / "scan.pdf").write_bytes(b"an old scan")
    for _ in range(2):  # the second run finds both files of the first
        saved = save_parts(client, msg.uid, tmp_path, overwrite=True)
        assert sorted(s.filename for s in saved) == ["scan (2).pdf", "scan.pdf"]
        assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == expected


def test_inbox_names_rfc2231_rfc2047_and_8bit(
    client: ImapClient, testbed: Testbed, tmp_path: Path
) -> None:
    client.select("INBOX", readonly=True)
    wanted = {
        "rfc2231": "Résumé – final (v2).pdf",
        "rfc2231-continued": "Протокол совещания по проекту Альфа от 12 марта 2024 года.docx",
        "rfc2047-filename": "見積書_2024年3月.xlsx",
        "filename-8bit": "Übersicht März.txt",
        "no-filename": "attachment-1.bin",
        "forwarded": "message-1.eml",
    }
    for tag, name in wanted.items():
        msg = testbed.tagged(tag)
        out = tmp_path / tag
        out.mkdir()
        saved = save_parts(client, msg.uid, out)
        assert [s.filename for s in saved] == [name], tag
        assert (out / name).read_bytes() == msg.attachments[0].data, tag


def test_only_the_asked_parts_and_any_part_by_number(
    client: ImapClient, testbed: Testbed, tmp_path: Path
) -> None:
    client.select("INBOX", readonly=True)
    msg = testbed.tagged("inline-image")
    view = open_message(client, msg.uid)
    by_name = {p.filename: p for p in view.parts}
    saved = save_parts(client, msg.uid, tmp_path, parts=[by_name["terms.pdf"].part])
    assert [s.filename for s in saved] == ["terms.pdf"]
    assert (tmp_path / "terms.pdf").read_bytes() == PDF_BYTES
    with pytest.raises(UsageError) as refused:
        save_parts(client, msg.uid, tmp_path, parts=["9", "1.1", "0"])
    assert str(refused.value) == (
        f"message {msg.uid} has no part 9 or 0: its parts are 1.1 (text/plain), "
        "1.2.1 (text/html), 1.2.2 (logo.png), 2 (terms.pdf)"
    )
    # The text body is not an attachment, but can be asked for by number: it is named after
    # the message and the number, not "attachment-3.txt" after the attachments' count.
    text = save_parts(client, msg.uid, tmp_path, parts=["1.1"])
    assert [(t.content_type, t.filename) for t in text] == [
        ("text/plain", f"message-{msg.uid}-part-1.1.txt")
    ]


def test_open_message_text_parts_and_peek(client: ImapClient, testbed: Testbed) -> None:
    client.select("INBOX", readonly=True)
    msg = testbed.tagged("inline-image")
    view = open_message(client, msg.uid)
    assert view.text == "See our logo below.\n"
    assert view.html is not None and 'src="cid:logo.png@sandbox.test"' in view.html
    assert not view.text_from_html
    parts = [(p.filename, p.content_type, p.disposition, p.content_id) for p in view.parts]
    assert parts == [
        ("logo.png", "image/png", "inline", "<logo.png@sandbox.test>"),
        ("terms.pdf", "application/pdf", "attachment", None),
    ]
    # The server's exact figure is the encoded one; the decoded size is only estimated
    for part, data in zip(view.parts, (PNG_1X1, PDF_BYTES), strict=True):
        assert part.encoded_size == _section_size(client, msg.uid, part.part)
        assert part.decoded_size is None
        assert part.estimated_size is not None and abs(part.estimated_size - len(data)) < 8
    assert view.summary.envelope is not None
    assert view.summary.envelope.subject == "Newsletter with a logo"


def test_reading_does_not_mark_read(client: ImapClient, testbed: Testbed) -> None:
    client.select("Attachments")  # read-write: a plain BODY[] would set \\Seen here
    msg = testbed.tagged("html-only", "Attachments")
    assert "\\Seen" not in msg.flags
    open_message(client, msg.uid, headers=True)
    with io.BytesIO() as sink:
        save_parts(client, msg.uid, on_part=lambda info: sink)
    flags = next(client.iter_fetch([msg.uid], "(UID FLAGS)", uid=True)).items["FLAGS"]
    assert "\\Seen" not in flags


def test_mark_read_only_when_asked(client: ImapClient, testbed: Testbed) -> None:
    client.select("INBOX")
    msg = testbed.tagged("unread")
    try:
        view = open_message(client, msg.uid, mark_read=True)
        assert "\\Seen" in view.summary.flags
        flags = next(client.iter_fetch([msg.uid], "(UID FLAGS)", uid=True)).items["FLAGS"]
        assert "\\Seen" in flags
    finally:
        client.remove_flags([msg.uid], ["\\Seen"])


def test_mark_read_in_a_read_only_folder_is_refused_not_pretended(
    client: ImapClient, testbed: Testbed
) -> None:
    """Dovecot answers OK to a STORE after EXAMINE and changes nothing: never claim it did."""
    client.select("INBOX", readonly=True)
    msg = testbed.tagged("unread")
    with pytest.raises(UsageError, match="read-only"):
        open_message(client, msg.uid, mark_read=True)
    with pytest.raises(UsageError, match="read-only"):
        client.add_flags([msg.uid], ["\\Seen"])
    flags = next(client.iter_fetch([msg.uid], "(UID FLAGS)", uid=True)).items["FLAGS"]
    assert "\\Seen" not in flags


def test_text_in_legacy_charsets_and_headers(client: ImapClient, testbed: Testbed) -> None:
    client.select("INBOX", readonly=True)
    latin = open_message(client, testbed.tagged("latin1-8bit-body").uid, headers=True)
    assert latin.text == "Grüße, Jürgen.\nÀ bientôt.\n"
    assert latin.headers is not None and "Subject: Body in ISO-8859-1, 8bit" in latin.headers
    cp1252 = open_message(client, testbed.tagged("cp1252-quotes").uid)
    assert cp1252.text == "“Smart quotes” and – dashes …\n"


def test_html_only_message_gets_readable_text(client: ImapClient, testbed: Testbed) -> None:
    client.select("Attachments", readonly=True)
    view = open_message(client, testbed.tagged("html-only", "Attachments").uid)
    assert view.text_from_html and view.html is not None
    assert view.text is not None
    assert "Quarterly update" in view.text and "<b>" not in view.text
    assert "Alpha" in view.text and "Beta" in view.text and "1200" in view.text
    assert [p.filename or p.safe_name for p in view.parts] == ["image-1.png"]


def test_broken_mime_classes_list_the_same_parts(client: ImapClient, testbed: Testbed) -> None:
    client.select("Attachments", readonly=True)
    for tag in ("same-boundary", "boundary-prefix", "unquoted-boundary", "missing-close"):
        view = open_message(client, testbed.tagged(tag, "Attachments").uid)
        assert [p.safe_name for p in view.parts] == [n for n, _ in EXPECTED[tag]], tag
        assert view.text, tag


def test_eml_is_the_exact_message(client: ImapClient, testbed: Testbed, tmp_path: Path) -> None:
    client.select("INBOX", readonly=True)
    msg = testbed.tagged("forwarded")
    saved = save_message(client, msg.uid, tmp_path)
    assert saved.filename == "Fwd_ Angebot für das Büro.eml"  # ":" is not for file names
    assert saved.path is not None and saved.path.read_bytes() == build_message(msg)
    again = save_message(client, msg.uid, tmp_path)
    assert again.filename == "Fwd_ Angebot für das Büro (2).eml"


def test_unknown_uid_is_a_clear_error(client: ImapClient, tmp_path: Path) -> None:
    client.select("INBOX", readonly=True)
    with pytest.raises(MessageNotFound, match="no message with UID 999999"):
        open_message(client, 999_999)
    with pytest.raises(MessageNotFound):
        save_parts(client, 999_999, tmp_path)


def test_hook_chooses_where_each_part_goes(
    client: ImapClient, testbed: Testbed, tmp_path: Path
) -> None:
    client.select("INBOX", readonly=True)
    msg = testbed.tagged("pdf")
    streams: dict[str, io.BytesIO] = {}
    seen: list[PartInfo] = []

    def hook(info: PartInfo) -> object:
        seen.append(info)
        if info.content_type == "text/csv":
            streams[info.part] = io.BytesIO()
            return streams[info.part]
        return tmp_path / "renamed.pdf"

    saved = save_parts(client, msg.uid, tmp_path, on_part=hook)  # type: ignore[arg-type]
    assert [i.filename for i in seen] == ["Quarterly report Q1.pdf", "figures.csv"]
    assert (tmp_path / "renamed.pdf").read_bytes() == PDF_BYTES
    csv = next(iter(streams.values())).getvalue()
    assert csv == msg.attachments[1].data
    assert saved[1].path is None and saved[1].sha256 == hashlib.sha256(csv).hexdigest()
    skipped = save_parts(client, msg.uid, tmp_path / "..", on_part=lambda info: None)
    assert skipped == []


def test_keep_tnef_saves_winmail_dat_as_is(
    client: ImapClient, testbed: Testbed, tmp_path: Path
) -> None:
    client.select("Attachments", readonly=True)
    msg = testbed.tagged("tnef", "Attachments")
    saved = save_parts(client, msg.uid, tmp_path, unpack_tnef=False)
    assert [s.filename for s in saved] == ["winmail.dat"]
    assert (tmp_path / "winmail.dat").read_bytes() == msg.attachments[0].data


def test_progress_reports_growing_counts(
    client: ImapClient, testbed: Testbed, tmp_path: Path
) -> None:
    client.select("Attachments", readonly=True)
    msg = testbed.tagged("unnamed-parts", "Attachments")
    seen: list[tuple[str, int]] = []

    def record(event: Progress) -> None:
        assert event.part is not None
        seen.append((event.part.part, event.done))

    save_parts(client, msg.uid, tmp_path, progress=record)
    big = [done for part, done in seen if part == "4"]
    assert len(big) > 3 and big == sorted(big) and big[-1] == 3 << 20
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]


def test_progress_of_a_whole_message_has_no_part(
    client: ImapClient, testbed: Testbed, tmp_path: Path
) -> None:
    client.select("Attachments", readonly=True)
    msg = testbed.tagged("unnamed-parts", "Attachments")
    seen: list[Progress] = []
    saved = save_message(client, msg.uid, tmp_path, progress=seen.append)
    assert len(seen) > 3 and all(p.part is None for p in seen)
    assert [p.done for p in seen] == sorted(p.done for p in seen)
    assert seen[-1].done == seen[-1].total == saved.size


def test_a_text_body_over_a_megabyte_is_shown_whole(client: ImapClient, testbed: Testbed) -> None:
    client.select("Attachments", readonly=True)
    msg = testbed.tagged("long-text", "Attachments")
    view = open_message(client, msg.uid, headers=True)
    assert view.text == msg.body and len(view.text) > 1 << 20
    assert not view.truncated
    assert view.headers is not None and "Subject: A long text body (2 MB)" in view.headers
    cut = open_message(client, msg.uid, max_text=100_000)
    assert cut.truncated and cut.text is not None
    assert msg.body.startswith(cut.text) and 95_000 < len(cut.text) <= 100_000  # CRLF -> LF


def test_a_folder_that_does_not_exist_yet_is_made(
    client: ImapClient, testbed: Testbed, tmp_path: Path
) -> None:
    """Never files named after the folder: the folder is made, as `mkdir -p` would."""
    client.select("INBOX", readonly=True)
    target = tmp_path / "new" / "dir"
    saved = save_parts(client, testbed.tagged("pdf").uid, target)
    assert [s.filename for s in saved] == ["Quarterly report Q1.pdf", "figures.csv"]
    assert sorted(p.name for p in target.iterdir()) == ["Quarterly report Q1.pdf", "figures.csv"]
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(StorageError, match="cannot make the folder"):
        save_parts(client, testbed.tagged("pdf").uid, tmp_path / "file" / "dir")


def test_a_hook_that_raises_leaves_the_connection_in_step(
    client: ImapClient, testbed: Testbed, tmp_path: Path
) -> None:
    """The caller may keep the exception (and with it the suspended generators): the rest of
    the answer is read at once, and the next commands see their own answers."""
    client.select("INBOX", readonly=True)

    def refuse(part: PartInfo) -> None:
        raise RuntimeError(f"no room for part {part.part}")

    kept: list[BaseException] = []
    started = time.monotonic()
    try:
        save_parts(client, testbed.tagged("large").uid, tmp_path, on_part=refuse)
    except RuntimeError as exc:
        kept.append(exc)  # traceback frames and all
    assert kept and time.monotonic() - started < 10
    big = testbed.tagged("large")
    [response] = client.iter_fetch([big.uid], "(UID BODY.PEEK[])", uid=True)
    body = response.items["BODY[]"]
    assert isinstance(body, bytes) and len(body) == big.size  # kept whole, not streamed past
    assert [m.uid for m in client.list_page(1, 1)] == [testbed.inbox[-1].uid]
