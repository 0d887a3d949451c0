"""``o365imap send``: write a message from options (or take a ready one) and submit it.

The message is written to a temporary file first (o365imap.compose streams attachments
into it), so that every mistake in the input (an unreadable attachment, an address that is
not one) is said before anyone signs in, and so that the same bytes can be sent, retried and
saved (``--save-to``) without being held in memory. Sending itself is the library's
(``ConnectionSettings.open_sender``); this module only turns options into a message and the
result into lines or JSON.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from o365imap import O365ImapError, UsageError
from o365imap._terminal_text import for_terminal
from o365imap.cli import output
from o365imap.cli.app import cli
from o365imap.cli.connect import connection_options, open_client, resolve
from o365imap.cli.params import FOLDER, WholeNumber

if TYPE_CHECKING:
    from o365imap.auth import ConnectionSettings
    from o365imap.smtp import SendResult, Spooled

__all__ = ["send"]

_STDIN_LIMIT = 64 * 1024 * 1024  # a body on standard input is text, not an archive


def _read_text(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{what} {path!r} is not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path!r}: {exc.strerror or exc}") from None


def _body(body: str | None, body_file: str | None, html: str | None, attach: bool) -> str | None:
    if body is not None and body_file is not None:
        raise UsageError("give the body with --body or --body-file, not both")
    if body is not None:
        return body
    if body_file is not None:
        return _read_text(body_file, "the body file")
    text: str | None = None
    if sys.stdin is not None and not sys.stdin.isatty():
        data = sys.stdin.buffer.read(_STDIN_LIMIT + 1)
        if len(data) > _STDIN_LIMIT:
            raise UsageError("the body on standard input is over 64 MiB: attach it instead")
        try:
            # nothing on standard input (cron, /dev/null) is no body, not an empty one
            text = data.decode("utf-8") or None
        except UnicodeDecodeError:
            raise UsageError("the body on standard input is not UTF-8 text") from None
    if text is None and html is None and not attach:
        raise UsageError(
            "no body: give it with --body, --body-file, or on standard input "
            "(`echo text | o365imap send ...`), or give --html or --attach"
        )
    return text  # None with --html: the text version is made from the HTML


def _header(value: str) -> tuple[str, str]:
    name, colon, text = value.partition(":")
    if not colon or not name.strip():
        raise UsageError(f"--header takes 'Name: value', not {value!r}")
    return name.strip(), text.strip()


def _addresses(values: tuple[str, ...]) -> tuple[str, ...]:
    """Each option's value may list several addresses (``--to "a@x, B <b@y>"``)."""
    from o365imap.compose import parse_addresses  # noqa: PLC0415 - lazily, as in send()

    return tuple(str(a) for value in values for a in parse_addresses(value))


