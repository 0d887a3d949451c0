"""Message commands: ``show`` (read one message) and ``save`` (its attachments, or the .eml).

Both take a UID and a folder, or the path of an ``.eml`` file instead of the UID (then no
connection is made). Reading never marks a message read unless ``--mark-read``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import TaskID
from rich.text import Text

from o365imap._display import human_size, local_time
from o365imap._terminal_text import for_terminal
from o365imap.cli import output, tables
from o365imap.cli.app import cli
from o365imap.cli.connect import connection_options, open_client, resolve
from o365imap.cli.params import FOLDER, UID_OR_FILE
from o365imap.cli.progress import finish, transfer_bars
from o365imap.errors import UsageError
from o365imap.messages import (
    MAX_TEXT_BYTES,
    MessageView,
    PartInfo,
    ProgressHook,
    ReportInfo,
    SavedPart,
    open_eml,
    open_message,
    save_eml_parts,
    save_message,
    save_parts,
)
from o365imap.messages import Progress as SaveProgress  # rich has a Progress of its own
from o365imap.mime import make_directory

__all__ = ["part_json", "report_json", "saved_json", "view_json"]


def part_json(part: PartInfo) -> dict[str, Any]:
    return {
        "part": part.part,
        "content_type": part.content_type,
        "filename": part.filename,
        "encoded_size": part.encoded_size,
        "decoded_size": part.decoded_size,
        "estimated_size": part.estimated_size,
        "disposition": part.disposition,
        "content_id": part.content_id,
    }


def report_json(report: ReportInfo) -> dict[str, Any]:
    """A bounce (or another report) as a script reads it; RFC 3464's fields per recipient."""
    delivery = report.delivery
    returned = None
    if report.returned is not None:
        env = report.returned_envelope
        returned = part_json(report.returned) | {
            "subject": env.subject if env else None,
            "message_id": env.message_id if env else None,
            "date": env.date.isoformat() if env and env.date else None,
        }
    return {
        "type": report.type,
        "status_part": part_json(report.status_part) if report.status_part else None,
        "reporting_mta": delivery.reporting_mta if delivery else None,
        "recipients": [
            {
                "recipient": r.recipient,
                "original_recipient": r.original_recipient,
                "action": r.action,
                "status": r.status,
                "diagnostic": r.diagnostic,
                "remote_mta": r.remote_mta,
            }
            for r in (delivery.recipients if delivery else ())
        ],
        "returned": returned,
    }


def view_json(view: MessageView) -> dict[str, Any]:
    data = output.message_json(view.summary)
    data["text"] = view.text
    data["html"] = view.html
    data["parts"] = [part_json(p) for p in view.parts]
    data["alternatives"] = [part_json(p) for p in view.alternatives]
    data["report"] = report_json(view.report) if view.report is not None else None
    if view.headers is not None:
        data["headers"] = view.headers
    return data


def saved_json(saved: SavedPart) -> dict[str, Any]:
    return {
        "path": str(saved.path) if saved.path is not None else None,
        "filename": saved.filename,
        "content_type": saved.content_type,
        "size": saved.size,
        "part": saved.part,
        "sha256": saved.sha256,
        "complete": saved.complete,
    }


# Encodings that carry the bytes as they are: the encoded size is the file's size.
_AS_IS = frozenset({"7bit", "8bit", "binary"})


def _size_text(part: PartInfo) -> str:
    """The part's size: exact when known (parsed, or sent as it is), else "~" an estimate
    (base64 decodes to about 3/4, quoted-printable to an unknown share)."""
    if part.decoded_size is not None:
        return output.human_size(part.decoded_size)
    if part.encoded_size is not None and (part.encoding or "7bit").lower() in _AS_IS:
        return output.human_size(part.encoded_size)
    estimate = part.estimated_size
    return "" if estimate is None else "~" + output.human_size(estimate)


def _print_report(console: Console, report: ReportInfo) -> None:
    """What a bounce says, before its text: to whom the message did not go, and why."""

    def line(label: str, value: str) -> None:
        shown = Text(label, style="bold")
        shown.append(for_terminal(value, one_line=True))
        console.print(shown)

    delivery = report.delivery
    if report.is_delivery_report:
        mta = delivery.reporting_mta if delivery else None
        line("Delivery report", f" from {mta}" if mta else "")
    else:
        line("Report", f" ({report.type or 'of an unknown type'})")
    for recipient in delivery.recipients if delivery else ():
        said = ", ".join(v for v in (recipient.action, recipient.status) if v) or "no status"
        why = f" ({recipient.diagnostic})" if recipient.diagnostic else ""
        line("  ", f"{recipient.recipient or '(no address)'}: {said}{why}")
    returned = report.returned
    if returned is not None:
        env = report.returned_envelope
        what = "headers" if returned.content_type.endswith("headers") else "message"
        about = [f'"{env.subject}"' if env.subject else "", env.message_id or ""] if env else []
        described = " ".join(a for a in about if a) or returned.content_type
        line(f"  Returned {what} (part {returned.part}): ", described)
    console.print()


