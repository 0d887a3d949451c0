"""The identity emulator's web pages: sign-in and consent, device code entry, errors, form_post.

Plain functions from values to HTML text; every value is escaped here, so callers pass raw
strings. Pages carry no external resources (a sandbox works offline) and only one script, the
form_post auto-submit, allowed by a per-page CSP nonce.

Field names are part of the emulator's interface (tests and the headless "browser" fill them):
the sign-in form posts ``ctx`` (hidden), ``username``, ``password`` and a button ``action`` with
value ``accept`` or ``cancel``; the device-code form posts ``user_code``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from html import escape

__all__ = [
    "SCOPE_DESCRIPTIONS",
    "csp_header",
    "device_code_page",
    "error_page",
    "form_post_page",
    "index_page",
    "message_page",
    "new_nonce",
    "sign_in_page",
]

# What the consent screen says for the scopes people meet with IMAP (Entra's own wording).
SCOPE_DESCRIPTIONS: Mapping[str, str] = {
    "IMAP.AccessAsUser.All": "Read and write access to mailboxes via IMAP",
    "POP.AccessAsUser.All": "Read and write access to mailboxes via POP",
    "SMTP.Send": "Send emails from mailboxes using SMTP AUTH",
    "User.Read": "Sign you in and read your profile",
    "offline_access": "Maintain access to data you have given it access to",
    "openid": "Sign you in",
    "profile": "View your basic profile",
    "email": "View your email address",
}

_STYLE = """
:root { color-scheme: light dark; --accent: #0067b8; --muted: #666; --bad: #c50f1f; }
* { box-sizing: border-box; }
body { margin: 0; min-height: 100vh; display: flex; align-items: center; justify-content: center;
  font: 15px/1.45 "Segoe UI", system-ui, sans-serif; background: #f2f2f2; color: #1b1b1b; }
main { width: min(440px, 94vw); background: #fff; padding: 40px 44px 32px;
  box-shadow: 0 2px 6px rgba(0,0,0,.2); }
h1 { font-size: 24px; font-weight: 600; margin: 0 0 12px; }
.brand { font-size: 13px; color: var(--muted); margin-bottom: 18px; letter-spacing: .02em; }
label { display: block; margin: 14px 0 4px; font-size: 13px; color: var(--muted); }
input[type=text], input[type=email], input[type=password] { width: 100%; padding: 7px 2px;
  border: 0; border-bottom: 1px solid #666; font: inherit; background: transparent;
  color: inherit; }
input:focus { outline: none; border-bottom: 2px solid var(--accent); }
.perms { margin: 18px 0 6px; padding: 12px 14px; background: #f6f6f6; }
.perms ul { margin: 6px 0 0; padding-left: 18px; }
.perms code { display: block; font-size: 12px; color: var(--muted); overflow-wrap: anywhere; }
.error { color: var(--bad); margin: 10px 0 0; }
.buttons { display: flex; gap: 8px; justify-content: flex-end; margin-top: 26px; }
button { min-width: 108px; padding: 6px 12px; font: inherit; border: 1px solid #8a8a8a;
  background: #ccc; color: #000; cursor: pointer; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
.details { margin-top: 24px; font-size: 12px; color: var(--muted); word-break: break-all; }
.code { font-family: ui-monospace, monospace; font-size: 20px; letter-spacing: .12em; }
@media (prefers-color-scheme: dark) {
  body { background: #1b1b1b; color: #eee; } main { background: #2b2b2b; }
  .perms { background: #333; } button { background: #444; color: #eee; }
}
"""


def csp_header(script_nonce: str | None = None) -> tuple[str, str]:
    """The Content-Security-Policy for a page: no external anything, one allowed script."""
    script = f"'nonce-{script_nonce}'" if script_nonce else "'none'"
    return (
        "Content-Security-Policy",
        f"default-src 'none'; style-src 'unsafe-inline'; script-src {script}; "
        "base-uri 'none'; frame-ancestors 'none'",
    )


def _layout(title: str, body: str, *, brand: str = "o365imap identity emulator") -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>\n"
        f'<body><main><div class="brand">{escape(brand)}</div>\n{body}\n</main></body></html>\n'
    )


def _scope_items(scopes: Iterable[str]) -> str:
    items = []
    for scope in scopes:
        name = scope.rsplit("/", 1)[-1]
        text = SCOPE_DESCRIPTIONS.get(name, name)
        items.append(f"<li>{escape(text)} <code>{escape(scope)}</code></li>")
    return "".join(items)


def sign_in_page(
    *,
    action: str,
    ctx: str,
    app_name: str,
    client_id: str,
    scopes: Iterable[str],
    username: str = "",
    error: str | None = None,
    needs_consent: bool = True,
) -> str:
    """Sign-in and consent in one form (Entra shows them as two steps; one is enough here)."""
    heading = "Permissions requested" if needs_consent else "Signing in to"
    intro = (
        f"<p><strong>{escape(app_name)}</strong> would like to:</p>"
        if needs_consent
        else f"<p>Signing in to <strong>{escape(app_name)}</strong>, which will be able to:</p>"
    )
    error_html = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    autofocus_user = "" if username else " autofocus"
    autofocus_password = " autofocus" if username else ""
    body = f"""<h1>Sign in</h1>
<form method="post" action="{escape(action)}" id="signin">
<input type="hidden" name="ctx" value="{escape(ctx)}">
<label for="username">Email or phone</label>
<input type="email" id="username" name="username" value="{escape(username)}"
  autocomplete="username"{autofocus_user} required>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password"\
{autofocus_password}>
{error_html}
<section class="perms" aria-label="{escape(heading)}">
{intro}
<ul>{_scope_items(scopes)}</ul>
<p class="details">App ID: {escape(client_id)}</p>
</section>
<div class="buttons">
<button type="submit" name="action" value="cancel" formnovalidate>Cancel</button>
<button type="submit" name="action" value="accept" class="primary">Accept</button>
</div>
</form>"""
    return _layout("Sign in to your account", body)


def form_post_page(action: str, fields: Mapping[str, str], script_nonce: str) -> str:
    """The response_mode=form_post answer: a form that posts itself to the redirect URI.

    The visible button is for browsers without JavaScript (Entra hides it in a noscript).
    """
    hidden = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items()
    )
    body = f"""<h1>Signing you in…</h1>
<form method="post" action="{escape(action)}" id="response">{hidden}
<p>Returning to the application. If nothing happens, continue by hand.</p>
<div class="buttons"><button type="submit" class="primary">Continue</button></div>
</form>
<script nonce="{escape(script_nonce)}">document.getElementById("response").submit();</script>"""
    return _layout("Working…", body)


def error_page(
    *, title: str, description: str, details: Mapping[str, str], code: int | None = None
) -> str:
    """Entra's "Sorry, but we're having trouble signing you in" page, with troubleshooting ids."""
    rows = "".join(f"<div>{escape(k)}: {escape(v)}</div>" for k, v in details.items())
    code_attr = f' data-error-code="{code}"' if code is not None else ""
    body = f"""<h1>{escape(title)}</h1>
<p class="error" role="alert"{code_attr}>{escape(description)}</p>
<div class="details"><div>Troubleshooting details</div>{rows}</div>"""
    return _layout("Sign in to your account", body)


def device_code_page(*, action: str, user_code: str = "", error: str | None = None) -> str:
    error_html = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    body = f"""<h1>Enter code</h1>
<p>Enter the code displayed on your app or device.</p>
<form method="post" action="{escape(action)}">
<label for="user_code">Code</label>
<input type="text" id="user_code" name="user_code" value="{escape(user_code)}" class="code"
  autocomplete="off" autocapitalize="characters" spellcheck="false" autofocus required>
{error_html}
<div class="buttons"><button type="submit" class="primary">Next</button></div>
</form>"""
    return _layout("Enter code", body)


def message_page(title: str, text: str, *, error: bool = False) -> str:
    klass = ' class="error" role="alert"' if error else ""
    return _layout(title, f"<h1>{escape(title)}</h1>\n<p{klass}>{escape(text)}</p>")


def index_page(title: str, rows: Iterable[tuple[str, str]]) -> str:
    """A landing page for people who open the emulator's address by hand."""
    items = "".join(f"<dt>{escape(k)}</dt><dd><code>{escape(v)}</code></dd>" for k, v in rows)
    return _layout(title, f"<h1>{escape(title)}</h1>\n<dl>{items}</dl>")


def new_nonce() -> str:
    return secrets.token_urlsafe(16)
