"""The click group every command hangs on, and the global options."""

from __future__ import annotations

import logging
import sys

import click

__all__ = ["cli"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="o365imap")
@click.option(
    "--debug",
    is_flag=True,
    help="Print the IMAP conversation and sign-in steps (tokens and secrets redacted).",
)
def cli(debug: bool) -> None:
    """Office 365 and Outlook.com mail over IMAP with OAuth 2.0."""
    if debug:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
        root = logging.getLogger("o365imap")
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
