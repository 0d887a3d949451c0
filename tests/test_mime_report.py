"""Reading a bounce's ``message/delivery-status`` part (RFC 3464): canned bytes in the shapes
real servers write them (Exchange, Postfix, sendmail, a helpdesk's own)."""

from __future__ import annotations

from dataclasses import astuple

from hypothesis import given
from hypothesis import strategies as st

from o365imap.mime.report import DeliveryStatus, RecipientStatus, parse_delivery_status


def _crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


def test_exchange_no_space_after_the_type_and_a_folded_diagnostic() -> None:
    status = parse_delivery_status(
        _crlf(
            "Reporting-MTA: dns;AM0PR01MB1234.eurprd01.prod.exchangelabs.com\n"
            "Received-From-MTA: dns;AM0PR01MB5678.eurprd01.prod.exchangelabs.com\n"
            "Arrival-Date: Mon, 6 May 2024 08:58:02 +0000\n"
            "\n"
            "Final-Recipient: rfc822;jane@fabrikam.example\n"
            "Action: failed\n"
            "Status: 5.7.1\n"
            "Diagnostic-Code: smtp;550 5.7.1 RESOLVER.RST.AuthRequired; authentication\n"
            " required\n"
            "X-Display-Name: Jane\n"
        )
    )
    assert status == DeliveryStatus(
        "AM0PR01MB1234.eurprd01.prod.exchangelabs.com",
        (
            RecipientStatus(
                "jane@fabrikam.example",
                "failed",
                "5.7.1",
                "550 5.7.1 RESOLVER.RST.AuthRequired; authentication required",
            ),
        ),
    )


def test_sendmail_delay_upper_case_type_and_an_empty_diagnostic() -> None:
    status = parse_delivery_status(
        _crlf(
            "Reporting-MTA: dns; antivirus.example.edu\n"
            "Arrival-Date: Thu, 19 Oct 2006 01:23:47 -0400 (EDT)\n"
            "\n"
            "Final-Recipient: RFC822; julie@courrier.example.edu\n"
            "Action: delayed\n"
            "Status: 4.5.0\n"
            "Diagnostic-Code: SMTP; \n"
            "Will-Retry-Until: Tue, 24 Oct 2006 01:23:47 -0400 (EDT)\n"
        )
    )
    assert status.reporting_mta == "antivirus.example.edu"
    assert status.recipients == (
        RecipientStatus("julie@courrier.example.edu", "delayed", "4.5.0", None),
    )


def test_several_recipients_lf_endings_extra_blank_lines_and_comments() -> None:
    status = parse_delivery_status(
        b"Reporting-MTA: dns; mx.example.org\n\n\n"
        b"Final-Recipient: rfc822; <a@example.org>\n"
        b"Original-Recipient: rfc822;A@Example.org\n"
        b"Action: Failed (permanently)\n"
        b"Status: 5.1.1 (bad destination mailbox address)\n"
        b"Remote-MTA: dns; [192.0.2.7]\n"
        b"Diagnostic-Code: 550 no such user; sorry\n"
        b"\n\n"
        b"Final-Recipient: rfc822; b@example.org\n"
        b"Action: delivered\n"
        b"Status: 2.0.0\n"
    )
    first, second = status.recipients
    assert first == RecipientStatus(
        "a@example.org",
        "failed",
        "5.1.1",
        "550 no such user; sorry",  # no type before the ";": the text is kept whole
        original_recipient="A@Example.org",
        remote_mta="[192.0.2.7]",
    )
    assert (second.recipient, second.action, second.status) == (
        "b@example.org",
        "delivered",
        "2.0.0",
    )


def test_a_helpdesk_report_without_final_recipient_or_status() -> None:
    status = parse_delivery_status(
        _crlf(
            "Original-Recipient: <abc123@mydomain.example>\n"
            "Action: failed\n"
            "Diagnostic-Code: smtp; 550 5.1.1 unknown or illegal alias\n"
            "Remote-MTA: 192.0.2.9\n\n\n"
        )
    )
    assert status == DeliveryStatus(
        None,
        (
            RecipientStatus(
                "abc123@mydomain.example",
                "failed",
                None,
                "550 5.1.1 unknown or illegal alias",
                original_recipient="abc123@mydomain.example",
                remote_mta="192.0.2.9",
            ),
        ),
    )


def test_global_delivery_status_is_utf8() -> None:
    status = parse_delivery_status(
        "Reporting-MTA: dns; mx.example.de\n\n"
        "Final-Recipient: utf-8; jürgen@bücher.example\n"
        "Action: failed\nStatus: 5.1.1\n".encode()
    )
    assert status.recipients[0].recipient == "jürgen@bücher.example"


def test_nothing_readable_is_an_empty_report() -> None:
    assert parse_delivery_status(b"") == DeliveryStatus(None, ())
    assert parse_delivery_status(b"\r\n\r\nnot a field\r\n  folded nothing\r\n") == DeliveryStatus(
        None, ()
    )


@given(st.binary(max_size=400))
def test_never_raises_and_every_value_is_one_line(data: bytes) -> None:
    status = parse_delivery_status(data)
    values = [status.reporting_mta, *(v for r in status.recipients for v in astuple(r))]
    # Unfolded: each value is one line, as a bounce's summary prints it.
    assert [v for v in values if v is not None and v != " ".join(v.splitlines())] == []