def _print_view(view: MessageView, *, html: bool) -> None:
    console = Console(soft_wrap=True, highlight=False)
    env = view.summary.envelope
    if view.headers is not None:
        console.print(for_terminal(view.headers), markup=False)
        console.print()
    elif env is not None:
        rows: list[tuple[str, str]] = []
        for label, entries in (("From", env.from_), ("To", env.to), ("Cc", env.cc)):
            if entries:
                rows.append((label, for_terminal(output.addresses_text(entries), one_line=True)))
        if env.date:
            # The reader's local time (as `list` shows it), with its offset.
            rows.append(("Date", local_time(env.date, "%a, %d %b %Y %H:%M %z")))
        rows.append(("Subject", for_terminal(env.subject or "", one_line=True)))
        for label, value in rows:  # plain lines: a grid would pad every line to its width
            line = Text(f"{label:<8}", style="bold")
            line.append(value)
            console.print(line)
        console.print()
    if view.report is not None:
        _print_report(console, view.report)
    if html:
        shown = for_terminal(view.html) if view.html is not None else "(no HTML part)"
        console.print(shown, markup=False)
    else:
        shown = for_terminal(view.text) if view.text is not None else "(no text)"
        console.print(shown, markup=False)
        if view.text_from_html:
            console.print("\n[dim](text made from the HTML part; --html shows it)[/dim]")
    if view.truncated:
        limit = human_size(MAX_TEXT_BYTES)
        console.print(f"[dim](the text was cut: it is longer than {limit})[/dim]")
    if view.alternatives:
        others = ", ".join(f"{p.content_type} (part {p.part})" for p in view.alternatives)
        console.print()  # Text, not markup: a content type is the sender's
        console.print(
            Text(f"Other versions of the text: {for_terminal(others, one_line=True)}", style="dim")
        )
    if view.parts:
        part_rows = [
            (
                part.part,
                for_terminal(part.content_type, one_line=True),
                for_terminal(part.filename, one_line=True)
                if part.filename
                else f"({for_terminal(part.safe_name, one_line=True)})",
                _size_text(part),
                part.disposition,
                for_terminal(part.content_id or "", one_line=True),
            )
            for part in view.parts
        ]
        console.print()
        tables.print_table(
            console, _PART_COLUMNS, part_rows, title="Parts", drop_empty=("Content-ID",)
        )


# A content type is never wrapped (it reads as one word); a long file name folds.
_PART_COLUMNS = (
    tables.Column("Part"),
    tables.Column("Type"),
    tables.Column("File name", wrap=True),
    tables.Column("Size", justify="right"),
    tables.Column("Disposition"),
    tables.Column("Content-ID", wrap=True),
)


