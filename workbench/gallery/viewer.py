"""The full-size viewer: preview (or the video itself), metadata, previous / next, download of the original.

It shows one position of a result list and walks the whole list (not only the tiles already loaded). Arrow keys
and Escape work through the page script, which clicks the same buttons. Pictures travel through the widget
channel (the 1440 px WebP preview); a video and the download go over HTTP through a signed, expiring link that is
made only after the acting user's view returned the original, i.e. after its permission check.
"""
from __future__ import annotations

import base64
from pathlib import Path
from typing import Any, Callable

import ipywidgets as W

from workbench.errors import AuthError
from workbench.gallery import links
from workbench.gallery.manage import viewer_actions
from workbench.gallery.ui import classes, esc, exposure, human_date, human_duration, human_size, missing

#: Video MIME types Chromium, Firefox and Safari play in a <video> element (others get a download button).
PLAYABLE_VIDEO = frozenset({"video/mp4", "video/webm", "video/ogg"})


class Viewer(W.Box):
    """An overlay that shows ``ids[index]`` through ``view`` (a UserView or an AlbumView).

    ``run(fn)`` is the app's action wrapper (session expiry, errors as messages); ``link_ttl_s`` is how long
    a video or download link works.
    """

    def __init__(self, run: Callable[[Callable[[], None]], None], *, link_ttl_s: float = links.DEFAULT_LINK_TTL_S):
        self._run = run
        self.link_ttl_s = link_ttl_s
        self.view: Any = None
        self.ids: list[str] = []
        self.index = 0
        self.on_close: Callable[[], None] | None = None
        #: Called after a favourite or trash click here changed what the page behind shows.
        self.on_change: Callable[[], None] | None = None
        self.picture = W.Image(format="webp")
        self.video = W.HTML("")
        self.info = classes(W.VBox([]), "wb-info")
        self.prev_btn = classes(W.Button(description="‹", tooltip="Previous (←)"), "wb-nav-btn", "wb-prev")
        self.next_btn = classes(W.Button(description="›", tooltip="Next (→)"), "wb-nav-btn", "wb-next")
        self.close_btn = classes(W.Button(description="✕  Close", tooltip="Close (Esc)"), "wb-close")
        self.prev_btn.on_click(lambda _b: self._run(lambda: self.step(-1)))
        self.next_btn.on_click(lambda _b: self._run(lambda: self.step(+1)))
        self.close_btn.on_click(lambda _b: self._run(self.hide))
        # The download at the top of the picture, reachable without scrolling the facts on a phone.
        self.download_top = classes(W.HTML(""), "wb-download-top")
        self.stage = classes(W.Box([self.picture, self.video, self.download_top, self.prev_btn, self.next_btn,
                                    self.close_btn]), "wb-stage")
        super().__init__([self.stage, self.info])
        self.add_class("wb-viewer")
        self.layout.display = "none"

    # -- navigation -----------------------------------------------------------------------------------------
    def show_media(self, view: Any, ids: list[str], index: int) -> None:
        self.view, self.ids, self.index = view, list(ids), index
        self._show()
        self.layout.display = ""

    def step(self, delta: int) -> None:
        if self.ids and 0 <= self.index + delta < len(self.ids):
            self.index += delta
            self._show()

    def hide(self) -> None:
        self.layout.display = "none"
        self.video.value = ""          # stops playback
        self.picture.value = b""
        if self.on_close:
            self.on_close()

    @property
    def is_open(self) -> bool:
        return self.layout.display != "none"

    # -- rendering ------------------------------------------------------------------------------------------
    def _show(self) -> None:
        mid = self.ids[self.index]
        row = self.view.get(mid)
        preview = self.view.thumbnail(mid, "preview")
        self.prev_btn.disabled = self.index == 0
        self.next_btn.disabled = self.index >= len(self.ids) - 1
        secret = links.kernel_secret()
        original_url = download_url = None
        if secret:
            self.view.original_path(mid)    # the permission check (raises for media outside the view)
            actor = links.kernel_actor()    # the media handler serves the link to this visitor only
            original_url = links.media_url(links.sign(secret, mid, ttl_s=self.link_ttl_s, actor=actor))
            download_url = links.media_url(links.sign(secret, mid, download=True, ttl_s=self.link_ttl_s,
                                                      actor=actor))
        if row.get("kind") == "video":
            self.picture.layout.display = "none"
            self.video.layout.display = ""
            self.video.value = self._video_html(row, preview, original_url)
            self.picture.value = b""
        else:
            self.video.layout.display = "none"
            self.video.value = ""
            self.picture.layout.display = ""
            self.picture.value = preview or b""
        self.download_top.value = (f"<a class='wb-download-btn' href='{esc(download_url)}' download "
                                   f"title='Download the original'>⤓ Download</a>" if secret else "")
        parts = [W.HTML(self._info_html(row))]
        actions = viewer_actions(self, mid)     # favourite, trash (a signed-in visitor only)
        if actions is not None:
            parts.append(actions)
        extra = self._extra_html(mid)
        if extra:
            parts.append(W.HTML(extra))
        parts.append(W.HTML(f"<a class='wb-download' href='{esc(download_url)}' download>Download original</a>"
                            if secret else "<div class='wb-sub'>Downloads work when the gallery runs with "
                                           "<code>workbench gallery</code>.</div>"))
        self.info.children = parts

    def _video_html(self, row: dict, poster: bytes | None, url: str | None) -> str:
        poster_attr = (f" poster='data:image/webp;base64,{base64.b64encode(poster).decode()}'" if poster else "")
        mime = str(row.get("mime") or "")
        if url is None:
            return "<div class='wb-notice'>Videos play when the gallery runs with <code>workbench gallery</code>.</div>"
        if mime not in PLAYABLE_VIDEO:
            img = f"<img src='data:image/webp;base64,{base64.b64encode(poster).decode()}'>" if poster else ""
            return (f"{img}<div class='wb-notice'>This video is {esc(mime or 'in an unknown format')}, which browsers "
                    f"do not play: download the original to watch it.</div>")
        return (f"<video class='wb-video' controls preload='metadata' playsinline{poster_attr}>"
                f"<source src='{esc(url)}' type='{esc(mime)}'></video>")

    def _info_html(self, row: dict) -> str:
        name = Path(str(row.get("path") or "")).name or row.get("id", "")
        cam = " ".join(str(v) for v in (row.get("camera_make"), row.get("camera_model")) if not missing(v))
        dims = (f"{int(row['width'])} × {int(row['height'])}" if not missing(row.get("width"))
                and not missing(row.get("height")) else "")
        gps = (f"{row['gps_lat']:.5f}, {row['gps_lon']:.5f}" if not missing(row.get("gps_lat"))
               and not missing(row.get("gps_lon")) else "")
        facts = [("Taken", human_date(row.get("taken_at"))), ("Camera", cam), ("Lens", row.get("lens")),
                 ("Exposure", exposure(row)), ("Size", " · ".join(x for x in (dims, human_size(row.get("size_bytes")))
                                                                 if x)),
                 ("Length", human_duration(row.get("duration_s")) if row.get("kind") == "video" else ""),
                 ("Type", row.get("mime")), ("Place", row.get("place")), ("GPS", gps)]
        rows = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in facts if not missing(v))
        pos = f"{self.index + 1:,} of {len(self.ids):,}"
        return (f"<div class='wb-info-title'>{esc(name)}</div><div class='wb-sub'>{esc(pos)}</div>"
                f"<table>{rows}</table>")

    def _extra_html(self, mid: str) -> str:
        """Tags and people, when the view offers them (a share link shows neither)."""
        out = []
        if hasattr(self.view, "tags"):
            try:
                tags = self.view.tags(mid)
                names = sorted(set(tags["tag"])) if len(tags) else []
            except AuthError:
                raise
            except Exception:   # no tagging stage yet: nothing to show
                names = []
            if names:
                out.append("<div class='wb-sub'>Tags</div>" + "".join(f"<span class='wb-chip'>{esc(t)}</span>"
                                                                        for t in names))
        if hasattr(self.view, "faces"):
            try:
                faces = self.view.faces(mid)
                people = sorted({p for p in faces["person"] if not missing(p)}) if len(faces) else []
            except AuthError:
                raise
            except Exception:   # no face stage yet
                people = []
            if people:
                out.append("<div class='wb-sub'>People</div>" + "".join(f"<span class='wb-chip'>{esc(p)}</span>"
                                                                          for p in people))
        if hasattr(self.view, "text"):
            try:
                lines = list(self.view.text(mid)["text"])
            except AuthError:
                raise
            except Exception:   # no OCR stage yet
                lines = []
            if lines:
                out.append("<div class='wb-sub'>Text in the picture</div><div class='wb-text'>"
                           + "<br>".join(esc(t) for t in lines) + "</div>")
        return "".join(out)
