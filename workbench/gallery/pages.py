"""The gallery's plain pages: sign-in, a share link's password, a link that does not work, "busy", signed out.

They are served by the gallery's own Tornado handlers (``handlers.py``) without a kernel, so a visitor who is not
signed in costs one small HTML response. No script, no external resource; every value shown is escaped; forms
carry Tornado's XSRF token.
"""
from __future__ import annotations

from html import escape
from typing import Any

STYLE = """
:root { --bg:#f6f7f9; --panel:#fff; --ink:#1d2330; --muted:#667085; --line:#e4e7ec; --accent:#2f6fed;
        --danger:#c4320a; --ok:#067647; --header:#161b26; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
       font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; }
header { background:var(--header); color:#f2f4f7; padding:12px 18px; font-weight:650; }
main { display:flex; justify-content:center; padding:12vh 16px 24px; }
.card { width:100%; max-width:360px; background:var(--panel); border:1px solid var(--line); border-radius:12px;
        padding:24px; box-shadow:0 1px 2px rgba(16,24,40,.05); }
h1 { font-size:22px; margin:0 0 4px; }
p.sub { color:var(--muted); margin:0 0 16px; }
label { display:block; font-size:13px; color:var(--muted); margin:12px 0 4px; }
input[type=text], input[type=password] { width:100%; height:42px; border:1px solid var(--line); border-radius:8px;
        padding:0 12px; font-size:16px; background:#fff; }
button { width:100%; height:44px; margin-top:18px; border:0; border-radius:8px; background:var(--accent);
         color:#fff; font-size:16px; font-weight:600; cursor:pointer; }
button:focus-visible, input:focus-visible { outline:2px solid var(--accent); outline-offset:1px; }
.msg { border-radius:8px; padding:10px 12px; margin:0 0 8px; font-size:14px; }
.msg.error { background:#fef3f2; color:var(--danger); }
.msg.ok { background:#ecfdf3; color:var(--ok); }
.icon { font-size:40px; color:var(--muted); }
a { color:var(--accent); }
"""


#: The plain pages' policy: no script at all, inline style only, forms to this server, the web app's manifest
#: and icon (``webapp.py``) from this server.
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; manifest-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'")
#: The web app's links (relative: every plain page is served directly under the gallery's base URL).
HEAD_LINKS = ("<link rel='manifest' href='manifest.webmanifest'>"
              "<link rel='icon' type='image/png' sizes='192x192' href='icons/icon-192.png'>"
              "<link rel='apple-touch-icon' href='icons/icon-192.png'>"
              "<meta name='theme-color' content='#161b26'>")


def plain_page_headers(handler: Any, csp: str) -> None:
    """The headers of every page the gallery's own server writes (sign-in aside): never cached, never framed,
    never sniffed, no referrer off-site, and the page's own content security policy."""
    handler.set_header("Cache-Control", "no-store")
    handler.set_header("X-Frame-Options", "DENY")
    handler.set_header("Referrer-Policy", "same-origin")
    handler.set_header("X-Content-Type-Options", "nosniff")
    handler.set_header("Content-Security-Policy", csp)


def page(title: str, body: str, css_class: str = "") -> str:
    """A whole page around ``body`` (already escaped HTML)."""
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            "<meta name='referrer' content='same-origin'>" + HEAD_LINKS +
            f"<title>{escape(title)} · Workbench</title><style>{STYLE}</style></head>"
            f"<body class='{escape(css_class)}'><header>▣ Workbench</header><main><div class='card'>{body}</div></main>"
            "</body></html>")


def message(text: str, level: str = "error") -> str:
    return f"<div class='msg {escape(level)}' role='alert'>{escape(text)}</div>" if text else ""


def sign_in(*, action: str, xsrf_html: str, next_url: str = "", error: str = "", note: str = "",
            name: str = "") -> str:
    """The sign-in form. ``xsrf_html`` is Tornado's ``xsrf_form_html()`` (a hidden input)."""
    return page("Sign in", (
        "<h1>Sign in</h1><p class='sub'>Sign in to see your photos</p>"
        f"{message(note, 'ok')}{message(error)}"
        f"<form method='post' action='{escape(action)}' class='wb-login-form'>{xsrf_html}"
        f"<input type='hidden' name='next' value='{escape(next_url)}'>"
        "<label for='name'>User name</label>"
        f"<input id='name' type='text' name='name' value='{escape(name)}' autocomplete='username' "
        f"autocapitalize='none' spellcheck='false' required{'' if name else ' autofocus'}>"
        "<label for='password'>Password</label>"
        "<input id='password' type='password' name='password' autocomplete='current-password' required"
        f"{' autofocus' if name else ''}>"
        "<button type='submit' class='wb-login-submit'>Sign in</button></form>"))


def share_password(*, action: str, xsrf_html: str, token: str, error: str = "") -> str:
    """A protected share link asks for its password before any kernel starts."""
    return page("Shared album", (
        "<h1>Shared album</h1><p class='sub'>This link is protected: enter the password you were given.</p>"
        f"{message(error)}"
        f"<form method='post' action='{escape(action)}' class='wb-share-form'>{xsrf_html}"
        f"<input type='hidden' name='share' value='{escape(token)}'>"
        "<label for='password'>Password</label>"
        "<input id='password' type='password' name='password' autocomplete='off' required autofocus>"
        "<button type='submit' class='wb-share-open'>Open album</button></form>"))


def denied(reason: str) -> str:
    text = reason.strip()
    text = (text[:1].upper() + text[1:]) if text else "This link does not work."
    return page("Link not valid", (
        "<div class='icon'>⊘</div><h1>This link does not work</h1>"
        f"<p class='sub wb-denied-reason'>{escape(text)}</p>"
        "<p class='sub'>Share links can expire or be revoked by the album's owner. "
        "Ask whoever sent it for a new one.</p>"), "wb-denied-page")


def busy(reason: str, retry_url: str) -> str:
    return page("Busy", (
        "<h1>Busy, try again</h1>"
        f"<p class='sub wb-busy-reason'>{escape(reason[:1].upper() + reason[1:])}.</p>"
        f"<p><a href='{escape(retry_url)}'>Try again</a></p>"), "wb-busy-page")


def bad_host() -> str:
    return page("Unknown address", "<h1>Unknown address</h1><p class='sub'>This server does not answer to that "
                                   "name. Its administrator can allow it with <code>--allow-host</code>.</p>")
