"""Dovecot's configuration for the sandbox and the test bed, in the language of the Dovecot found.

Dovecot speaks two configuration languages: 2.3 (Debian 12, Ubuntu 22.04 and 24.04) and 2.4
(Debian 13, Fedora, Homebrew), which renamed most settings and replaced the ``passdb { driver =
oauth2; args = FILE }`` file with global ``oauth2_*`` settings. Within each, one setting comes and
goes: the check of a token's ``aud`` claim (2.3's ``audience``, only since Debian's deb12u7
security update; 2.4's ``oauth2_audience``, a Debian patch). Which language and which settings a
Dovecot accepts is probed (:mod:`o365imap.sandbox.dovecot_probe`), never guessed from a version
string; this module only writes the text for a given :class:`Features`.

With a :class:`Submission`, Dovecot also plays smtp.office365.com: its submission service (plus
LMTP) wants its own scope, SMTP.Send, where IMAP wants IMAP.AccessAsUser.All. 2.3 can say so
(passdbs inside ``protocol`` sections, each protocol's oauth2 passdb with its own settings
file); 2.4 cannot (its XOAUTH2 reads only the global ``oauth2_*`` settings), so there
submission wants IMAP's scope. A per-mailbox switch turns SMTP AUTH off (a passwd-file per
user, read at each login, whose ``nologin`` refuses with Office 365's reason).

Everything here is stdlib only and touches no file: :func:`render` returns the text of
``dovecot.conf`` and of any file it names, for paths as Dovecot sees them (inside its root when
it runs chrooted). Comments in the generated text say why a setting differs from Dovecot's
defaults: mostly to make failures fast (no per-IP penalty, no 500 ms failure timer).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "SMTP_AUTH_DISABLED_ENV",
    "SMTP_AUTH_DISABLED_REASON",
    "SPECIAL_USE",
    "Config",
    "Dialect",
    "Features",
    "Layout",
    "OAuthPolicy",
    "ProcessIdentity",
    "Submission",
    "check_value",
    "passwd_line",
    "render",
]

Dialect = Literal["2.3", "2.4"]

# Special-use folders the sandbox's Dovecot config creates (RFC 6154); the seeded mailbox
# fills them.
SPECIAL_USE = {
    "Sent": "\\Sent",
    "Drafts": "\\Drafts",
    "Junk": "\\Junk",
    "Trash": "\\Trash",
    "Archive": "\\Archive",
}


# What Office 365 answers when an admin turned SMTP AUTH off for the mailbox
# (Set-CASMailbox -SmtpClientAuthenticationDisabled $true). Dovecot puts it after its own
# "525 5.7.13" (the reply for a passdb's nologin), so the client sees both codes.
SMTP_AUTH_DISABLED_REASON = (
    "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Mailbox"
)
# 2.3 splits a passdb's fields on spaces and has no quoting: the reason reaches the auth
# process through this environment variable instead (import_environment).
SMTP_AUTH_DISABLED_ENV = "O365IMAP_SMTP_AUTH_DISABLED"


@dataclass(frozen=True, slots=True)
class Features:
    """What the Dovecot found accepts: its configuration language and whether it checks ``aud``."""

    dialect: Dialect
    audience: bool
    version: str = ""

    def describe_audience(self) -> str:
        """How a token for another resource is refused, in words for a banner or ``doctor``."""
        if self.audience:
            return "Dovecot checks the token's audience (aud) itself"
        return (
            "this Dovecot cannot check the aud claim (no audience setting); the sandbox's "
            "tokens bind their scope to their audience, so Dovecot's scope check refuses a "
            "token for another resource"
        )


@dataclass(frozen=True, slots=True)
class Submission:
    """Dovecot's submission service, as smtp.office365.com: ports, scope, relay, switches."""

    port: int  # STARTTLS, as smtp.office365.com:587
    tls_port: int | None  # implicit TLS (465); None: no such listener
    relay_port: int  # the sandbox's relay on loopback: every accepted message goes there
    scope: str  # the full-URL scope a token needs here (SMTP.Send), instead of IMAP's
    disabled_dir: str  # one passwd-file per user whose SMTP AUTH is off (named lower-cased)
    oauth2_file: str  # 2.3 only: the submission oauth2 passdb's settings file
    max_mail_size: str = "35M"  # Office 365's default message size limit


