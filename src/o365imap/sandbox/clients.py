"""Ready configurations for other mail clients against the sandbox: mbsync, neomutt, offlineimap.

Every rendering uses implicit TLS (the IMAPS port) with the certificate checked against the
sandbox's CA file, and XOAUTH2 only, with the access token printed by a shell command (``o365imap
token --profile sandbox``) that each client runs itself whenever it connects. Nothing here turns
certificate checks off, and no client is left to fall back to a password.

The three file formats quote differently; each renderer quotes every value it writes for its
own parser (mbsync's ``"..."`` with backslash escapes; neomutt's ``"..."``, where ``$`` and
backquotes would otherwise expand; offlineimap's ``configparser``, where ``%`` interpolates and
the token command becomes a Python string literal). A value that no format can carry (a line
break, a control character) is refused with ``ValueError`` rather than written half-right.

Each rendering opens with two comment lines: where to save it, then (indented) the shell
command that runs it, as a user types it.

Stdlib only: the sandbox banner and tests import it without the sandbox's dependencies.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CLIENTS",
    "ClientSetup",
    "render_all",
    "render_mbsync",
    "render_neomutt",
    "render_offlineimap",
    "run_command",
    "token_command",
    "write_configurations",
]

# Where each rendering asks to be saved: o365imap's own configuration folder, never over the
# user's own files (`o365imap sandbox` writes them there for its ports).
DEFAULT_CONFIG_DIR = "~/.config/o365imap"
DEFAULT_MAILDIR = "~/Mail/o365imap-sandbox"
# offlineimap creates its state folder with mkdir, not makedirs: its parent must exist already.
OFFLINEIMAP_STATE = "~/.offlineimap-o365imap-sandbox"
_NAME = "o365imap-sandbox"


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientSetup:
    """What every client needs to reach the sandbox's mailbox.

    ``host`` must be a name in the server certificate that every client checks the same way:
    ``localhost`` (mbsync 1.4 matches names only, so it refuses ``127.0.0.1``). ``ca_file`` and
    ``maildir`` should be absolute or start with ``~/`` (the clients expand it); a relative path
    would be read from whatever folder the client happens to start in. ``token_command`` is a
    shell command line, quoted for ``sh`` (see :func:`token_command`). ``imap_port`` (plain IMAP
    and STARTTLS) is carried for display only: the renderings use ``imaps_port``.

    ``maildir`` is the folder under which the syncing clients keep their copies, each in its
    own subfolder (``mbsync/``, ``offlineimap/``) so that two tools never share one Maildir;
    None means ``~/Mail/o365imap-sandbox``.
    """

    host: str = "localhost"
    imap_port: int
    imaps_port: int
    user: str
    ca_file: Path
    token_command: str
    maildir: Path | None = None
    config_dir: str = DEFAULT_CONFIG_DIR

    @property
    def maildir_root(self) -> str:
        return DEFAULT_MAILDIR if self.maildir is None else str(self.maildir)

    def config_file(self, client: str) -> str:
        """Where ``client``'s rendering asks to be saved (``sandbox.mbsyncrc`` ...)."""
        return _join(self.config_dir, f"sandbox.{client}rc")


def token_command(profile: str = "sandbox", *, program: Sequence[str] = ("o365imap",)) -> str:
    """``o365imap token --profile PROFILE`` as one ``sh`` command line, every word quoted as
    needed (a program path with spaces, an odd profile name)."""
    return shlex.join([*program, "token", "--profile", profile])


def _plain(value: str) -> str:
    # None of the three formats can carry a line break inside a value, and a control character
    # in a path or command is far more likely a mistake than a wish.
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ValueError(f"control character in a client configuration value: {value!r}")
    return value


def _join(root: str, *parts: str) -> str:
    return root.rstrip("/") + "".join("/" + part for part in parts)


def _shell_path(path: str) -> str:
    """A path for a command line shown to the user: quoted, its ``~/`` left to the shell."""
    if path.startswith("~/"):
        return "~/" + shlex.quote(path[2:])
    return shlex.quote(path)


# -- mbsync (isync 1.4) ----------------------------------------------------------------------------