@cli.command()
@connection_options
@click.argument("target", metavar="UID|FILE", type=UID_OR_FILE)
@click.argument("folder", default="INBOX", type=FOLDER, is_eager=True)  # UID_OR_FILE reads it
@click.option("--html", "show_html", is_flag=True, help="Print the HTML part itself.")
@click.option("--headers", is_flag=True, help="Print every header field.")
@click.option(
    "--mark-read", is_flag=True, help="Mark the message read (without it, reading changes nothing)."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def show(
    target: int | Path,
    folder: str,
    show_html: bool,
    headers: bool,
    mark_read: bool,
    as_json: bool,
    **kwargs: Any,
) -> None:
    """Show message UID of FOLDER (default INBOX), or a .eml FILE: text and parts."""
    if isinstance(target, Path):
        if mark_read:
            raise UsageError("--mark-read is for a message on the server, not a file")
        view = open_eml(target, headers=headers)
    else:
        with open_client(resolve(kwargs)) as client:
            if mark_read:
                client.select(folder)
            else:
                client.select(folder, readonly=True)
            view = open_message(client, target, headers=headers, mark_read=mark_read)
    if as_json:
        output.emit_json(view_json(view))
    else:
        _print_view(view, html=show_html)


class _SaveBars:
    """The bars of a save, a bar per part (or one for the whole message), on stderr."""

    def __init__(self) -> None:
        self.bars = transfer_bars()
        self._tasks: dict[str, TaskID] = {}
        # Lines for stdout: printed while the bars are drawn they would land on the bar's
        # line (same terminal), so they wait for the bars to go (a failure prints them too).
        self.after: list[str] = []

    def update(self, event: SaveProgress) -> None:
        part = event.part
        key = part.part if part is not None else ""  # "": the whole message
        if key not in self._tasks:
            name = (part.filename or part.safe_name) if part is not None else "message"
            self._tasks[key] = self.bars.add_task(
                for_terminal(name, one_line=True), total=event.total
            )
        self.bars.update(self._tasks[key], completed=event.done)

    def saved(self, item: SavedPart) -> None:
        """A file is written: its bar ends full, at the size written (not the estimate)."""
        task = self._tasks.get(item.part if item.part is not None else "")
        if task is None and len(self._tasks) == 1:  # --eml: the message's one bar
            task = next(iter(self._tasks.values()))
        if task is not None:
            finish(self.bars, task, item.size)


@contextmanager
def _progress(enabled: bool) -> Iterator[_SaveBars | None]:
    """Bars on stderr for a person watching; none for scripts and pipes."""
    if not enabled:
        yield None
        return
    shown = _SaveBars()
    try:
        with shown.bars:
            yield shown
            for task in shown.bars.task_ids:
                finish(shown.bars, task)
    finally:
        for line in shown.after:
            click.echo(line)


@cli.command()
@connection_options
@click.argument("target", metavar="UID|FILE", type=UID_OR_FILE)
@click.argument("folder", default="INBOX", type=FOLDER, is_eager=True)  # UID_OR_FILE reads it
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    help="Folder to write into, made if missing (default: the current one).",
)
@click.option("--part", "parts", multiple=True, metavar="P",
              help="Only this part (number from `show`); repeatable.")  # fmt: skip
@click.option("--eml", is_flag=True, help="Save the whole raw message as a .eml file.")
@click.option("--overwrite", is_flag=True, help="Replace files that exist (default: name (2).ext).")
@click.option("--keep-tnef", is_flag=True, help="Save winmail.dat as it is, not unpacked.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON Lines, one file per line.")
def save(
    target: int | Path,
    folder: str,
    directory: Path,
    parts: tuple[str, ...],
    eml: bool,
    overwrite: bool,
    keep_tnef: bool,
    as_json: bool,
    **kwargs: Any,
) -> None:
    """Save the attachments of message UID of FOLDER (or of a .eml FILE), streamed to disk.

    Files are written under a temporary name and renamed when complete: an interrupted
    download never leaves a truncated file under the final name.
    """
    if eml and parts:
        raise UsageError("--eml saves the whole message; it does not take --part")
    make_directory(directory)  # before connecting: a bad --dir fails at once
    show_progress = not as_json and sys.stderr.isatty()

    def report(item: SavedPart) -> None:
        # Each file as it lands: if a later part fails, the ones on disk are still listed.
        if shown is not None:
            shown.saved(item)
        if as_json:
            output.emit_json(saved_json(item))
        elif shown is not None:
            shown.after.append(str(item.path) if item.path is not None else item.filename)
        else:
            click.echo(str(item.path) if item.path is not None else item.filename)

    with _progress(show_progress) as shown:
        progress: ProgressHook | None = shown.update if shown is not None else None
        if isinstance(target, Path):
            if eml:
                raise UsageError("the file is already a message; --eml is for the server")
            saved = save_eml_parts(
                target,
                directory,
                parts=parts or None,
                overwrite=overwrite,
                unpack_tnef=not keep_tnef,
                progress=progress,
                on_saved=report,
            )
        else:
            with open_client(resolve(kwargs)) as client:
                client.select(folder, readonly=True)
                if eml:
                    whole = save_message(
                        client, target, directory, overwrite=overwrite, progress=progress
                    )
                    saved = [whole]
                    report(whole)
                else:
                    saved = save_parts(
                        client,
                        target,
                        directory,
                        parts=parts or None,
                        overwrite=overwrite,
                        unpack_tnef=not keep_tnef,
                        progress=progress,
                        on_saved=report,
                    )
    if not saved and not as_json:
        click.echo("o365imap: the message has no attachments.", err=True)