@dataclass(frozen=True, slots=True)
class Layout:
    """Where things are, as paths seen by Dovecot, and the ports it listens on."""

    instance_name: str
    base_dir: str
    state_dir: str
    log_path: str
    keys_dir: str  # the key dictionary for local JWT validation: keys/<azp>/<ALG>/<kid>
    users_dir: str  # one passwd-file per user, named by the lower-cased user name
    mail_root: str  # users' homes; the mail processes' chroot when run as root
    oauth2_file: str  # 2.3 only: the oauth2 passdb's settings file
    imap_port: int
    imaps_port: int | None = None  # None: no implicit-TLS listener (the probe)
    tls: tuple[str, str] | None = None  # (certificate, key); None: ssl = no (the probe)
    host: str = "127.0.0.1"
    submission: Submission | None = None  # None: IMAP only (protocols = imap)


@dataclass(frozen=True, slots=True)
class OAuthPolicy:
    """What Dovecot requires of a token: issuer, one scope, the user claim, maybe the audience."""

    issuer: str
    scope: str
    audience: str
    username_attribute: str = "upn"


@dataclass(frozen=True, slots=True)
class ProcessIdentity:
    """Which users Dovecot's processes run as (see :mod:`o365imap.sandbox.dovecot` for why)."""

    as_root: bool
    login_user: str
    internal_user: str
    internal_group: str
    mail_uid: int  # Dovecot refuses uid 0 for mail: 5000 when run as root
    mail_gid: int


@dataclass(frozen=True, slots=True)
class Config:
    """``dovecot.conf`` and the other files it names, by path (as Dovecot sees it)."""

    main: str
    files: Mapping[str, str] = field(default_factory=dict)


def check_value(text: str) -> str:
    """``text`` if it can stand as a value in Dovecot's configuration, else ValueError.

    Dovecot's config syntax has no escaping we could rely on for odd paths: they are refused.
    """
    if not text or any(c.isspace() or c in '"#\\{}<$%' for c in text):
        raise ValueError(f"unsupported character in a value for Dovecot's config: {text!r}")
    return text


def _flag(flag: str) -> str:
    if not re.fullmatch(r"\\[A-Za-z]+", flag):
        raise ValueError(f"not a special-use flag: {flag!r}")
    return flag


def passwd_line(user: str, password_b64: str, identity: ProcessIdentity, mail_root: str) -> str:
    """A passwd-file line for ``user`` (lower case), whose password is given base64-encoded.

    ``{PLAIN.B64}`` lets a password contain ':' (the field separator). Run as root, the home is
    ``mail_root/./user``: Dovecot chroots to ``mail_root`` (as root) and uses ``/user`` inside.
    """
    if any(c in user for c in ":/\n\r\0") or not user.strip():
        raise ValueError(f"unusable user name for the passwd-file: {user!r}")
    home = f"{mail_root}/./{user}" if identity.as_root else f"{mail_root}/{user}"
    return (
        f"{user}:{{PLAIN.B64}}{password_b64}:{identity.mail_uid}:{identity.mail_gid}::"
        f"{check_value(home)}::\n"
    )


def render(
    features: Features,
    layout: Layout,
    oauth: OAuthPolicy,
    identity: ProcessIdentity,
    special_use: Mapping[str, str] = {},
) -> Config:
    """The configuration for ``features``' language, checking the audience where it can."""
    if features.dialect == "2.4":
        return _render_24(features, layout, oauth, identity, special_use)
    return _render_23(features, layout, oauth, identity, special_use)


# -- what both languages say alike ---------------------------------------------------------------


def _process_users(layout: Layout, identity: ProcessIdentity) -> tuple[str, str]:
    """The global user settings, and the imap-login service's chroot line."""
    v = check_value
    who = (
        f"default_login_user = {v(identity.login_user)}\n"
        f"default_internal_user = {v(identity.internal_user)}\n"
        f"default_internal_group = {v(identity.internal_group)}\n"
    )
    if identity.as_root:
        who += f"valid_chroot_dirs = {v(layout.mail_root)}\n"
        return who, ""  # keep Dovecot's chroot: the login user could not reach base_dir
    return who, "  chroot =\n"  # chroot needs root


