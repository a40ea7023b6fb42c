"""The gallery as an installable web app: a manifest, its icons, a service worker and the page it shows offline.

A phone or a laptop can add the gallery to its home screen (``display: standalone``: no browser bars). The service
worker keeps one thing only, the offline page: pages are always fetched from the server (the gallery is live
widgets talking to a kernel, and photos are private), and when the server cannot be reached a navigation gets
the offline page instead of the browser's error. No photo, thumbnail or page of the library is ever stored by
the browser this way.

Everything here is served by small handlers of the gallery's own server (``server.py`` registers them), without
a session: a manifest, two icons, a script and a page that name nothing of the library. Each answer carries the
same strict headers as the sign-in page (``nosniff``, no framing); the offline page has no script at all.
"""
from __future__ import annotations

import functools
import io
import json

from tornado import web

from workbench.gallery import pages

#: Icon sizes the manifest lists (Chrome asks for 192 and 512 px to offer installation).
ICON_SIZES_PX = (192, 512)
#: The header's colour: the window's title bar and the splash screen match the app.
THEME_COLOR = "#161b26"
ACCENT = "#2f6fed"
#: The service worker's cache name; a new name drops old caches when the worker updates.
CACHE_NAME = "workbench-offline-v1"


def manifest() -> dict:
    """The web app manifest. Its addresses are relative to the manifest's own (``<base>manifest.webmanifest``),
    so the same text works under any base URL."""
    return {
        "name": "Workbench gallery", "short_name": "Workbench", "id": "./", "start_url": "./", "scope": "./",
        "display": "standalone", "background_color": THEME_COLOR, "theme_color": THEME_COLOR,
        "description": "Your photos and videos",
        # The mark sits in the middle 80 % on a full-bleed background: the same picture serves both purposes.
        "icons": [{"src": f"icons/icon-{n}.png", "sizes": f"{n}x{n}", "type": "image/png", "purpose": purpose}
                  for purpose in ("any", "maskable") for n in ICON_SIZES_PX],
    }


@functools.lru_cache(maxsize=len(ICON_SIZES_PX))
def icon_png(size_px: int) -> bytes:
    """The app icon (the header's ▣ mark: a photo frame with a mountain and a sun) as PNG, drawn with Pillow so no
    binary file has to be kept in step with the colours. Maskable: the mark stays inside the middle 80 %."""
    from PIL import Image, ImageDraw
    s = 4 * size_px                      # drawn large, then scaled down: smooth edges without anti-aliasing APIs
    im = Image.new("RGB", (s, s), THEME_COLOR)
    d = ImageDraw.Draw(im)
    m, w = int(s * 0.24), max(4, s // 22)
    d.rounded_rectangle((m, m, s - m, s - m), radius=s // 16, outline="#f2f4f7", width=w)
    inner = (m + 2 * w, m + 2 * w, s - m - 2 * w, s - m - 2 * w)
    x0, y0, x1, y1 = inner
    d.polygon([(x0, y1), (x0 + (x1 - x0) * 0.38, y0 + (y1 - y0) * 0.42), (x0 + (x1 - x0) * 0.62, y1)], fill=ACCENT)
    d.polygon([(x0 + (x1 - x0) * 0.45, y1), (x0 + (x1 - x0) * 0.72, y0 + (y1 - y0) * 0.55), (x1, y1)],
              fill="#8fb0f7")
    r = (x1 - x0) * 0.11
    cx, cy = x0 + (x1 - x0) * 0.74, y0 + (y1 - y0) * 0.26
    d.ellipse((cx - r, cy - r, cx + r, cy + r), fill="#fec84b")
    out = io.BytesIO()
    im.resize((size_px, size_px), Image.Resampling.LANCZOS).save(out, format="PNG", optimize=True)
    return out.getvalue()


def service_worker() -> str:
    """The service worker (served at ``<base>sw.js``, so its scope is the whole gallery): pages from the network,
    the offline page when the network fails. Nothing else is cached (no photo or page of the library stays on
    the device)."""
    cache = json.dumps(CACHE_NAME)
    return f"""'use strict';
const OFFLINE = new URL('offline', self.registration.scope).href;
const CACHE = {cache};
const FILES = new URL('workbench/', self.registration.scope).href;   // media and zip downloads: never touched
self.addEventListener('install', (event) => {{
  event.waitUntil(caches.open(CACHE).then((c) => c.add(new Request(OFFLINE, {{cache: 'reload'}})))
                  .then(() => self.skipWaiting()));
}});
self.addEventListener('activate', (event) => {{
  event.waitUntil(caches.keys().then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
                  .then(() => self.clients.claim()));
}});
self.addEventListener('fetch', (event) => {{
  // Only a page being opened; scripts, the widgets' websocket, media, downloads and forms go as usual.
  const r = event.request;
  if (r.mode !== 'navigate' || r.method !== 'GET' || r.url.startsWith(FILES)) return;
  event.respondWith(fetch(r).catch(() => caches.open(CACHE).then((c) => c.match(OFFLINE))));
}});
"""


def offline_page() -> str:
    """What a navigation shows when the server cannot be reached (no script: the link tries again; it is served
    at ``<base>offline``, so ``./`` is the gallery)."""
    return pages.page("Offline", (
        "<div class='icon'>⌁</div><h1>You are offline</h1>"
        "<p class='sub wb-offline-reason'>The gallery cannot reach its server. Your photos stay where they are; "
        "they will be here again as soon as this device is back online.</p>"
        f"<p><a class='wb-offline-retry' href='./'>Try again</a></p>"), "wb-offline-page")


# -- handlers (registered by server.py) ----------------------------------------------------------------------
class _Static(web.RequestHandler):
    """A fixed answer: nothing about the visitor or the library, strict headers."""

    content_type = "text/plain"
    cache = "no-cache"

    def set_default_headers(self) -> None:
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Referrer-Policy", "same-origin")
        self.set_header("Cache-Control", self.cache)

    def body(self, *args: str) -> bytes | str:
        raise NotImplementedError

    def get(self, *args: str) -> None:
        self.set_header("Content-Type", self.content_type)
        self.finish(self.body(*args))


class ManifestHandler(_Static):
    content_type = "application/manifest+json"

    def body(self) -> str:  # type: ignore[override]
        return json.dumps(manifest())


class IconHandler(_Static):
    content_type = "image/png"
    cache = "public, max-age=86400"

    def body(self, size: str) -> bytes:  # type: ignore[override]
        if int(size) not in ICON_SIZES_PX:
            raise web.HTTPError(404)
        return icon_png(int(size))


class ServiceWorkerHandler(_Static):
    content_type = "text/javascript; charset=utf-8"

    def set_default_headers(self) -> None:
        super().set_default_headers()
        # A worker may only do what its own script says: no other script, no frames, connections to this server.
        self.set_header("Content-Security-Policy", "default-src 'self'; script-src 'none'; frame-ancestors 'none'")

    def body(self) -> str:  # type: ignore[override]
        return service_worker()


class OfflineHandler(_Static):
    content_type = "text/html; charset=utf-8"

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Content-Security-Policy", pages.CSP)

    def body(self) -> str:  # type: ignore[override]
        return offline_page()


def routes(base_url: str) -> list[tuple]:
    """The web app's routes under ``base_url`` (the service worker sits at the top so it may serve every page)."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    return [(f"{base}manifest.webmanifest", ManifestHandler), (rf"{base}icons/icon-(\d+)\.png", IconHandler),
            (f"{base}sw.js", ServiceWorkerHandler), (f"{base}offline", OfflineHandler)]
