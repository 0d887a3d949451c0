"""A MailSession for a profile or a token: how the mail browser connects and signs in.

Connections are made by the library's :meth:`~o365imap.auth.ConnectionSettings.open`, as for
every command and script; the settings come from the front end that starts the app (the
``o365imap tui`` command resolves its options into them); so is sending, through
:meth:`~o365imap.auth.ConnectionSettings.open_sender` (the profile's SMTP server). Each of
them takes the profile as saved at that moment, so a retry finds a server that moved.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from o365imap import ImapClient
from o365imap.auth import ConnectionSettings, ProfileStore
from o365imap.tui.model import NOOP_EVERY, MailSession, SignIn
from o365imap.tui.outbox import Outbox

if TYPE_CHECKING:
    from o365imap.smtp import SmtpSender

__all__ = ["session_for"]


def session_for(
    settings: ConnectionSettings,
    *,
    poll_every: float = NOOP_EVERY,
    profiles: ProfileStore | None = None,
) -> MailSession:
    """A session that connects with ``settings``; it can sign in from inside the app when the
    tokens come from a profile.

    Each connection (the first, and each one after a connection was lost), each sign-in and
    each message sent takes the profile as saved now in ``profiles`` (default: the user's
    file): a server back on another port (a restarted sandbox rewrites the profile) is found
    by the next retry. What the command line gave over the profile stays.
    """

    def current() -> ConnectionSettings:
        return settings.with_saved_profile(profiles)

    def connect() -> ImapClient:
        return current().open()

    def open_sender() -> SmtpSender:
        return current().open_sender()

    sign_in: SignIn | None = None
    if settings.profile is not None and settings.access_token is None:

        def sign_in(show: Callable[[str], None], cancel: threading.Event) -> None:
            # A text-mode browser started from here would draw over the app: only open one
            # where a graphical session exists; the URL is always shown as well.
            graphical = bool(
                os.environ.get("DISPLAY")
                or os.environ.get("WAYLAND_DISPLAY")
                or sys.platform in ("darwin", "win32")
            )
            current().authenticator().sign_in(
                open_browser=graphical, show_url=show, show=show, cancel=cancel
            )

    where = settings.profile.name if settings.profile is not None else (settings.user or "")
    return MailSession(
        connect,
        sign_in,
        description=f"{where} @ {settings.host}".strip(),
        poll_every=poll_every,
        # Sending signs in to SMTP with the same sign-in (SMTP.Send), when a message is sent.
        outbox=Outbox(settings.user, open_sender) if settings.user else None,
    )