def _mbsync_quote(value: str) -> str:
    # isync's config parser: '"' toggles quoting and '\' takes the next character literally.
    escaped = _plain(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def render_mbsync(setup: ClientSetup) -> str:
    """An ``mbsyncrc`` that copies every folder into a Maildir (``mbsync -c FILE -a``).

    ``SubFolders Verbatim`` nests ``Archive/2024`` as folders; isync 1.4 keeps non-ASCII folder
    names in IMAP's modified UTF-7 on disk (``Entw&APw-rfe``). ``SyncState *`` keeps the sync
    state inside each mailbox, so deleting the Maildir folder resets everything (needed after
    the sandbox is recreated: its folders get new UIDVALIDITYs). XOAUTH2 comes from Cyrus
    SASL's plugin, Debian's ``libsasl2-modules-kdexoauth2``.
    """
    q = _mbsync_quote
    local = _join(setup.maildir_root, "mbsync")
    return (
        f"# Save as {setup.config_file('mbsync')}, then run (mbsync does not create the top "
        "folder):\n"
        f"#   mkdir -p {_shell_path(local)} && mbsync -c "
        f"{_shell_path(setup.config_file('mbsync'))} -a\n"
        f"IMAPAccount {_NAME}\n"
        f"Host {q(setup.host)}\n"
        f"Port {setup.imaps_port}\n"
        f"User {q(setup.user)}\n"
        "SSLType IMAPS\n"
        # Only the sandbox's CA vouches for the sandbox's certificate.
        "SystemCertificates no\n"
        f"CertificateFile {q(str(setup.ca_file))}\n"
        "AuthMechs XOAUTH2\n"
        f"PassCmd {q(setup.token_command)}\n"
        "\n"
        f"IMAPStore {_NAME}-remote\n"
        f"Account {_NAME}\n"
        "\n"
        f"MaildirStore {_NAME}-local\n"
        f"Path {q(local + '/')}\n"
        f"Inbox {q(_join(local, 'INBOX'))}\n"
        "SubFolders Verbatim\n"
        "\n"
        f"Channel {_NAME}\n"
        f"Far :{_NAME}-remote:\n"
        f"Near :{_NAME}-local:\n"
        "Patterns *\n"
        "Create Near\n"
        "SyncState *\n"
    )


# -- neomutt ---------------------------------------------------------------------------------------


def _neomutt_quote(value: str) -> str:
    # Inside "...", neomutt takes '\' as an escape and expands $variables and `commands`;
    # single quotes cannot carry a single quote at all, and shell commands are full of them.
    escaped = _plain(value)
    for char in ("\\", '"', "$", "`"):
        escaped = escaped.replace(char, "\\" + char)
    return f'"{escaped}"'


def render_neomutt(setup: ClientSetup) -> str:
    """A ``neomuttrc`` that reads the mailbox over IMAP (``neomutt -F FILE``).

    ``ssl_ca_certificates_file`` is honoured by Debian's neomutt, which is built with GnuTLS.
    ``imap_oauth_refresh_command`` runs at every connection, so the token is always fresh.

    It does not send: neomutt puts XOAUTH2's token on the ``AUTH`` line itself, which is longer
    than Dovecot's submission service takes (``500 5.5.2 Line too long``), and its OAUTHBEARER
    takes no token of Entra's size (``tests/test_sandbox_clients.py`` shows both).
    """
    q = _neomutt_quote
    return (
        f"# Save as {setup.config_file('neomutt')}, then run:\n"
        f"#   neomutt -F {_shell_path(setup.config_file('neomutt'))}\n"
        f"set imap_user={q(setup.user)}\n"
        'set imap_authenticators="xoauth2"\n'
        f"set imap_oauth_refresh_command={q(setup.token_command)}\n"
        "set ssl_force_tls=yes\n"
        f"set ssl_ca_certificates_file={q(str(setup.ca_file))}\n"
        f"set folder={q(f'imaps://{setup.host}:{setup.imaps_port}/')}\n"
        'set spool_file="+INBOX"\n'
        "set imap_check_subscribed=yes\n"
    )


# -- offlineimap3 ----------------------------------------------------------------------------------


def _ini(value: str) -> str:
    # configparser (BasicInterpolation) reads '%' as the start of a reference.
    return _plain(value).replace("%", "%%")


def render_offlineimap(setup: ClientSetup) -> str:
    """An ``offlineimaprc`` for one-shot syncs (``offlineimap -o -c FILE``).

    offlineimap evaluates ``oauth2_access_token_eval`` (a Python expression) once per sync, when
    it builds the connection to the server: each ``offlineimap -o`` run gets a fresh token.
    ``utf8foldernames`` names the local folders in UTF-8 (``Entwürfe``) instead of modified
    UTF-7. Its state (``metadata``) has a folder of its own, apart from the user's other
    accounts: remove it with the Maildir copy to start afresh after the sandbox is recreated.
    """
    root = setup.maildir_root
    command = repr(_plain(setup.token_command))
    return (
        f"# Save as {setup.config_file('offlineimap')}, then run (-o: once):\n"
        f"#   offlineimap -o -c {_shell_path(setup.config_file('offlineimap'))}\n"
        "[general]\n"
        f"accounts = {_NAME}\n"
        f"metadata = {OFFLINEIMAP_STATE}\n"
        "\n"
        f"[Account {_NAME}]\n"
        f"localrepository = {_NAME}-local\n"
        f"remoterepository = {_NAME}-remote\n"
        "utf8foldernames = yes\n"
        "\n"
        f"[Repository {_NAME}-local]\n"
        "type = Maildir\n"
        f"localfolders = {_ini(_join(root, 'offlineimap'))}\n"
        "sep = /\n"
        "\n"
        f"[Repository {_NAME}-remote]\n"
        "type = IMAP\n"
        f"remotehost = {_ini(setup.host)}\n"
        f"remoteport = {setup.imaps_port}\n"
        f"remoteuser = {_ini(setup.user)}\n"
        "ssl = yes\n"
        "starttls = no\n"
        f"sslcacertfile = {_ini(str(setup.ca_file))}\n"
        "auth_mechanisms = XOAUTH2\n"
        "oauth2_access_token_eval = "
        + _ini(f'__import__("subprocess").check_output({command}, shell=True, text=True)')
        + "\n"
    )


CLIENTS: dict[str, Callable[[ClientSetup], str]] = {
    "mbsync": render_mbsync,
    "neomutt": render_neomutt,
    "offlineimap": render_offlineimap,
}


def render_all(setup: ClientSetup) -> dict[str, str]:
    """Every client's configuration, by client name (the keys of :data:`CLIENTS`)."""
    return {name: render(setup) for name, render in CLIENTS.items()}


def write_configurations(setup: ClientSetup) -> dict[str, str]:
    """Write every client's configuration where its header says: client name -> run command.

    ``setup.config_dir`` must be a real folder here (not ``~/...``): this writes files.
    """
    from o365imap._files import write_text_atomically  # noqa: PLC0415 - not stdlib-only

    commands = {}
    for name, text in render_all(setup).items():
        write_text_atomically(Path(setup.config_file(name)), text)
        commands[name] = run_command(text)
    return commands


def run_command(rendering: str) -> str:
    """The shell command a rendering's header says runs it."""
    return rendering.splitlines()[1].removeprefix("#").strip()