def _unchanged_settings(layout: Layout, who: str) -> str:
    """The settings both languages name alike (2.4 keeps them from 2.3)."""
    v = check_value
    return (
        f"instance_name = {v(layout.instance_name)}\n"
        f"base_dir = {v(layout.base_dir)}\n"
        f"state_dir = {v(layout.state_dir)}\n"
        f"protocols = {'imap' if layout.submission is None else 'imap submission lmtp'}\n"
        f"listen = {v(layout.host)}\n"
        f"log_path = {v(layout.log_path)}\n"
        f"{who}first_valid_uid = 1\n"
    )


def _mailboxes(special_use: Mapping[str, str]) -> str:
    """The namespace's special-use folders (RFC 6154), made and subscribed on first login."""
    return "".join(
        f"  mailbox {check_value(name)} {{\n    special_use = {_flag(flag)}\n"
        "    auto = subscribe\n  }\n"
        for name, flag in special_use.items()
    )


def _submission_settings(sub: Submission, host: str) -> str:
    """The submission settings both languages name alike: limit and relay."""
    v = check_value
    return (
        "# Office 365's limit; Dovecot advertises it (SIZE) and refuses bigger messages itself\n"
        f"submission_max_mail_size = {v(sub.max_mail_size)}\n"
        "# every accepted message goes to the sandbox's relay (mailrelay.py): a trusted loopback\n"
        "# hop without TLS, told who logged in (XCLIENT LOGIN) because it is trusted\n"
        f"submission_relay_host = {v(host)}\n"
        f"submission_relay_port = {sub.relay_port}\n"
        "submission_relay_trusted = yes\n"
        "submission_relay_ssl = no\n"
    )


# -- 2.3 -----------------------------------------------------------------------------------------


def _render_23(
    features: Features,
    layout: Layout,
    oauth: OAuthPolicy,
    identity: ProcessIdentity,
    special_use: Mapping[str, str],
) -> Config:
    v = check_value
    who, login_chroot = _process_users(layout, identity)
    if layout.tls is None:
        ssl = "ssl = no\n"
    else:
        ssl = f"ssl = yes\nssl_cert = <{v(layout.tls[0])}\nssl_key = <{v(layout.tls[1])}\n"
    mailboxes = _mailboxes(special_use)
    imaps = ""
    if layout.imaps_port is not None:
        imaps = (
            "  inet_listener imaps {\n"
            f"    address = {v(layout.host)}\n"
            f"    port = {layout.imaps_port}\n"
            "    ssl = yes\n"
            "  }\n"
        )
    users = v(layout.users_dir)
    passdbs = _passdbs_23(v(layout.oauth2_file), users)
    files = {layout.oauth2_file: _oauth2_file_23(features, layout, oauth, oauth.scope)}
    submission = ""
    if layout.submission is not None:
        sub = layout.submission
        passdbs = _per_protocol_23(passdbs, sub, users)
        files[sub.oauth2_file] = _oauth2_file_23(features, layout, oauth, sub.scope)
        submission = _submission_23(layout, sub, login_chroot)
    main = f"""# Written by o365imap (Dovecot 2.3 language); rewritten on every start.
{_unchanged_settings(layout, who)}{ssl}disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
auth_failure_delay = 0
# the reason a token was refused is only ever in this log
auth_verbose = yes
{passdbs}userdb {{
  driver = passwd-file
  args = username_format=%Lu {users}/%Lu
}}
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
{mailboxes}}}
mail_fsync = never
# tests open many connections as one user at once
mail_max_userip_connections = 200
service imap-login {{
{login_chroot}  # one long-lived login process: 2.3.19.1's short-lived ones crash now and then
  # under many short sessions (pool_system_realloc, signal 11: about 1 login in 40)
  service_count = 0
  inet_listener imap {{
    address = {v(layout.host)}
    port = {layout.imap_port}
  }}
{imaps}}}
service anvil {{
  chroot =
  # renamed socket: login processes find no penalty service, so no per-IP failure delays
  unix_listener anvil-auth-penalty {{
    path = anvil-auth-penalty-disabled
  }}
}}
{submission}"""
    return Config(main, files)


