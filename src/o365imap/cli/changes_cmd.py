"""Commands that change messages: ``move``, ``copy``, ``delete`` and ``flag``.

Each takes the messages as cli/selection.py reads them, acts on those that exist, names the
others on stderr and then exits 1. ``--dry-run`` opens the folder read-only (EXAMINE) and says
what would be done; ``--json`` prints one object per message acted on, ``{"uid", "folder",
"action", "to", "new_uid"}``, ``to`` and ``new_uid`` null where they do not apply or the server
does not say.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from o365imap import CopyResult, O365ImapError, UsageError
from o365imap._display import counted
from o365imap._terminal_text import for_terminal
from o365imap.cli.app import cli
from o365imap.cli.connect import connection_options, open_client, resolve
from o365imap.cli.params import FLAG, FOLDER
from o365imap.cli.selection import (
    Chosen,
    change_options,
    choose,
    emit_message,
    selection_from,
    selection_options,
    uid_text,
)

__all__ = ["ASK_ABOVE"]

# Deleting more messages than this asks first, on a terminal.
ASK_ABOVE = 50

_UIDS_SHOWN = 60  # characters of a UID set a sentence shows

_PAST = {"move": "Moved", "copy": "Copied", "delete": "Deleted"}


def _say(text: str) -> None:
    """A sentence for people; folder names are the server's (or a stranger's) text."""
    click.echo(for_terminal(text, one_line=True))


def _which(chosen: Chosen, preposition: str) -> str:
    """``3 messages (UID 1:3) from INBOX``; a set too long to read is left out."""
    uids = uid_text(chosen.uids)
    shown = f" (UID {uids})" if len(uids) <= _UIDS_SHOWN else ""
    return f"{counted(len(chosen.uids))}{shown} {preposition} {chosen.folder}"


def _nothing(chosen: Chosen, as_json: bool) -> int:
    if not as_json:
        where = for_terminal(chosen.folder, one_line=True)
        click.echo(f"o365imap: no messages to act on in {where}.", err=True)
    return chosen.exit_code


def _report(
    action: str,
    chosen: Chosen,
    to: str | None,
    result: CopyResult | None,
    *,
    as_json: bool,
) -> None:
    if as_json:
        for uid in chosen.uids:
            emit_message(chosen, uid, action, to, result.new_uid(uid) if result else None)
        return
    what = _which(chosen, "from")
    where = f" to {to}" if to is not None else " permanently"
    verb = _PAST[action] if result is not None else f"Would {action}"
    _say(f"{verb} {what}{where}.")


def _copies_left(result: CopyResult) -> None:
    if result.copies_left:
        # Exit 3, as for the failure that caused it: nothing is lost, but it is not done.
        raise O365ImapError(
            f"the connection failed while moving to {result.to}: the messages were copied, "
            f"but the originals are still in {result.folder}"
        )


def _transfer(action: str, to: str, dry_run: bool, as_json: bool, kwargs: dict[str, Any]) -> int:
    selection = selection_from(kwargs)
    with open_client(resolve(kwargs)) as client:
        chosen = choose(client, selection, writable=not dry_run)
        if not chosen.uids:
            return _nothing(chosen, as_json)
        if dry_run:
            client.status(to, ("MESSAGES",))  # a folder that is not there fails here too
            result = None
        elif action == "move":
            result = client.move(chosen.uids, to)
        else:
            result = client.copy(chosen.uids, to)
    _report(action, chosen, to, result, as_json=as_json)
    if result is not None:
        _copies_left(result)
    return chosen.exit_code


def _transfer_command(action: str, doc: str) -> None:
    """``move`` and ``copy``: the same options, the same report."""

    def command(to: str, dry_run: bool, as_json: bool, **kwargs: Any) -> int:
        return _transfer(action, to, dry_run, as_json, kwargs)

    command.__doc__ = doc
    to = click.option("--to", "to", required=True, type=FOLDER, metavar="FOLDER",
                      help=f"The folder to {action} them to.")  # fmt: skip
    cli.command(name=action)(connection_options(selection_options(to(change_options(command)))))


_transfer_command(
    "move",
    """Move messages to another folder (MOVE; where the server lacks it, copy them and expunge
    exactly those). With --json, each message's new UID.""",
)
_transfer_command("copy", """Copy messages to another folder. With --json, each copy's UID.""")


def _at_terminal() -> bool:
    """A person who can answer a question: standard input is a terminal (not a pipe, not a
    file, not the UIDs being read)."""
    return sys.stdin.isatty()


