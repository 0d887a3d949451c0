"""``o365imap sandbox``: the identity-platform emulator and a real Dovecot, offline."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

import click

from o365imap.auth import Authenticator, ProfileStore, home_dir
from o365imap.cli.app import cli

__all__ = ["sandbox"]


@cli.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the sandbox keeps its key, certificates and mail [default: a folder in your "
    "data directory, reused across runs].",
)
@click.option(
    "--messages",
    type=click.IntRange(0, 200_000),
    default=2000,
    show_default=True,
    help="Messages in the Bulk folder (seeded on the first run of a folder).",
)
@click.option("--auto-approve", is_flag=True, help="Skip the sign-in page: approve every sign-in.")
@click.option(
    "--token-lifetime",
    type=click.IntRange(min=5),
    default=3600,
    show_default=True,
    help="Seconds an access token lives (short ones show the silent refresh at work).",
)
@click.option("--profile", "profile_name", default="sandbox", show_default=True)
def sandbox(
    directory: Path | None,
    messages: int,
    auto_approve: bool,
    token_lifetime: int,
    profile_name: str,
) -> None:
    """Run a private Microsoft-like sign-in service and mail server until Ctrl-C."""
    # Imported here, not at the top: every other command (`o365imap token` above all) starts
    # faster without the sandbox's modules.
    from o365imap.sandbox.environment import Sandbox  # noqa: PLC0415

    # Failures to set up or start are SandboxErrors: one sentence, exit 3 (1 for a port taken).
    root = directory or home_dir("data") / "sandbox"
    box = Sandbox(
        root,
        bulk_count=messages,
        auto_approve=auto_approve,
        access_token_lifetime=token_lifetime,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # Ctrl-C and SIGTERM both just ask the loop below to end, wherever they arrive; the
    # servers are then stopped in order.
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with box:
            store = ProfileStore()
            _forget_other_sandboxes_tokens(store, profile_name, box.ca_file)
            profile = box.save_profile(store, profile_name)
            info = box.info()
            click.echo(
                f"Sandbox running (folder {root}).\n"
                f"  sign-in service  {info.authority}\n"
                f"  IMAP (TLS)       {info.imap_host}:{info.imap_port}\n"
                f"  account          {info.user}   password: {info.password}\n"
                f"  CA certificate   {info.ca_file}\n"
                f"Profile {profile.name!r} saved. In another terminal:\n"
                f"  o365imap login --profile {profile.name}\n"
                f"  o365imap folders --profile {profile.name}\n"
                f"  o365imap list --profile {profile.name}\n"
                "Press Ctrl-C to stop.",
                err=True,
            )
            while not stop.wait(0.5):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("Sandbox stopped.", err=True)


def _forget_other_sandboxes_tokens(store: ProfileStore, name: str, ca_file: Path) -> None:
    """A sandbox in another folder has its own signing key: tokens saved for the profile by
    that one would be refused by this one's Dovecot, with a misleading "wrong scope or
    audience". A restart in the same folder (same CA, same key) keeps them."""
    previous = store.find(name)
    if previous is None or previous.ca_file in (None, str(ca_file)):
        return
    if Authenticator(previous).sign_out():
        click.echo(
            f"Signed out of profile {name!r}: its tokens came from a sandbox in another folder.",
            err=True,
        )
