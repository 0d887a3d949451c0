"""``o365imap sandbox``: the identity-platform emulator and a real Dovecot, offline."""

from __future__ import annotations

import os
import shlex
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

from o365imap._display import counted
from o365imap.auth import Authenticator, ProfileStore, home_dir
from o365imap.cli.app import cli
from o365imap.cli.params import WholeNumber

if TYPE_CHECKING:
    from o365imap.sandbox.environment import Sandbox

__all__ = ["sandbox"]


_DEFAULT_MESSAGES = 2000


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
    type=WholeNumber(0, 200_000),
    default=None,
    help=f"Messages in the Bulk folder [default: {_DEFAULT_MESSAGES} in a new folder]; more "
    "than a reused folder holds adds the difference.",
)
@click.option(
    "--imap-port",
    type=WholeNumber(1, 65535),
    help="Plain IMAP (STARTTLS) port [default: the last run's in this folder, else any free].",
)
@click.option(
    "--tls-port",
    type=WholeNumber(1, 65535),
    help="IMAP over TLS port [default: the last run's in this folder, else any free].",
)
@click.option(
    "--identity-port",
    type=WholeNumber(1, 65535),
    help="Sign-in service (HTTPS) port [default: the last run's in this folder, else any "
    "free]; keeping it keeps saved sign-ins valid.",
)
@click.option(
    "--smtp-port",
    type=WholeNumber(1, 65535),
    help="SMTP submission (STARTTLS) port [default: the last run's in this folder, else any free].",
)
@click.option(
    "--smtps-port",
    type=WholeNumber(1, 65535),
    help="SMTP submission over TLS port [default: the last run's in this folder, else any free].",
)
@click.option("--auto-approve", is_flag=True, help="Skip the sign-in page: approve every sign-in.")
@click.option(
    "--token-lifetime",
    type=WholeNumber(min=5),
    default=3600,
    show_default=True,
    help="Seconds an access token lives (short ones show the silent refresh at work).",
)
@click.option(
    "--profile",
    "profile_name",
    default="sandbox",
    show_default=True,
    help="The profile to save, pointing at this sandbox.",
)
def sandbox(
    directory: Path | None,
    messages: int | None,
    imap_port: int | None,
    tls_port: int | None,
    identity_port: int | None,
    smtp_port: int | None,
    smtps_port: int | None,
    auto_approve: bool,
    token_lifetime: int,
    profile_name: str,
) -> None:
    """Run a private Microsoft-like sign-in service and mail server until Ctrl-C."""
    # Imported here, not at the top: every other command (`o365imap token` above all) starts
    # faster without the sandbox's modules.
    from o365imap.sandbox.environment import Sandbox  # noqa: PLC0415
    from o365imap.sandbox.state import SandboxPorts  # noqa: PLC0415

    given = [p for p in (imap_port, tls_port, identity_port, smtp_port, smtps_port) if p]
    if len(set(given)) != len(given):
        raise click.BadParameter("the ports must differ", param_hint="--*-port")
    # Failures to set up or start are SandboxErrors: one sentence, exit 3 (1 for a port taken).
    root = directory or home_dir("data") / "sandbox"
    box = Sandbox(
        root,
        bulk_count=messages if messages is not None else _DEFAULT_MESSAGES,
        auto_approve=auto_approve,
        access_token_lifetime=token_lifetime,
        ports=SandboxPorts(imap_port, tls_port, identity_port, smtp_port, smtps_port),
        top_up=messages is not None,
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
            click.echo(_banner(box, root, profile.name, messages), err=True)
            while not stop.wait(0.5):
                pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo("Sandbox stopped.", err=True)


def _banner(box: Sandbox, root: Path, profile: str, asked: int | None) -> str:
    info = box.info()
    dovecot = box.dovecot.features
    seeding = box.seeding
    assert seeding is not None  # set by start()
    if seeding.new:
        bulk = f"{counted(seeding.count)} (seeded now)"
    elif seeding.added:
        bulk = f"{counted(seeding.count)} ({seeding.added:,} added for --messages {asked})"
    elif asked is not None and asked < seeding.count:
        bulk = (
            f"{counted(seeding.count)}: --messages {asked} removes none "
            "(a smaller mailbox needs another --dir)"
        )
    else:
        bulk = counted(seeding.count)
    moved = ""
    if box.identity_port_moved_from is not None:
        moved = (
            f"  (the sign-in service's port {box.identity_port_moved_from} was taken: saved "
            "sign-ins name it, so sign in again)\n"
        )
    return (
        f"Sandbox running (folder {root}).\n"
        f"  sign-in service  {info.authority}\n{moved}"
        f"  IMAP             {info.imap_host} (localhost): {box.dovecot.imaps_port} TLS, "
        f"{box.dovecot.imap_port} STARTTLS\n"
        f"  SMTP (sending)   {box.smtp_host} (localhost): {box.smtp_port} STARTTLS, "
        f"{box.smtps_port} TLS\n"
        f"  account          {info.user}   password: {info.password}\n"
        f"  CA certificate   {info.ca_file}\n"
        f"  Bulk folder      {bulk}\n"
        f"  Dovecot          {dovecot.version} ({dovecot.dialect} configuration); "
        f"{dovecot.describe_audience()}\n"
        f"Profile {profile!r} saved. In another terminal:\n"
        f"  o365imap login --profile {profile}\n"
        f"  o365imap folders --profile {profile}\n"
        f"  o365imap list --profile {profile}\n"
        "Other mail clients, configured for these ports (after the login above):\n"
        f"{_client_configurations(box, profile)}\n"
        "Press Ctrl-C to stop."
    )


def _client_configurations(box: Sandbox, profile: str) -> str:
    """Write mbsync, neomutt and offlineimap configurations for this run: how to run each."""
    from o365imap.sandbox.clients import (  # noqa: PLC0415
        ClientSetup,
        token_command,
        write_configurations,
    )

    # The token command must run this o365imap (not another one on PATH), with the same home
    # and token store.
    running = Path(sys.argv[0]).resolve()
    program = (str(running),) if running.name == "o365imap" else (sys.executable, "-m", "o365imap")
    command = token_command(profile, program=program)
    settings = [
        f"{key}={os.environ[key]}"
        for key in ("O365IMAP_HOME", "O365IMAP_TOKEN_STORE")
        if os.environ.get(key)
    ]
    if settings:
        command = f"{shlex.join(['env', *settings])} {command}"
    setup = ClientSetup(
        imap_port=box.dovecot.imap_port,
        imaps_port=box.dovecot.imaps_port,
        user=box.info().user,
        ca_file=box.ca_file,
        token_command=command,
        config_dir=str(home_dir("config")),
    )
    try:
        commands = write_configurations(setup)
    except OSError as exc:  # the sandbox works without them: say so, do not stop
        return f"  (not written to {setup.config_dir}: {exc.strerror})"
    return "\n".join(f"  {name + ':':<13}{run}" for name, run in commands.items())


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
