"""Backing up, exporting and importing whole mailboxes: Maildir, mbox or .eml files.

``export_mailbox(connect, ExportOptions(destination, format=...))`` copies every folder (or
those named) into a destination, incrementally (a rerun fetches only what is missing and
brings flags up to date) and safely (killed at any moment, a rerun completes with every
message exactly once); ``verify_backup(connect, destination)`` compares a backup with the
server; ``import_mailbox(client, ImportOptions(source, state_dir=...))`` appends a Maildir, an
mbox or a folder of .eml files, rerun-safe. The command line's ``o365imap export`` and
``o365imap import`` are built on them.
"""

from __future__ import annotations

from ._engine import ExportEvent, ExportOptions, ExportReport, FolderReport, export_mailbox
from ._import import ImportEvent, ImportFolderReport, ImportOptions, ImportReport, import_mailbox
from ._layout import component as disk_name
from ._sources import SourceFolder, find_folders
from ._state import FolderState
from ._verify import FolderCheck, exported_folders, verify_backup

__all__ = [
    "ExportEvent",
    "ExportOptions",
    "ExportReport",
    "FolderCheck",
    "FolderReport",
    "FolderState",
    "ImportEvent",
    "ImportFolderReport",
    "ImportOptions",
    "ImportReport",
    "SourceFolder",
    "disk_name",
    "export_mailbox",
    "exported_folders",
    "find_folders",
    "import_mailbox",
    "verify_backup",
]