def _confirm_delete(chosen: Chosen, to: str | None) -> None:
    """Ask before deleting many, when a person is at the terminal to answer."""
    if len(chosen.uids) <= ASK_ABOVE or not _at_terminal():
        return
    where = f"to {to}" if to is not None else "permanently"
    question = f"Delete {counted(len(chosen.uids))} of {chosen.folder} {where}?"
    click.confirm(for_terminal(question, one_line=True), abort=True, err=True)


@cli.command()
@connection_options
@selection_options
@click.option("--permanently", is_flag=True,
              help="Expunge them (no Trash); refused where the server cannot expunge exactly "
              "those (no UIDPLUS).")  # fmt: skip
@click.option("--yes", "-y", is_flag=True,
              help=f"Do not ask before deleting more than {ASK_ABOVE} messages.")  # fmt: skip
@change_options
def delete(permanently: bool, yes: bool, dry_run: bool, as_json: bool, **kwargs: Any) -> int:
    """Delete messages as Outlook does: move them to the Trash folder (found by its special
    use, "Deleted Items" on Office 365). On a terminal, deleting more than 50 asks first."""
    selection = selection_from(kwargs)
    with open_client(resolve(kwargs)) as client:
        chosen = choose(client, selection, writable=not dry_run)
        if not chosen.uids:
            return _nothing(chosen, as_json)
        # What the real run would refuse (no Trash, no UIDPLUS), said by the dry run too.
        to = client.delete_target(permanently=permanently)
        result = None
        if not dry_run:
            if not yes:
                _confirm_delete(chosen, to)
            # The target is known (asked once above): delete() would ask the server again.
            result = (
                client.move(chosen.uids, to)
                if to is not None
                else client.delete(chosen.uids, permanently=True)
            )
    _report("delete", chosen, to, result, as_json=as_json)
    if result is not None:
        _copies_left(result)
    return chosen.exit_code


# option -> (flag, added?): the system flags a person means by a word
_SYSTEM = {
    "read": ("\\Seen", True),
    "unread": ("\\Seen", False),
    "flagged": ("\\Flagged", True),
    "unflagged": ("\\Flagged", False),
    "answered": ("\\Answered", True),
    "unanswered": ("\\Answered", False),
}

_FLAG_HELP = {
    "read": "Mark them read (\\Seen).",
    "unread": "Mark them unread.",
    "flagged": "Flag them (\\Flagged).",
    "unflagged": "Take the flag off.",
    "answered": "Mark them answered (\\Answered).",
    "unanswered": "Take \\Answered off.",
}


def _flag_options(func: Any) -> Any:
    for name in reversed(_SYSTEM):
        func = click.option(f"--{name}", is_flag=True, help=_FLAG_HELP[name])(func)
    return func


@cli.command()
@connection_options
@selection_options
@_flag_options
@click.option(
    "--add",
    "keywords_added",
    multiple=True,
    type=FLAG,
    metavar="KEYWORD",
    help="Add this keyword ($Invoice, or a flag such as \\Deleted); repeatable.",
)
@click.option("--remove", "keywords_removed", multiple=True, type=FLAG, metavar="KEYWORD",
              help="Take this keyword off; repeatable.")  # fmt: skip
@change_options
def flag(
    keywords_added: tuple[str, ...],
    keywords_removed: tuple[str, ...],
    dry_run: bool,
    as_json: bool,
    **kwargs: Any,
) -> int:
    """Mark messages read or unread, flag them, or add and remove keywords."""
    added, removed = list(keywords_added), list(keywords_removed)
    for name, (system, on) in _SYSTEM.items():
        if kwargs.pop(name):
            (added if on else removed).append(system)
    both = sorted({f.lower() for f in added} & {f.lower() for f in removed})
    if both:
        raise UsageError(f"{both[0]} cannot be both added and taken off")
    if not (added or removed):
        raise UsageError("what to change? Give --read, --unread, --flagged, --add KEYWORD, ...")
    selection = selection_from(kwargs)
    with open_client(resolve(kwargs)) as client:
        chosen = choose(client, selection, writable=not dry_run)
        if not chosen.uids:
            return _nothing(chosen, as_json)
        if not dry_run:
            if added:
                client.add_flags(chosen.uids, added)
            if removed:
                client.remove_flags(chosen.uids, removed)
    if as_json:
        for uid in chosen.uids:
            emit_message(chosen, uid, "flag", None, None, added=added, removed=removed)
    else:
        changes = [f"{how} {' '.join(names)}" for how, names in
                   (("added", added), ("took off", removed)) if names]  # fmt: skip
        what = _which(chosen, "of")
        verb = "Would change" if dry_run else "Changed"
        _say(f"{verb} the flags of {what}: {', '.join(changes)}.")
    return chosen.exit_code
