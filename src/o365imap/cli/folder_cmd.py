"""Folder commands: ``mkdir``, ``rmdir`` and ``rename``.

``--json`` prints ``{"folder", "action", "to"}`` (``to``: the new name of a rename, else null).
``rmdir`` asks the server how many messages a folder holds (STATUS) and refuses to delete them
with it unless ``--force``. Office 365 refuses to delete or rename its special folders: the
server's words say so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from o365imap import FolderNotFound, UsageError
from o365imap._display import counted
from o365imap._terminal_text import for_terminal
from o365imap.cli import output
from o365imap.cli.app import cli
from o365imap.cli.connect import connection_options, open_client, resolve
from o365imap.cli.params import FOLDER
from o365imap.cli.selection import change_options

if TYPE_CHECKING:
    from o365imap import ImapClient

__all__: list[str] = []


def _done(action: str, folder: str, to: str | None, sentence: str, as_json: bool) -> None:
    if as_json:
        output.emit_json({"folder": folder, "action": action, "to": to})
    else:
        click.echo(for_terminal(sentence, one_line=True))


def _exists(client: ImapClient, folder: str) -> bool:
    return any(f.name == folder for f in client.list_folders())


@cli.command()
@connection_options
@click.argument("folder", type=FOLDER)
@change_options
def mkdir(folder: str, dry_run: bool, as_json: bool, **kwargs: Any) -> None:
    """Create FOLDER (Parent/Child makes the parent too)."""
    with open_client(resolve(kwargs)) as client:
        if _exists(client, folder):
            raise UsageError(f"there is a folder {folder} already")
        if not dry_run:
            client.create_folder(folder)
    verb = "Would create" if dry_run else "Created"
    _done("create", folder, None, f"{verb} folder {folder}.", as_json)


@cli.command()
@connection_options
@click.argument("folder", type=FOLDER)
@click.option("--force", is_flag=True, help="Delete it even though it holds messages.")
@change_options
def rmdir(folder: str, force: bool, dry_run: bool, as_json: bool, **kwargs: Any) -> None:
    """Delete FOLDER; one that holds messages only with --force (they go with it)."""
    with open_client(resolve(kwargs)) as client:
        try:
            held = client.status(folder, ("MESSAGES",)).messages or 0
        except FolderNotFound:
            if not _exists(client, folder):
                raise
            held = 0  # listed but \Noselect: a parent that holds only folders
        if held and not force:
            raise UsageError(
                f"{folder} holds {counted(held)}: --force deletes them with the folder"
            )
        # Office 365 deletes a folder with everything below it: mail in subfolders too.
        below = [f.name for f in client.list_folders() if _inside(f.name, f.delimiter, folder)]
        if below and not force:
            raise UsageError(
                f"{folder} has subfolders ({', '.join(below[:3])}"
                f"{', ...' if len(below) > 3 else ''}): --force deletes them with it"
            )
        if not dry_run:
            client.delete_folder(folder)
    verb = "Would delete" if dry_run else "Deleted"
    with_messages = f" and its {counted(held)}" if held else ""
    _done("delete", folder, None, f"{verb} folder {folder}{with_messages}.", as_json)


def _inside(name: str, delimiter: str | None, parent: str) -> bool:
    return bool(delimiter) and name.startswith(f"{parent}{delimiter}")


@cli.command()
@connection_options
@click.argument("old", type=FOLDER)
@click.argument("new", type=FOLDER)
@change_options
def rename(old: str, new: str, dry_run: bool, as_json: bool, **kwargs: Any) -> None:
    """Rename folder OLD to NEW (its subfolders follow)."""
    with open_client(resolve(kwargs)) as client:
        if dry_run:
            client.status(old, ("MESSAGES",))  # a folder that is not there fails here too
            if _exists(client, new):
                raise UsageError(f"there is a folder {new} already")
        else:
            client.rename_folder(old, new)
    verb = "Would rename" if dry_run else "Renamed"
    _done("rename", old, new, f"{verb} folder {old} to {new}.", as_json)