def _oauth2_file_23(features: Features, layout: Layout, oauth: OAuthPolicy, scope: str) -> str:
    """An oauth2 passdb's settings file, requiring ``scope``.

    The passdb reads it in the auth process, at its start: doveconf never sees it, which is
    why the probe has to start Dovecot to learn whether `audience` is known.
    """
    v = check_value
    oauth2 = (
        "introspection_mode = local\n"
        f"local_validation_key_dict = fs:posix:prefix={v(layout.keys_dir)}/\n"
        f"username_attribute = {v(oauth.username_attribute)}\n"
        f"issuers = {v(oauth.issuer)}\n"
        f"scope = {v(scope)}\n"
    )
    if features.audience:
        oauth2 += f"audience = {v(oauth.audience)}\n"
    return oauth2


def _passdbs_23(oauth2_file: str, users: str) -> str:
    """IMAP's passdbs: tokens through the oauth2 passdb, passwords through the passwd-file."""
    return f"""\
# answers failed token logins at once (nodelay); authenticates nobody itself (continue)
passdb {{
  driver = static
  args = nopassword=y nodelay=y
  mechanisms = xoauth2 oauthbearer
  result_success = continue
}}
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {oauth2_file}
}}
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = username_format=%Lu {users}/%Lu
}}
# reached only after a failed password check: fail now instead of on the 500 ms timer
passdb {{
  driver = static
  args = nopassword=y nodelay=y
  mechanisms = plain login
  result_success = continue-fail
}}
"""


def _indent(text: str) -> str:
    return "".join(f"  {line}\n" if line else "\n" for line in text.splitlines())


def _per_protocol_23(imap_passdbs: str, sub: Submission, users: str) -> str:
    """IMAP's passdbs for IMAP only, and submission's own: its scope, its off switch.

    2.3 reads passdbs inside a protocol section for that protocol's logins; the auth process
    still needs one outside them (for other services), which decides nothing.
    """
    v = check_value
    smtp_passdbs = _passdbs_23(v(sub.oauth2_file), users).replace(
        "passdb {\n  driver = oauth2",
        _disabled_passdb_23(v(sub.disabled_dir)) + "passdb {\n  driver = oauth2",
        1,
    )
    return (
        "# each protocol's logins go through its own passdbs below; this one decides nothing\n"
        "passdb {\n  driver = static\n  args = nopassword=y nodelay=y\n"
        "  result_success = continue\n}\n"
        f"protocol imap {{\n{_indent(imap_passdbs)}}}\n"
        f"protocol submission {{\n{_indent(smtp_passdbs)}}}\n"
    )


def _disabled_passdb_23(disabled_dir: str) -> str:
    # A user listed here (a file holding "user::::::nopassword") matches whatever the token or
    # password, and nologin turns the match into a refusal with the reason (Office 365's
    # text); anyone else is not found and goes on to the token check.
    return f"""\
# SMTP AUTH turned off for a mailbox (Set-CASMailbox -SmtpClientAuthenticationDisabled)
passdb {{
  driver = passwd-file
  args = username_format=%Lu {disabled_dir}/%Lu
  override_fields = nologin=y reason=%{{env:{SMTP_AUTH_DISABLED_ENV}}}
  result_success = return-ok
  result_failure = continue
}}
"""


def _submission_23(layout: Layout, sub: Submission, login_chroot: str) -> str:
    v = check_value
    tls = ""
    if sub.tls_port is not None:
        tls = (
            "  inet_listener submissions {\n"
            f"    address = {v(layout.host)}\n"
            f"    port = {sub.tls_port}\n"
            "    ssl = yes\n"
            "  }\n"
        )
    return f"""{_submission_settings(sub, layout.host)}\
# the off switch's reason (see the submission passdbs), from Dovecot's environment
import_environment = $import_environment {SMTP_AUTH_DISABLED_ENV}
service submission-login {{
{login_chroot}  # one long-lived login process, as for imap-login
  service_count = 0
  inet_listener submission {{
    address = {v(layout.host)}
    port = {sub.port}
  }}
{tls}}}
"""


# -- 2.4 -----------------------------------------------------------------------------------------


