"""``o365imap export``: back up a mailbox (or several) into Maildir, mbox or .eml files.

The work is the library's (``o365imap.backup``); here: which mailboxes (``--user`` repeated or
``--users FILE``, each into ``DEST/<mailbox>/``), which format (the destination's own when it
holds an export already), progress bars for a person or JSON Lines for a script, the last
line, and ``--verify``. Exit 1 when ``--verify`` finds a difference, 3 when a folder could not
be exported (the others are), 4 when the destination cannot be written.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from o365imap import O365ImapError, StorageError, UsageError
from o365imap._display import human_size
from o365imap._terminal_text import for_terminal
from o365imap.cli import output
from o365imap.cli.app import cli
from o365imap.cli.connect import many_mailboxes_options, resolve
from o365imap.cli.params import FOLDER, WholeNumber
from o365imap.cli.progress import folder_bars

if TYPE_CHECKING:
    from o365imap.auth import ConnectionSettings
    from o365imap.backup import ExportReport, FolderCheck, FolderReport

__all__ = ["export"]

EXIT_DIFFERS = 1
EXIT_FOLDER_FAILED = 3


def _mailboxes(users: tuple[str, ...], users_file: Path | None) -> list[str]:
    found = list(users)
    if users_file is not None:
        try:
            lines = users_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {users_file}: {exc}") from None
        found += [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return list(dict.fromkeys(found))


def _format_of(destination: Path, asked: str | None) -> str:
    from o365imap.backup import exported_folders  # noqa: PLC0415

    held = (
        {state.format for state in exported_folders(destination)} if destination.is_dir() else set()
    )
    if asked is not None and held and held != {asked}:
        raise UsageError(
            f"{destination} holds a {', '.join(sorted(held))} export: export into another "
            "folder to change the format"
        )
    return asked or (held.pop() if len(held) == 1 else "maildir")


@cli.command()
@many_mailboxes_options
@click.argument("destination", type=click.Path(file_okay=False, path_type=Path))
@click.argument("folders", nargs=-1, type=FOLDER)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["maildir", "mbox", "eml"]),
    help="maildir (one file per message, flags in its name), mbox (one file per folder), or "
    "eml (one file per message and an index) [default: the destination's, else maildir].",
)
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Only messages received on or after this day (YYYY-MM-DD).",
)
@click.option(
    "--jobs",
    type=WholeNumber(1, 16),
    default=4,
    show_default=True,
    help="Connections at once (Office 365 allows a few per mailbox).",
)
@click.option(
    "--mirror", is_flag=True, help="Remove from the backup what the server no longer has."
)
@click.option("--verify", is_flag=True, help="Compare the backup with the server; export nothing.")
@click.option(
    "--users",
    "users_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Mailboxes to export, one per line (app-only access), each into DEST/<mailbox>/.",
)
@click.option("--json", "as_json", is_flag=True, help="JSON Lines: one per folder, then a summary.")
def export(
    destination: Path,
    folders: tuple[str, ...],
    fmt: str | None,
    since: datetime | None,
    jobs: int,
    mirror: bool,
    verify: bool,
    users_file: Path | None,
    as_json: bool,
    **kwargs: Any,
) -> None:
    """Back up every folder (or FOLDER...) into DEST; run it again to bring DEST up to date.

    Killed at any moment, a rerun completes it: every message once, none half-written.
    """
    from o365imap.backup import ExportOptions  # noqa: PLC0415 - only this command needs it

    mailboxes = _mailboxes(tuple(kwargs.get("user") or ()), users_file)
    kwargs["user"] = mailboxes[0] if mailboxes else None
    settings = resolve(kwargs)
    several = len(mailboxes) > 1 or users_file is not None
    targets = [
        (
            replace(settings, user=mailbox),
            destination / _mailbox_dir(mailbox) if several else destination,
        )
        for mailbox in (mailboxes or [settings.user or ""])
    ]
    failed = differs = 0
    for conn, target in targets:
        if verify:
            differs += _verify(conn, target, as_json)
            continue
        options = ExportOptions(
            target,
            format=_format_of(target, fmt),  # type: ignore[arg-type]
            folders=folders,
            since=since.date() if since else None,
            jobs=jobs,
            mirror=mirror,
        )
        try:
            with folder_bars(not as_json and sys.stderr.isatty()) as progress:
                report = _run_export(conn, options, progress)
        except StorageError:
            raise  # the destination's disk: every mailbox after would fail the same way
        except O365ImapError as exc:
            if not several:
                raise
            # Each mailbox on its own: one that cannot be signed in to (gone from the
            # tenant) or read is said, and the next is exported all the same.
            failed += 1
            _say_mailbox_failed(conn.user, target, exc, as_json)
            continue
        failed += _say_export(report, conn.user, target, as_json)
    if differs:
        sys.exit(EXIT_DIFFERS)
    if failed:
        click.echo(
            f"o365imap: {failed} of the folders or mailboxes could not be exported (see above).",
            err=True,
        )
        sys.exit(EXIT_FOLDER_FAILED)


def _mailbox_dir(mailbox: str) -> str:
    from o365imap.backup import disk_name  # noqa: PLC0415

    return disk_name(mailbox.lower())


def _run_export(conn: ConnectionSettings, options: Any, progress: Any) -> ExportReport:
    from o365imap.backup import export_mailbox  # noqa: PLC0415

    return export_mailbox(conn.open, options, progress)


# ---------------------------------------------------------------- what a person sees


def _say_mailbox_failed(
    mailbox: str | None, target: Path, exc: O365ImapError, as_json: bool
) -> None:
    if as_json:
        output.emit_json(
            {"summary": True, "mailbox": mailbox, "destination": str(target), "error": str(exc)}
        )
    else:
        click.echo(for_terminal(f"o365imap: {mailbox}: {exc}", one_line=True), err=True)


def _folder_json(report: FolderReport, mailbox: str | None) -> dict[str, Any]:
    return {
        "mailbox": mailbox,
        "folder": report.folder,
        "path": report.path,
        "messages": report.messages,
        "new": report.new,
        "updated": report.updated,
        "kept": report.kept,
        "removed": report.removed,
        "deleted_on_server": report.deleted_on_server,
        "bytes": report.bytes,
        "size_differs": report.size_differs,
        "retired": report.retired,
        "seconds": round(report.seconds, 3),
        "error": report.error,
    }


def _say_export(report: ExportReport, mailbox: str | None, target: Path, as_json: bool) -> int:
    failed = [f for f in report.folders if f.error]
    if as_json:
        for folder in report.folders:
            output.emit_json(_folder_json(folder, mailbox))
        output.emit_json(
            {
                "summary": True,
                "mailbox": mailbox,
                "destination": str(target),
                "folders": len(report.folders),
                "messages": report.total("messages"),
                "new": report.total("new"),
                "updated": report.total("updated"),
                "kept": report.total("kept"),
                "removed": report.total("removed"),
                "bytes": report.total("bytes"),
                "failed": len(failed),
                "seconds": round(report.seconds, 3),
            }
        )
        return len(failed)
    for folder in failed:
        click.echo(
            for_terminal(f"o365imap: {folder.folder}: {folder.error}.", one_line=True), err=True
        )
    for folder in report.folders:
        if folder.retired:
            click.echo(
                for_terminal(
                    f"{folder.folder}: the server renumbered it (UIDVALIDITY changed); the old "
                    f"copy is kept as {folder.retired}",
                    one_line=True,
                )
            )
    click.echo(
        f"{'Exported' if not failed else 'Exported (with errors)'} "
        f"{_count(len(report.folders), 'folder')}, "
        f"{_count(report.total('messages'), 'message')} into {target}: "
        f"{report.total('new'):,} new ({human_size(report.total('bytes'))}), "
        f"{report.total('updated'):,} updated, {report.total('kept'):,} kept"
        + (f", {report.total('removed'):,} removed" if report.total("removed") else "")
        + f", in {report.seconds:.{2 if report.seconds < 10 else 1}f} s."
    )
    return len(failed)


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _verify(conn: ConnectionSettings, target: Path, as_json: bool) -> int:
    from o365imap.backup import verify_backup  # noqa: PLC0415

    if not target.is_dir():
        raise UsageError(f"{target} holds no export to verify")
    checks = verify_backup(conn.open, target)
    if not checks:
        raise UsageError(f"{target} holds no export to verify")
    bad = [c for c in checks if not c.ok]
    for check in checks:
        if as_json:
            output.emit_json(_check_json(check, conn.user))
        elif not check.ok:
            click.echo(for_terminal(_check_line(check), one_line=True))
    if not as_json:
        total = sum(c.stored for c in checks)
        verdict = "differs" if bad else "matches the server"
        click.echo(
            f"The backup in {target} {verdict}: {_count(len(checks), 'folder')}, "
            f"{_count(total, 'message')}"
            + (
                f", {_count(len(bad), 'folder')} {'differs' if len(bad) == 1 else 'differ'}."
                if bad
                else "."
            )
        )
    return len(bad)


def _check_json(check: FolderCheck, mailbox: str | None) -> dict[str, Any]:
    return {
        "mailbox": mailbox,
        "folder": check.folder,
        "ok": check.ok,
        "server": check.server,
        "stored": check.stored,
        "missing": check.missing,
        "gone": check.gone,
        "size_differs": check.size_differs,
        "flags_differ": check.flags_differ,
        "error": check.error,
    }


def _check_line(check: FolderCheck) -> str:
    if check.error:
        return f"{check.folder}: {check.error}"
    said = []
    if check.missing:
        said.append(f"{len(check.missing)} missing (UIDs {_uids(check.missing)})")
    if check.size_differs:
        said.append(f"{len(check.size_differs)} of another size (UIDs {_uids(check.size_differs)})")
    return f"{check.folder}: " + ", ".join(said)


def _uids(uids: list[int]) -> str:
    shown = ", ".join(str(u) for u in uids[:10])
    return shown + (", ..." if len(uids) > 10 else "")
