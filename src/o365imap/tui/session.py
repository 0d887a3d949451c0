"""A MailSession from the command line's connection options (profile, host, token...)."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable

from o365imap import ImapClient
from o365imap.cli.connect import Connection, authenticator, connect_client
from o365imap.tui.model import NOOP_EVERY, MailSession, SignIn

__all__ = ["session_for"]


def session_for(conn: Connection, *, poll_every: float = NOOP_EVERY) -> MailSession:
    """Connections made exactly as the other commands make them (``connect_client``)."""

    def connect() -> ImapClient:
        return connect_client(conn)

    sign_in: SignIn | None = None
    if conn.profile is not None and conn.access_token is None:

        def sign_in(show: Callable[[str], None], cancel: threading.Event) -> None:
            # A text-mode browser started from here would draw over the app: only open one
            # where a graphical session exists; the URL is always shown as well.
            graphical = bool(
                os.environ.get("DISPLAY")
                or os.environ.get("WAYLAND_DISPLAY")
                or sys.platform in ("darwin", "win32")
            )
            authenticator(conn).sign_in(
                open_browser=graphical, show_url=show, show=show, cancel=cancel
            )

    where = conn.profile.name if conn.profile is not None else (conn.user or "")
    return MailSession(
        connect,
        sign_in,
        description=f"{where} @ {conn.host}".strip(),
        poll_every=poll_every,
    )