@cli.command()
@connection_options
@click.option("--to", "to", multiple=True, metavar="ADDR", help="A recipient; repeatable.")
@click.option("--cc", multiple=True, metavar="ADDR", help="A copy recipient; repeatable.")
@click.option(
    "--bcc", multiple=True, metavar="ADDR", help="A blind copy recipient (never in the headers)."
)
@click.option("--from", "from_", metavar="ADDR", help="The From address [default: the mailbox].")
@click.option("--subject", help="The subject (required unless --eml).")
@click.option("--body", help="The text of the message.")
@click.option("--body-file", type=click.Path(dir_okay=False), help="Read the text from FILE.")
@click.option(
    "--html",
    type=click.Path(dir_okay=False),
    help="An HTML version from FILE (the text version is made from it when not given).",
)
@click.option("--attach", multiple=True, metavar="FILE", help="Attach FILE; repeatable.")
@click.option("--reply-to", "reply_to", multiple=True, metavar="ADDR", help="Reply-To address.")
@click.option("--header", "headers", multiple=True, metavar="'NAME: VALUE'", help="Add a header.")
@click.option(
    "--eml",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Send this ready message (.eml; - for standard input); recipients from its headers "
    "unless --to/--cc/--bcc are given.",
)
@click.option(
    "--save-to",
    type=FOLDER,
    metavar="FOLDER",
    help="Also save the sent message in FOLDER over IMAP (Office 365 fills Sent Items itself).",
)
@click.option("--smtp-host", help="SMTP server [default: the profile's, else smtp.office365.com].")
@click.option(
    "--smtp-port", type=WholeNumber(1, 65535), help="SMTP port [default: 587, or 465 for tls]."
)
@click.option(
    "--smtp-security",
    type=click.Choice(["starttls", "tls", "plain"]),
    help="starttls (the default), tls (implicit), or plain (loopback only).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def send(
    to: tuple[str, ...],
    cc: tuple[str, ...],
    bcc: tuple[str, ...],
    from_: str | None,
    subject: str | None,
    body: str | None,
    body_file: str | None,
    html: str | None,
    attach: tuple[str, ...],
    reply_to: tuple[str, ...],
    headers: tuple[str, ...],
    eml: str | None,
    save_to: str | None,
    as_json: bool,
    **kwargs: Any,
) -> None:
    """Send a message through the mailbox's SMTP server (OAuth 2.0, SMTP.Send).

    Exit 1 when a recipient was refused (the others got it), 2 when the sign-in was refused.
    """
    # Imported here: every other command (`o365imap token` first) starts without them.
    from o365imap.compose import Attachment, Draft, parse_addresses  # noqa: PLC0415
    from o365imap.smtp import spool, spool_draft  # noqa: PLC0415

    smtp = {k: kwargs.pop(k) for k in ("smtp_host", "smtp_port", "smtp_security")}
    recipients = _addresses(to) + _addresses(cc) + _addresses(bcc)
    # Everything about the input is checked before signing in.
    if eml is not None:
        if subject or body or body_file or html or attach or reply_to or headers or from_:
            raise UsageError(
                "--eml sends a ready message as it is: leave out --subject, --body, "
                "--body-file, --html, --attach, --reply-to, --header and --from"
            )
    else:
        if subject is None:
            raise UsageError("a message needs --subject (an empty one: --subject '')")
        if not recipients:
            raise UsageError("no recipient: give --to, --cc or --bcc")
        draft = Draft(
            sender=str(parse_addresses(from_)[0]) if from_ else None,
            to=_addresses(to),
            cc=_addresses(cc),
            bcc=_addresses(bcc),
            reply_to=_addresses(reply_to),
            subject=subject,
            text=_body(body, body_file, html, bool(attach)),
            html=_read_text(html, "the HTML file") if html is not None else None,
            attachments=tuple(Attachment(Path(p)) for p in attach),
            headers=tuple(_header(h) for h in headers),
        )
    conn = replace(resolve(kwargs), **{k: v for k, v in smtp.items() if v is not None})
    assert conn.user is not None
    if eml is not None:
        # a ready message without From is sent from the mailbox, as the library's send() does
        source: Any = sys.stdin.buffer if eml == "-" else eml
        spooled = spool(source, recipients=recipients or None, default_from=conn.user)
    else:
        # the From the message shows: --from, else the mailbox signed in to
        spooled = spool_draft(draft, sender=conn.user)
    with spooled:
        with conn.open_sender() as sender:
            result = sender.send_spooled(spooled)
        if not save_to:
            _report(result, as_json, None, None)
            return
        try:
            saved_uid = _save(conn, spooled, save_to)
        except O365ImapError:
            # sent all the same: said first, so that a script does not send it again
            _report(result, as_json, None, None, exit_on_refused=False)
            click.echo(f"o365imap: the message was sent, but not saved in {save_to}:", err=True)
            raise
    _report(result, as_json, save_to, saved_uid)


def _save(conn: ConnectionSettings, spooled: Spooled, folder: str) -> int | None:
    with open_client(conn) as client:
        spooled.file.seek(0)
        return client.append(folder, spooled.file, flags=("\\Seen",))


def _report(
    result: SendResult,
    as_json: bool,
    save_to: str | None,
    uid: int | None,
    *,
    exit_on_refused: bool = True,
) -> None:
    if as_json:
        record = result.to_json()
        if save_to:
            record["saved_to"] = {"folder": save_to, "uid": uid}
        output.emit_json(record)
    else:
        line = f"Sent {result.message_id} to {', '.join(result.accepted)}"
        if save_to:
            line += f"; saved in {save_to}" + (f" as UID {uid}" if uid else "")
        click.echo(for_terminal(line + ".", one_line=True))
    if result.refused:
        refused = "; ".join(f"{a} ({reply})" for a, reply in result.refused.items())
        click.echo(
            for_terminal(
                f"o365imap: refused: {refused}. The others got the message.", one_line=True
            ),
            err=True,
        )
        if exit_on_refused:
            sys.exit(1)