def _render_24(
    features: Features,
    layout: Layout,
    oauth: OAuthPolicy,
    identity: ProcessIdentity,
    special_use: Mapping[str, str],
) -> Config:
    v = check_value
    who, login_chroot = _process_users(layout, identity)
    if layout.tls is None:
        ssl = "ssl = no\n"
    else:
        ssl = (
            "ssl = yes\n"
            f"ssl_server_cert_file = {v(layout.tls[0])}\n"
            f"ssl_server_key_file = {v(layout.tls[1])}\n"
        )
    mailboxes = _mailboxes(special_use)
    imaps = ""
    if layout.imaps_port is not None:
        imaps = f"  inet_listener imaps {{\n    port = {layout.imaps_port}\n    ssl = yes\n  }}\n"
    audience = f"oauth2_audience = {v(oauth.audience)}\n" if features.audience else ""
    users = v(layout.users_dir)
    submission = (
        "" if layout.submission is None else _submission_24(layout, layout.submission, login_chroot)
    )
    main = f"""# Written by o365imap (Dovecot 2.4 language); rewritten on every start.
dovecot_config_version = 2.4.0
dovecot_storage_version = 2.4.0
{_unchanged_settings(layout, who)}{ssl}auth_allow_cleartext = yes
auth_mechanisms = plain login xoauth2 oauthbearer
# every failure answered at once: in 2.4 this also turns off the per-IP penalty (2.3 needed
# nodelay passdbs and a renamed anvil socket for that)
auth_failure_delay = 0
# the reason a token was refused is only ever in this log
auth_verbose = yes
# XOAUTH2 and OAUTHBEARER read these global settings; no oauth2 passdb (2.4's would do a
# password grant against an OAuth server, not validate a token)
oauth2_introspection_mode = local
oauth2_username_attribute = {v(oauth.username_attribute)}
# the claim is compared with the (lower-cased) login name: lower it too, as 2.3 did
oauth2_username_validation_format = %{{user | lower}}
oauth2_issuers = {v(oauth.issuer)}
oauth2_scope = {v(oauth.scope)}
{audience}oauth2_local_validation {{
  dict fs {{
    fs posix {{
      prefix = {v(layout.keys_dir)}/
    }}
  }}
}}
passdb passwd-file {{
  passwd_file_path = {users}/%{{user | lower}}
  mechanisms_filter = plain login
}}
userdb passwd-file {{
  passwd_file_path = {users}/%{{user | lower}}
}}
mail_driver = maildir
mail_path = ~/Maildir
mail_fsync = never
namespace inbox {{
  inbox = yes
  separator = /
{mailboxes}}}
# tests open many connections as one user at once
mail_max_userip_connections = 200
service imap-login {{
{login_chroot}  # one long-lived login process, as in 2.3 (2.3's service_count = 0)
  restart_request_count = unlimited
  inet_listener imap {{
    port = {layout.imap_port}
  }}
{imaps}}}
{submission}"""
    return Config(main)


def _submission_24(layout: Layout, sub: Submission, login_chroot: str) -> str:
    """Submission in 2.4: the off switch and the listeners, but not its own scope.

    2.4's XOAUTH2 and OAUTHBEARER check a token against the global ``oauth2_*`` settings
    only: ``oauth2_scope`` inside ``protocol submission {}`` (bare or in an ``oauth2 {}``
    filter) is accepted by doveconf and ignored by the mechanism (tried on 2.4.1). So here
    submission wants IMAP's scope, not SMTP.Send.
    """
    v = check_value
    tls = ""
    if sub.tls_port is not None:
        tls = f"  inet_listener submissions {{\n    port = {sub.tls_port}\n    ssl = yes\n  }}\n"
    return f"""{_submission_settings(sub, layout.host)}protocol submission {{
  # SMTP AUTH turned off for a mailbox (Set-CASMailbox -SmtpClientAuthenticationDisabled): a
  # user with a file here (holding "user::::::nopassword") matches, and nologin turns the match
  # into a refusal with the reason; anyone else is not found and goes on
  passdb smtp_disabled {{
    driver = passwd-file
    passwd_file_path = {v(sub.disabled_dir)}/%{{user | lower}}
    result_success = return-ok
    result_failure = continue
    fields {{
      nologin = yes
      reason = {SMTP_AUTH_DISABLED_REASON}
    }}
  }}
}}
service submission-login {{
{login_chroot}  # one long-lived login process, as for imap-login
  restart_request_count = unlimited
  inet_listener submission {{
    port = {sub.port}
  }}
{tls}}}
"""
