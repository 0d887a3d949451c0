"""Dovecot's configuration for the sandbox and the test bed, in the language of the Dovecot found.

Dovecot speaks two configuration languages: 2.3 (Debian 12, Ubuntu 22.04 and 24.04) and 2.4
(Debian 13, Fedora, Homebrew), which renamed most settings and replaced the ``passdb { driver =
oauth2; args = FILE }`` file with global ``oauth2_*`` settings. Within each, one setting comes and
goes: the check of a token's ``aud`` claim (2.3's ``audience``, only since Debian's deb12u7
security update; 2.4's ``oauth2_audience``, a Debian patch). Which language and which settings a
Dovecot accepts is probed (:mod:`o365imap.sandbox.dovecot_probe`), never guessed from a version
string; this module only writes the text for a given :class:`Features`.

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
    "SPECIAL_USE",
    "Config",
    "Dialect",
    "Features",
    "Layout",
    "OAuthPolicy",
    "ProcessIdentity",
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
        "protocols = imap\n"
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
    main = f"""# Written by o365imap (Dovecot 2.3 language); rewritten on every start.
{_unchanged_settings(layout, who)}{ssl}disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
auth_failure_delay = 0
# the reason a token was refused is only ever in this log
auth_verbose = yes
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
  args = {v(layout.oauth2_file)}
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
userdb {{
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
"""
    # The oauth2 passdb reads this file in the auth process, at its start: doveconf never sees
    # it, which is why the probe has to start Dovecot to learn whether `audience` is known.
    oauth2 = (
        "introspection_mode = local\n"
        f"local_validation_key_dict = fs:posix:prefix={v(layout.keys_dir)}/\n"
        f"username_attribute = {v(oauth.username_attribute)}\n"
        f"issuers = {v(oauth.issuer)}\n"
        f"scope = {v(oauth.scope)}\n"
    )
    if features.audience:
        oauth2 += f"audience = {v(oauth.audience)}\n"
    return Config(main, {layout.oauth2_file: oauth2})


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
"""
    return Config(main)
