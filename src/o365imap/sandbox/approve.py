"""An HTTP client standing in for a person's browser on the emulator's sign-in pages.

``make demo`` and tests without Chromium use it to complete a real authorization-code flow:
it opens the sign-in URL, fills the form that asks for a password, presses the button that
accepts (or the one that cancels), and submits the auto-posting form that carries the code
to the program's loopback listener, exactly as a browser would. It reads the pages' forms
rather than knowing the emulator's field names, so it also works on other simple pages.
"""

from __future__ import annotations

import html
import re
import sys
import urllib.parse
from dataclasses import dataclass, field
from html.parser import HTMLParser

import requests

__all__ = ["Form", "approve_sign_in", "parse_forms"]

_ACCEPT_WORDS = ("accept", "yes", "approve", "continue", "sign in", "next", "submit", "allow")
_DECLINE_WORDS = ("cancel", "decline", "deny", "no")


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    password_fields: list[str] = field(default_factory=list)
    text_fields: list[str] = field(default_factory=list)
    buttons: list[tuple[str | None, str | None, str]] = field(default_factory=list)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._button: tuple[str | None, str | None] | None = None
        self._button_text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms.append(Form(a.get("action") or "", (a.get("method") or "get").lower()))
            return
        if not self.forms:
            return
        form = self.forms[-1]
        if tag == "input":
            kind = (a.get("type") or "text").lower()
            name = a.get("name")
            if kind in ("submit", "button"):
                form.buttons.append((name, a.get("value"), a.get("value") or ""))
            elif name:
                if kind in ("checkbox", "radio") and "checked" not in a:
                    return
                form.fields[name] = a.get("value") or ""
                if kind == "password":
                    form.password_fields.append(name)
                elif kind in ("text", "email"):
                    form.text_fields.append(name)
        elif tag == "button":
            self._button = (a.get("name"), a.get("value"))
            self._button_text = ""

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button_text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None and self.forms:
            name, value = self._button
            self.forms[-1].buttons.append((name, value, self._button_text.strip()))
            self._button = None


def parse_forms(html_text: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html_text)
    return parser.forms


def _choose_button(form: Form, decline: bool) -> tuple[str | None, str | None] | None:
    words = _DECLINE_WORDS if decline else _ACCEPT_WORDS
    for name, value, label in form.buttons:
        text = " ".join(x for x in (name, value, label) if x).lower()
        if any(word in text for word in words):
            return name, value
    if decline:
        return None
    return (form.buttons[0][0], form.buttons[0][1]) if form.buttons else (None, None)


def _submit(
    session: requests.Session, page_url: str, form: Form, button: tuple[str | None, str | None]
) -> requests.Response:
    data = dict(form.fields)
    name, value = button
    if name:
        data[name] = value or ""
    target = urllib.parse.urljoin(page_url, form.action or page_url)
    if form.method == "post":
        return session.post(target, data=data, timeout=30)
    return session.get(target, params=data, timeout=30)


def approve_sign_in(
    url: str,
    *,
    username: str,
    password: str,
    ca_file: str | None = None,
    decline: bool = False,
    fields: dict[str, str] | None = None,
    max_steps: int = 6,
) -> requests.Response:
    """Walk the sign-in pages from ``url`` until the redirect reaches the loopback listener.

    ``fields`` fills named inputs first (a device code's ``user_code``). Returns the last
    response (the listener's "Authorization successful/failed" page).
    """
    session = requests.Session()
    session.trust_env = False  # the emulator and the listener are local: no proxies
    if ca_file:
        session.verify = ca_file
    response = session.get(url, timeout=30)
    for _ in range(max_steps):
        host = urllib.parse.urlsplit(response.url).hostname or ""
        if host in ("localhost", "127.0.0.1", "::1") and response.url.startswith("http://"):
            return response  # the program's own listener answered
        forms = parse_forms(response.text)
        if not forms:
            return response
        form = next((f for f in forms if f.password_fields), forms[0])
        for name, value in (fields or {}).items():
            if name in form.fields:
                form.fields[name] = value
        for name in form.password_fields:
            form.fields[name] = password
        for name in form.text_fields:
            if not form.fields.get(name):
                form.fields[name] = username
        button = _choose_button(form, decline)
        if button is None:
            return response
        response = _submit(session, response.url, form, button)
    return response


# -- from a shell: python -m o365imap.sandbox.approve URL|CODE ----------------------------------


def main(argv: list[str] | None = None) -> int:
    """Finish a sandbox sign-in without a browser: ``URL`` from ``login --no-browser``, or the
    ``CODE`` a device-code sign-in shows. Signs in as the sandbox's user and accepts."""
    import argparse  # noqa: PLC0415 - the command line only

    from o365imap.auth import ProfileStore  # noqa: PLC0415
    from o365imap.errors import O365ImapError  # noqa: PLC0415
    from o365imap.sandbox.environment import SANDBOX_PASSWORD, SANDBOX_USER  # noqa: PLC0415

    parser = argparse.ArgumentParser(
        prog="python -m o365imap.sandbox.approve",
        description="Finish a sign-in at the o365imap sandbox from a shell, as its user.",
    )
    parser.add_argument("target", help="the sign-in URL (login --no-browser), or a device code")
    parser.add_argument("--profile", default="sandbox", help="the sandbox's profile [sandbox]")
    parser.add_argument("--user", default=SANDBOX_USER, help=f"who signs in [{SANDBOX_USER}]")
    parser.add_argument(
        "--password", default=SANDBOX_PASSWORD, help=f"their password [{SANDBOX_PASSWORD}]"
    )
    parser.add_argument("--decline", action="store_true", help="press Cancel instead")
    args = parser.parse_args(argv)
    try:
        profile = ProfileStore().get(args.profile)
    except O365ImapError:
        print(
            f"approve: no profile {args.profile!r}: start `o365imap sandbox` first (it saves "
            "the profile), then sign in with `o365imap login --profile sandbox --no-browser`",
            file=sys.stderr,
        )
        return 1
    fields: dict[str, str] = {}
    url = args.target
    if "://" not in url:
        # A device code: the sandbox's device login page, on its sign-in service.
        parts = urllib.parse.urlsplit(profile.authority_url)
        url = f"{parts.scheme}://{parts.netloc}/devicelogin"
        fields["user_code"] = args.target
    try:
        answer = approve_sign_in(
            url,
            username=args.user,
            password=args.password,
            ca_file=profile.ca_file,
            decline=args.decline,
            fields=fields,
        )
    except requests.RequestException as exc:
        print(f"approve: the sign-in service did not answer: {exc}", file=sys.stderr)
        return 3
    said = _page_words(answer.text)
    print(said)
    # The loopback listener's "Authorization successful", the device page's "You have signed in"
    done = answer.ok and any(w in said for w in ("Authorization successful", "You have signed in"))
    return 0 if done else 1


def _page_words(page: str) -> str:
    """The visible text of a small page, on one line."""
    text = re.sub(r"(?s)<(script|style|title)\b.*?</\1>|<[^>]+>", " ", page)
    return " ".join(html.unescape(text).split())[:300]


if __name__ == "__main__":
    sys.exit(main())
