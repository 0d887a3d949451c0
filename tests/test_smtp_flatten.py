"""Writing a caller's EmailMessage part by part gives the standard library's bytes."""

from __future__ import annotations

import io
from email import message_from_bytes
from email.generator import BytesGenerator
from email.message import EmailMessage, Message
from email.policy import SMTP, compat32
from email.policy import default as default_policy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from o365imap.smtp._flatten import flatten


def _stdlib(message: Message) -> bytes:
    out = io.BytesIO()
    policy = message.policy.clone(linesep="\r\n")
    BytesGenerator(out, mangle_from_=False, policy=policy).flatten(message)
    return out.getvalue()


def _ours(message: Message) -> bytes:
    out = io.BytesIO()
    flatten(message, out)
    return out.getvalue()


def _rich(text: str, name: str, data: bytes) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Zoë Ünal <zoe@contoso.example>"
    message["To"] = "bob@fabrikam.example"
    message["Subject"] = "Grüße " + " ".join(text.split())[:40]
    message.set_content(text)
    message.add_alternative(f"<p>{text}</p>", subtype="html")
    message.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    inner = EmailMessage()
    inner["Subject"] = "forwarded"
    inner.set_content("inner\n")
    message.add_attachment(inner)
    return message


@settings(max_examples=60)
@given(
    st.text(min_size=0, max_size=300),
    # a file name: printable (\x1e and the like are line breaks to str.splitlines, and so
    # to the email package, which refuses them in a header before our code runs)
    st.text(min_size=1, max_size=40).filter(lambda s: s.strip() != "" and s.isprintable()),
    st.binary(max_size=3000),
)
def test_the_bytes_are_the_generators(text: str, name: str, data: bytes) -> None:
    message = _rich(text, name, data)
    ours = _ours(message)  # sets the boundaries the generator would choose on its own
    assert ours == _stdlib(message)


@pytest.mark.parametrize("policy", [default_policy, SMTP, compat32])
def test_a_parsed_message_comes_back_byte_for_byte(policy: object) -> None:
    raw = (
        b"From: a@contoso.example\r\nTo: b@fabrikam.example\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        b"preamble\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\ncaf\xc3\xa9 8-bit\r\n.dot line\r\n"
        b"--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64"
        b"\r\n\r\nAAECAw==\r\n--b1--\r\nepilogue\r\n"
    )
    message = message_from_bytes(raw, policy=policy)  # type: ignore[call-overload]
    assert _ours(message) == _stdlib(message) == raw


def test_a_message_without_boundaries_gets_one_that_parses_back() -> None:
    message = _rich("hello\n", "a.bin", b"\x00\x01" * 100)
    parsed = message_from_bytes(_ours(message), policy=default_policy)
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None and body.get_content() == "hello\r\n"  # CRLF kept, as sent
    (attachment, forwarded) = parsed.iter_attachments()
    assert attachment.get_content() == b"\x00\x01" * 100
    assert forwarded.get_content()["Subject"] == "forwarded"
