"""Other mail clients against the sandbox, for real: Debian's mbsync, offlineimap3 and neomutt
run the configurations ``o365imap.sandbox.clients`` renders, saved and started as their first
lines say, with ``o365imap token`` as their password command, TLS checked against the sandbox's
CA, and XOAUTH2 validated by Dovecot.

What each client copied is compared with what the server holds, folder by folder, by the
multiset of Message-ID headers (the server's side listed with the project's own client). The
o365imap home has spaces, quotes, ``$``, a backquote, ``%`` and a backslash in its name, so the
token command only works if every format quoted it right; the clients run without the tests'
O365IMAP_* variables, so the command's own ``env`` settings are the ones that count.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from pathlib import Path

import pytest

from o365imap import open_profile
from o365imap.auth import ProfileStore, TokenStore
from o365imap.protocol.utf7 import decode_utf7
from o365imap.sandbox.clients import (
    ClientSetup,
    _neomutt_quote,
    render_mbsync,
    render_neomutt,
    render_offlineimap,
    token_command,
)
from o365imap.sandbox.environment import SANDBOX_USER, Sandbox
from o365imap.sandbox.tls import make_certificates
from test_signin import sign_in

pytestmark = pytest.mark.dovecot

APT_GET = (
    "apt-get install -y --no-install-recommends "
    "isync libsasl2-modules-kdexoauth2 neomutt offlineimap3 tmux"
)
MBSYNC = "/usr/bin/mbsync"
# Cyrus SASL's XOAUTH2 plugin, in the multiarch folder of this machine's architecture
XOAUTH2_PLUGIN = next(
    iter(glob.glob("/usr/lib/*/sasl2/libkdexoauth2.so")),
    "/usr/lib/x86_64-linux-gnu/sasl2/libkdexoauth2.so",
)
OFFLINEIMAP = "/usr/bin/offlineimap"
NEOMUTT = "/usr/bin/neomutt"
TMUX = "/usr/bin/tmux"
CLIENT_TIMEOUT = 120

# A folder's messages, as the multiset of their Message-ID headers (None: no such header).
Folders = dict[str, Counter[str | None]]


def need(*paths: str) -> None:
    missing = [path for path in paths if not os.path.exists(path)]
    if missing:
        pytest.skip(f"{', '.join(missing)} missing: run `{APT_GET}` (make test does)")


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(tmp_path_factory.mktemp("sandbox"), bulk_count=60, auto_approve=True) as box:
        yield box


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, box: Sandbox) -> Path:
    """A signed-in o365imap home whose path puts every format's quoting to the test: each
    client must hand the token command to ``sh`` intact, or it gets no token."""
    home = tmp_path_factory.mktemp("clients") / "o365imap home 'q' \"dq\" $HOME `x` 100% \\"
    home.mkdir()
    box.save_profile(ProfileStore(home / "profiles.toml"))
    sign_in(home, box)
    return home


def _message_id(header: bytes) -> str | None:
    value = BytesHeaderParser().parsebytes(header).get("Message-ID")
    return None if value is None else " ".join(str(value).split())


@pytest.fixture(scope="module")
def server_folders(box: Sandbox, home: Path) -> Folders:
    """Every selectable folder on the server and its messages' Message-IDs."""
    profiles = ProfileStore(home / "profiles.toml")
    tokens = TokenStore(home / "tokens.json", use_keyring=False)
    folders: Folders = {}
    with open_profile("sandbox", profiles=profiles, tokens=tokens) as client:
        for folder in client.list_folders():
            if not folder.selectable:
                continue
            ids: Counter[str | None] = Counter()
            if client.select(folder.name, readonly=True).exists:
                item = "BODY[HEADER.FIELDS (MESSAGE-ID)]"
                for fetch in client.iter_fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"):
                    ids[_message_id(fetch.items[item])] += 1
            folders[folder.name] = ids
    # The comparisons below mean little unless the hard cases are there to be copied.
    assert {"INBOX", "Bulk", "Sent", "Entwürfe", "Отчёты/2024", "日本語"} <= set(folders)
    assert sum(folders["Bulk"].values()) == 60
    return folders


