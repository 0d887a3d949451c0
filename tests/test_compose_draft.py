"""Addresses, extra headers and the $EDITOR template: what a person types, checked."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from o365imap.compose import (
    Attachment,
    Draft,
    check_header,
    parse_addresses,
    parse_template,
    render_template,
    unchanged,
)
from o365imap.errors import UsageError
from o365imap.models import Address

# ---------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("a@example.com", [Address(None, "a", "example.com")]),
        ("<a@example.com>", [Address(None, "a", "example.com")]),
        ("Bob <b@example.com>", [Address("Bob", "b", "example.com")]),
        ('"Doe, John" <jd@example.com>', [Address("Doe, John", "jd", "example.com")]),
        ("Jürgen Müller <j@example.de>", [Address("Jürgen Müller", "j", "example.de")]),
        ("محمد <m@example.sa>", [Address("محمد", "m", "example.sa")]),
        (
            'a@x.org, "Z, Y" <z@x.org>,Bob <b@x.org>',
            [
                Address(None, "a", "x.org"),
                Address("Z, Y", "z", "x.org"),
                Address("Bob", "b", "x.org"),
            ],
        ),
        ("  ", []),
        (
            "first.last+tag@sub.example.co.uk",
            [Address(None, "first.last+tag", "sub.example.co.uk")],
        ),
    ],
)
def test_addresses_people_type(typed: str, expected: list[Address]) -> None:
    assert list(parse_addresses(typed)) == expected


def test_a_list_of_strings_each_a_list() -> None:
    found = parse_addresses(["a@x.org, b@x.org", "c@x.org"])
    assert [a.email for a in found] == ["a@x.org", "b@x.org", "c@x.org"]


@pytest.mark.parametrize(
    ("typed", "named"),
    [
        ("bob", "'bob'"),
        ("a@x.org, bob, c@x.org", "'bob'"),
        ("a b@x.org", "'a b@x.org'"),
        ("a@x.org,,b@x.org", "empty"),
        ("@x.org", "'@x.org'"),
        ("a@", "'a@'"),
        ("a@b@c", "'a@b@c'"),
        ("Name <a@x.org", "'Name <a@x.org'"),
        ("undisclosed-recipients:;", "'undisclosed-recipients:;'"),
        ("José@exämple.com", "not an email address"),
        ("a@x.org\r\nBcc: evil@x.org", "one line"),
        ("Bob\n <b@x.org>", "one line"),
    ],
)
def test_what_is_not_an_address_is_refused_by_name(typed: str, named: str) -> None:
    with pytest.raises(UsageError, match=named):
        parse_addresses(typed)


def test_a_draft_keeps_one_address_per_item_in_one_spelling() -> None:
    # a lone string or a list is taken too (typed as tuples: a string is not split by letter)
    draft = Draft(
        sender="Me <me@x.org>",
        to=('a@x.org, "Doe" <d@x.org>',),
        cc="c@x.org",  # type: ignore[arg-type]
        bcc=["B <b@x.org>"],  # type: ignore[arg-type]
    )
    assert draft.to == ("a@x.org", "Doe <d@x.org>")
    assert draft.cc == ("c@x.org",)
    assert draft.recipients == ("a@x.org", "d@x.org", "c@x.org", "b@x.org")


def test_recipients_are_unique_case_insensitively_first_spelling_kept() -> None:
    draft = Draft(to=("Ann@X.org",), cc=("ann@x.org", "bob@x.org"), bcc=("BOB@x.org",))
    assert draft.recipients == ("Ann@X.org", "bob@x.org")


@pytest.mark.parametrize(
    "bad", ["pdf", "text/plain\r\nBcc: x@x.org", "text/plain; charset=x", "/x"]
)
def test_an_attachments_media_type_is_one_type(bad: str) -> None:
    with pytest.raises(UsageError, match="not a media type"):
        Attachment(Path("f"), content_type=bad)


def test_a_draft_refuses_two_senders_and_takes_paths_as_attachments(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="one address"):
        Draft(sender="a@x.org, b@x.org")
    draft = Draft(attachments=(str(tmp_path / "a.txt"), Attachment(tmp_path / "b", "b.pdf")))
    assert draft.files == (Attachment(tmp_path / "a.txt"), Attachment(tmp_path / "b", "b.pdf"))


# ---------------------------------------------------------------- extra headers


@pytest.mark.parametrize(
    "name",
    ["X-Priority", "Importance", "Sender", "List-Unsubscribe", "Disposition-Notification-To"],
)
def test_extra_headers_that_are_kept(name: str) -> None:
    assert check_header(f" {name} ", " value ") == (name, "value")


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("Content-Type", "structure"),
        ("content-transfer-encoding", "structure"),
        ("MIME-Version", "structure"),
        ("Content-Disposition", "structure"),
        ("Content-Language", "structure"),
        ("To", "use --to"),
        ("BCC", "use --bcc"),
        ("From", "use --from"),
        ("Subject", "use --subject"),
        ("Message-ID", "cannot be given"),
        ("Date", "cannot be given"),
        ("X Space", "not a header name"),
        ("X:Colon", "not a header name"),
        ("", "not a header name"),
        ("Ünï", "not a header name"),
    ],
)
def test_extra_headers_that_are_refused(name: str, why: str) -> None:
    with pytest.raises(UsageError, match=why):
        check_header(name, "x")


def test_an_extra_header_value_cannot_add_a_line() -> None:
    with pytest.raises(UsageError, match="one line"):
        check_header("X-Note", "fine\r\nBcc: evil@x.org")
    with pytest.raises(UsageError, match="one line"):
        Draft(headers=(("X-Note", "a\nb"),))


# ---------------------------------------------------------------- the template

BASE = Draft(
    sender="Me <me@x.org>",
    to=("Ann <ann@x.org>",),
    subject="Re: Plans",
    text="On Monday, Ann wrote:\n> hello\n",
    html="<p>ignored once edited</p>",
    in_reply_to="<1@x.org>",
    references=("<0@x.org>", "<1@x.org>"),
    headers=(("X-Priority", "1"),),
)


def test_the_template_shows_the_fields_then_the_body(tmp_path: Path) -> None:
    draft = replace(BASE, attachments=(tmp_path / "a.pdf",))
    assert render_template(draft) == (
        "From: Me <me@x.org>\n"
        "To: Ann <ann@x.org>\n"
        "Cc: \n"
        "Bcc: \n"
        "Subject: Re: Plans\n"
        f"Attach: {tmp_path / 'a.pdf'}\n"
        "X-Priority: 1\n"
        "\n"
        "On Monday, Ann wrote:\n> hello\n"
    )


def test_an_edited_template_becomes_the_draft(tmp_path: Path) -> None:
    renamed = Attachment(tmp_path / "x1", filename="Report.pdf", content_type="application/pdf")
    base = replace(BASE, attachments=(renamed,))
    edited = (
        "From: Me <me@x.org>\n"
        "To: Ann <ann@x.org>,\n"
        "  Bob <bob@x.org>\n"
        "Cc: carol@x.org\n"
        "Cc: dave@x.org\n"
        "Bcc:\n"
        "Subject: Re: Plans for Köln\n"
        f"Attach: {tmp_path / 'x1'}\n"
        f"Attach: {tmp_path / 'new.txt'}\n"
        "X-Mailer: o365imap\n"
        "\n"
        "Sounds good.\n\nOn Monday, Ann wrote:\n> hello\n\n\n"
    )
    draft = parse_template(edited, base=base)
    assert draft.to == ("Ann <ann@x.org>", "Bob <bob@x.org>")
    assert draft.cc == ("carol@x.org", "dave@x.org")
    assert draft.bcc == ()
    assert draft.subject == "Re: Plans for Köln"
    assert draft.files == (renamed, Attachment(tmp_path / "new.txt"))
    assert draft.headers == (("X-Mailer", "o365imap"),)  # X-Priority's line was deleted
    assert draft.text == "Sounds good.\n\nOn Monday, Ann wrote:\n> hello\n"
    assert draft.html is None
    assert (draft.in_reply_to, draft.references) == (BASE.in_reply_to, BASE.references)


def test_the_template_round_trips() -> None:
    assert parse_template(render_template(BASE), base=BASE) == replace(BASE, html=None)


def test_crlf_and_home_in_the_template(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    text = "To: a@x.org\r\nSubject: s\r\nAttach: ~/f.txt\r\n\r\nbody\r\n"
    draft = parse_template(text, base=Draft())
    assert draft.files == (Attachment(tmp_path / "f.txt"),)
    assert draft.text == "body\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("To: a@x.org\nnot a header\n\nbody", "line 2 .* not 'Name: value'"),
        ("To: a@x.org\nSubject : s\n\nbody", "line 2"),
        ("To: bob\n\nbody", "line 1 of the message: not an email address: 'bob'"),
        ("To: a@x.org\nFrom: a@x.org, b@x.org\n\nbody", "line 2 .* one address"),
        ("To: a@x.org\nContent-Type: text/html\n\nbody", "line 2 .* structure"),
        ("To: a@x.org\nX-Bad: \x00\n\nbody", "line 2 .* one line"),
        ("To:\nCc:\nBcc:\nSubject: hi\n\nbody", "no recipient"),
        ("To: a@x.org\nSubject:\n\n\n\n", "the message is empty"),
    ],
)
def test_template_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_template(text, base=BASE)


def test_a_blank_line_with_spaces_still_ends_the_header() -> None:
    text = "To: a@x.org\nSubject: s\n \t\nNote: the meeting moved to 3pm\n"
    draft = parse_template(text, base=Draft())
    assert draft.text == "Note: the meeting moved to 3pm\n" and draft.headers == ()


def test_a_subject_alone_or_an_attachment_alone_is_a_message(tmp_path: Path) -> None:
    assert parse_template("To: a@x.org\nSubject: call me\n\n", base=Draft()).text == ""
    draft = parse_template(f"To: a@x.org\nAttach: {tmp_path}/f\n\n", base=Draft())
    assert draft.files == (Attachment(tmp_path / "f"),)


def test_an_unedited_template_is_detected() -> None:
    before = render_template(BASE)
    assert unchanged(before, before)
    assert unchanged(before, before.replace("\n", "\r\n") + "\n\n")
    assert unchanged(before, before.replace("Bcc: ", "Bcc:"))  # an editor's trailing space
    assert not unchanged(before, before.replace("Cc: ", "Cc: bob@x.org"))
    assert not unchanged(before, before + "thanks\n")