def client_setup(
    box: Sandbox, home: Path, maildir: Path, ca_file: Path | None = None
) -> ClientSetup:
    command = token_command("sandbox", program=(sys.executable, "-m", "o365imap"))
    # The clients run without O365IMAP_*: the command carries the home it needs.
    env = ["env", f"O365IMAP_HOME={home}", "O365IMAP_TOKEN_STORE=file"]
    return ClientSetup(
        imap_port=box.dovecot.imap_port,
        imaps_port=box.dovecot.imaps_port,
        user=SANDBOX_USER,
        ca_file=ca_file or box.ca_file,
        token_command=shlex.join(env) + " " + command,
        maildir=maildir,
    )


def client_env(tmp_path: Path) -> dict[str, str]:
    """The clients' environment: a HOME of their own, none of the tests' O365IMAP_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("O365IMAP_")}
    env["HOME"] = str(tmp_path / "client home")
    os.makedirs(env["HOME"], exist_ok=True)
    return env


HEADER = re.compile(r"# Save as (\S+), then run\b[^\n]*:\n#   ([^\n]+)\n")


def install(rendering: str, env: dict[str, str]) -> str:
    """Do as a rendering's first two lines say: save it where they say (in the clients' HOME);
    the command they give, for ``sh``."""
    match = HEADER.match(rendering)
    assert match, rendering[:300]
    path = Path(env["HOME"], match.group(1).removeprefix("~/"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(rendering, encoding="utf-8")
    return match.group(2)


def read_maildirs(root: Path, decode: Callable[[str], str]) -> Folders:
    """Every Maildir below ``root`` (nested folders, ``INBOX`` at the top): name -> ids."""
    folders: Folders = {}
    for cur in root.rglob("cur"):
        mailbox = cur.parent
        name = "/".join(decode(part) for part in mailbox.relative_to(root).parts)
        ids: Counter[str | None] = Counter()
        for sub in ("cur", "new"):
            for path in (mailbox / sub).iterdir():
                ids[_message_id(path.read_bytes())] += 1
        folders[name] = ids
    return folders


def assert_same_folders(local: Folders, server: Folders) -> None:
    assert sorted(local) == sorted(server)
    for name, ids in server.items():
        assert sum(local[name].values()) == sum(ids.values()), name
        assert local[name] == ids, name


def log_size(box: Sandbox) -> int:
    return box.dovecot.log_path.stat().st_size


def logins_since(box: Sandbox, offset: int, service: str = "imap") -> list[str]:
    """Dovecot's log lines for ``service``'s logins (imap, submission) since ``offset``."""
    with open(box.dovecot.log_path, "rb") as log:
        log.seek(offset)
        lines = log.read().decode("utf-8", "replace").splitlines()
    return [line for line in lines if f"{service}-login: Info: Login:" in line]


def assert_xoauth2_over_tls(logins: list[str]) -> None:
    """Dovecot's own record of each login: the mechanism, and TLS on the connection."""
    assert logins, "the client never logged in"
    for line in logins:
        assert f"user=<{SANDBOX_USER}>" in line, line
        assert "method=XOAUTH2" in line, line
        assert ", TLS," in line, line


def run_client(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, env=env, capture_output=True, text=True, timeout=CLIENT_TIMEOUT, check=False
    )


# ---------------------------------------------------------------- mbsync and offlineimap3


@dataclass(frozen=True)
class Syncer:
    """A client that copies the mailbox into a Maildir, saved and run as its rendering says."""

    name: str
    render: Callable[[ClientSetup], str]
    needs: tuple[str, ...]
    decode: Callable[[str], str]  # an on-disk folder name -> the server's

    def run(self, setup: ClientSetup, tmp_path: Path) -> subprocess.CompletedProcess[str]:
        need(*self.needs)
        env = client_env(tmp_path)
        return run_client(["sh", "-c", install(self.render(setup), env)], env)

    def maildir(self, setup: ClientSetup) -> Path:
        assert setup.maildir is not None
        return setup.maildir / self.name


SYNCERS = [
    Syncer(
        "mbsync",
        render_mbsync,
        (MBSYNC, XOAUTH2_PLUGIN),
        lambda part: decode_utf7(part.encode()),  # isync 1.4 keeps modified UTF-7 on disk
    ),
    Syncer(
        "offlineimap",
        render_offlineimap,
        (OFFLINEIMAP,),
        lambda part: part,  # utf8foldernames
    ),
]


@pytest.mark.parametrize("syncer", SYNCERS, ids=lambda syncer: syncer.name)
def test_every_message_of_every_folder_is_copied(
    syncer: Syncer, box: Sandbox, home: Path, server_folders: Folders, tmp_path: Path
) -> None:
    setup = client_setup(box, home, tmp_path / "mail dir")
    offset = log_size(box)
    result = syncer.run(setup, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert_xoauth2_over_tls(logins_since(box, offset))
    assert_same_folders(read_maildirs(syncer.maildir(setup), syncer.decode), server_folders)


@pytest.mark.parametrize("syncer", SYNCERS, ids=lambda syncer: syncer.name)
def test_a_certificate_from_another_ca_is_refused(
    syncer: Syncer, box: Sandbox, home: Path, tmp_path: Path
) -> None:
    """The CA file is what vouches for the server: with another CA's file the client stops
    before it logs in (so the runs above were verified against the sandbox's CA)."""
    other_ca, _, _ = make_certificates(tmp_path / "other-ca")
    setup = client_setup(box, home, tmp_path / "mail", ca_file=other_ca)
    offset = log_size(box)
    result = syncer.run(setup, tmp_path)
    assert result.returncode != 0
    assert "unable to get local issuer certificate" in result.stdout + result.stderr
    assert logins_since(box, offset) == []


# ---------------------------------------------------------------- neomutt


def _neomutt_values(output: str) -> dict[str, str]:
    """``neomutt -Q`` prints ``set name = "value"`` (``"`` and ``\\`` escaped) or ``name = yes``."""
    values = {}
    for line in output.splitlines():
        name, _, value = line.removeprefix("set ").partition(" = ")
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        values[name] = value
    return values


def test_a_value_no_format_can_carry_is_refused() -> None:
    setup = ClientSetup(
        imap_port=143,
        imaps_port=993,
        user="adele.vance@contoso.example",
        ca_file=Path("/ca.pem"),
        token_command="o365imap token\nrm -rf ~",
    )
    for render in (render_mbsync, render_neomutt, render_offlineimap):
        with pytest.raises(ValueError, match="control character"):
            render(setup)


def test_neomutt_reads_its_configuration_back_as_written(tmp_path: Path) -> None:
    """Every line is accepted, and what neomutt holds is what was meant, hostile characters
    included: its double quotes would otherwise expand ``$`` and backquotes."""
    need(NEOMUTT)
    setup = ClientSetup(
        imap_port=143,
        imaps_port=993,
        user="adele.vance@contoso.example",
        ca_file=tmp_path / "a 'b' \"c\" $d `e` 100% \\f" / "ca.pem",
        token_command=shlex.join(["env", "X=a 'b' \"c\" $HOME `id` 100% \\", "o365imap", "token"]),
    )
    config = tmp_path / "neomuttrc"
    config.write_text(render_neomutt(setup), encoding="utf-8")
    expected = {
        "imap_user": setup.user,
        "imap_authenticators": "xoauth2",
        "imap_oauth_refresh_command": setup.token_command,
        "ssl_force_tls": "yes",
        "ssl_ca_certificates_file": str(setup.ca_file),
        "folder": "imaps://localhost:993/",
        "spool_file": "imaps://localhost:993/INBOX",
        "imap_check_subscribed": "yes",
    }
    args = [NEOMUTT, "-n", "-F", str(config), *(a for name in expected for a in ("-Q", name))]
    result = run_client(args, client_env(tmp_path))
    # neomutt exits 0 even when a line of the file is wrong: only stderr tells.
    assert (result.returncode, result.stderr) == (0, "")
    assert _neomutt_values(result.stdout) == expected


class Neomutt:
    """neomutt in a private tmux server, in a 160x40 window, its rendering saved and run as its
    first lines say. A ``with`` block kills the server at the end, whatever happened."""

    def __init__(self, rendering: str, tmp_path: Path) -> None:
        # -L: a socket of its own in tmux's short folder (a socket path in tmp_path could pass
        # the 108-byte limit of Unix socket names).
        self.server = f"o365imap-test-{os.getpid()}-{tmp_path.name}"
        self.env = dict(client_env(tmp_path), LANG="C.UTF-8")
        # The shell line keeps the window open after neomutt ends, to read how it ended.
        line = install(rendering, self.env) + '; echo "[neomutt exited: $?]"; sleep 60'
        self.tmux("new-session", "-d", "-x", "160", "-y", "40", line)
        self.socket = Path(self.tmux("display-message", "-p", "#{socket_path}").strip())

    def tmux(self, *args: str) -> str:
        result = subprocess.run(
            [TMUX, "-L", self.server, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return result.stdout

    def keys(self, keys: str) -> None:
        self.tmux("send-keys", keys)

    def wait_for(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.tmux("capture-pane", "-p")
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared; the screen:\n{screen}")
            time.sleep(0.1)

    def __enter__(self) -> Neomutt:
        return self

    def __exit__(self, *exc: object) -> None:
        subprocess.run([TMUX, "-L", self.server, "kill-server"], env=self.env, check=False)
        self.socket.unlink(missing_ok=True)  # tmux leaves it behind


def test_neomutt_opens_the_inbox_over_tls_with_xoauth2(
    box: Sandbox, home: Path, server_folders: Folders, tmp_path: Path
) -> None:
    """The index of INBOX, with the server's count in the status line, and no question asked
    on the way (a certificate it could not verify would have stopped it with one)."""
    need(NEOMUTT, TMUX)
    rendering = render_neomutt(client_setup(box, home, tmp_path / "mail"))
    offset = log_size(box)
    with Neomutt(rendering, tmp_path) as neomutt:
        neomutt.wait_for(f"NeoMutt: +INBOX [Msgs:{sum(server_folders['INBOX'].values())} ")
        neomutt.keys("q")
        neomutt.wait_for("[neomutt exited: 0]")
    assert_xoauth2_over_tls(logins_since(box, offset))


def test_neomutt_asks_before_trusting_a_certificate_from_another_ca(
    box: Sandbox, home: Path, tmp_path: Path
) -> None:
    """The CA file is what vouches for the server: with another CA's file, neomutt stops to ask
    (so the test above, where it asked nothing, was verified against the sandbox's CA)."""
    need(NEOMUTT, TMUX)
    other_ca, _, _ = make_certificates(tmp_path / "other-ca")
    rendering = render_neomutt(client_setup(box, home, tmp_path / "mail", ca_file=other_ca))
    offset = log_size(box)
    with Neomutt(rendering, tmp_path) as neomutt:
        neomutt.wait_for("(r)eject, accept (o)nce")
        neomutt.keys("r")
        neomutt.wait_for("Unable to open mailbox")
        neomutt.keys("q")
        neomutt.wait_for("[neomutt exited: 0]")
    assert logins_since(box, offset) == []


def neomutt_sending(box: Sandbox, setup: ClientSetup, mechanism: str = "xoauth2") -> str:
    """The lines that would make neomutt send through the sandbox's submission service
    (STARTTLS, ``mechanism``, the IMAP token command); see the test below for why the renderings
    leave them out."""
    q = _neomutt_quote
    return (
        f"set smtp_url={q(f'smtp://{setup.host}:{box.smtp_port}/')}\n"
        f"set smtp_user={q(setup.user)}\n"
        f"set smtp_authenticators={q(mechanism)}\n"
        f"set smtp_oauth_refresh_command={q(setup.token_command)}\n"
        f"set from={q(setup.user)}\n"
        "set copy=no\n"  # the server files the Sent copy itself, as Exchange does
    )


@pytest.mark.parametrize(
    ("mechanism", "refusal"),
    [
        ("xoauth2", "SMTP session failed: 500 5.5.2 Line too long"),
        ("oauthbearer", "OAUTH token is too big"),
    ],
)
def test_neomutt_cannot_send_through_dovecots_submission(
    mechanism: str, refusal: str, box: Sandbox, home: Path, tmp_path: Path
) -> None:
    """Why the neomutt rendering does not send. neomutt (Debian 12's 20220429, and upstream's
    send/smtp.c still) always puts XOAUTH2's token on the AUTH line itself
    (``AUTH XOAUTH2 <initial response>``), never after a ``334``. Dovecot's submission-login
    takes at most 1,025 bytes of command parameters (LOGIN_MAX_INBUF_SIZE; 8,192 only for a
    response after ``334``), and a token of Entra's size (the sandbox's are about 1,500
    characters) makes the line twice that: ``500 5.5.2 Line too long``, before any login.
    OAUTHBEARER is no way out: neomutt refuses any token over 512 bytes for it, before it
    sends AUTH.

    Should this test fail because the message went, neomutt learnt to wait for the ``334``:
    add :func:`neomutt_sending`'s lines to ``render_neomutt`` and turn this into a test that
    the message arrives in INBOX with a copy in Sent."""
    need(NEOMUTT)
    env = dict(client_env(tmp_path), LANG="C.UTF-8")
    setup = client_setup(box, home, tmp_path / "mail")
    command = install(render_neomutt(setup) + neomutt_sending(box, setup, mechanism), env)
    subject = f"neomutt sends {tmp_path.name}"
    offset = log_size(box)
    result = subprocess.run(
        ["sh", "-c", f"{command} -s {shlex.quote(subject)} -- {shlex.quote(SANDBOX_USER)}"],
        input="Sent by neomutt through the sandbox's submission service.\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"Authenticating ({mechanism.upper()})..." in result.stdout
    assert refusal in result.stderr
    assert logins_since(box, offset, "submission") == []
    profiles = ProfileStore(home / "profiles.toml")
    tokens = TokenStore(home / "tokens.json", use_keyring=False)
    with open_profile("sandbox", profiles=profiles, tokens=tokens) as client:
        for folder in ("INBOX", "Sent"):
            client.select(folder, readonly=True)
            assert client.find(subject=subject) == [], folder


# ---------------------------------------------------------------- what users are given


def test_the_readme_shows_what_the_sandbox_writes() -> None:
    """README's three configurations are the renderings, for the ports it names."""
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    setup = ClientSetup(
        imap_port=10143,
        imaps_port=10993,
        user=SANDBOX_USER,
        ca_file=Path("~/.local/share/o365imap/sandbox/tls/ca.pem"),
        token_command="o365imap token --profile sandbox",
    )
    for heading, render in (
        ("#### mbsync (isync 1.4)", render_mbsync),
        ("#### neomutt", render_neomutt),
        ("#### offlineimap3", render_offlineimap),
    ):
        block = re.search(re.escape(heading) + r"\n\n```\w*\n(.*?)```", readme, re.S)
        assert block, heading
        assert block.group(1) == render(setup), heading


def test_the_sandbox_command_writes_what_its_banner_runs(tmp_path: Path) -> None:
    """`o365imap sandbox` writes the three files for its ports; the banner's mbsync command,
    run as printed, copies the mailbox."""
    need(MBSYNC, XOAUTH2_PLUGIN)
    from test_sandbox_cmd import _approve
    from test_signin import Login, SandboxProcess

    home = tmp_path / "home"
    box = SandboxProcess(home, tmp_path / "box", "--messages", "5")
    try:
        tls = box.port("TLS")
        for name in ("mbsync", "neomutt", "offlineimap"):
            written = (home / f"sandbox.{name}rc").read_text(encoding="utf-8")
            assert str(tls) in written, name
            assert f"{name}:" in box.banner
        login = Login(home, "login", "--profile", "sandbox", "--no-browser")
        assert _approve(home, login.wait_url()).returncode == 0
        assert login.finish()[0] == 0
        command = re.search(r"mbsync:\s+(.+)", box.banner)
        assert command, box.banner
        env = client_env(tmp_path)
        result = run_client(["sh", "-c", command.group(1)], env)
        assert result.returncode == 0, result.stdout + result.stderr
        inbox = Path(env["HOME"], "Mail/o365imap-sandbox/mbsync/INBOX/cur")
        assert len(list(inbox.iterdir())) > 0
    finally:
        box.stop()
