"""What every dashboard shares: the page frame, messages in place of tracebacks, pictures from the library,
and long work run off the page's thread with a visible progress bar.

Dashboards are built from these pieces so they look and behave alike, and so a fix lands once.
"""
from __future__ import annotations

import asyncio
import base64
import collections
import functools
import html
import logging
import threading
import traceback
from typing import Any, Callable

import panel as pn

from workbench.errors import WorkbenchError

log = logging.getLogger("workbench.dashboards")

ACCENT = "#2f5d8a"
CSS = """
.wb-picture img { border-radius: 4px; object-fit: cover; display: block; }
.wb-picture .wb-missing { background: #eceff3; color: #6b7280; display: flex; align-items: center;
  justify-content: center; font: 12px system-ui, sans-serif; border-radius: 4px; }
.wb-caption { font: 12px system-ui, sans-serif; color: #374151; overflow: hidden; text-overflow: ellipsis;
  white-space: nowrap; }
"""


def extension(*extra_css: str) -> None:
    """Load Panel's extension with our styles (plus a dashboard's own ``extra_css``); safe to call from every
    dashboard. Served, Panel keeps styles and sizing per session, so every session loads them (a once-per-process
    guard left every session after the first, the server's own health check included, without our CSS); in a
    notebook the extension loads once and later styles are added to the config."""
    if pn.state.curdoc is not None or not getattr(extension, "_done", False):
        pn.extension(raw_css=[CSS, *extra_css], sizing_mode="stretch_width")
        extension._done = True  # type: ignore[attr-defined]
        return
    missing = [c for c in extra_css if c not in pn.config.raw_css]
    if missing:
        pn.config.raw_css = [*pn.config.raw_css, *missing]


def picture_html(data: bytes | None, *, width_px: int = 160, height_px: int | None = None, title: str = "",
                 mime: str = "image/webp") -> str:
    """An <img> with the bytes inlined (no file paths reach the browser), or a grey box saying why there is none."""
    h = height_px or width_px
    if not data:
        return (f'<div class="wb-picture"><div class="wb-missing" style="width:{width_px}px;height:{h}px">'
                f'no preview yet</div></div>')
    b64 = base64.b64encode(data).decode()
    return (f'<div class="wb-picture"><img src="data:{mime};base64,{b64}" title="{html.escape(title)}" '
            f'style="width:{width_px}px;height:{h}px" alt="{html.escape(title)}"></div>')


# Face crops already made, by (library root, face id, size): a face's box never changes, and a page of faces
# redrawn after each edit would otherwise decode every preview again (~20 ms a crop). 4000 crops of ~4 KB JPEG
# at 96 px bound this to ~16 MB per server.
FACE_CROP_CACHE_ENTRIES = 4000
_face_crops: "collections.OrderedDict[tuple[str, str, int], bytes]" = collections.OrderedDict()
_face_crops_lock = threading.Lock()  # the server runs callbacks on several threads


def face_picture(library: Any, face_id: str, *, size_px: int = 96, title: str = "") -> pn.pane.HTML:
    """A face crop as a pane, through ``Library.face_crop`` (remembered, see ``FACE_CROP_CACHE_ENTRIES``)."""
    import io
    key = (str(library.root), face_id, size_px)
    mime = "image/jpeg"
    with _face_crops_lock:
        data = _face_crops.get(key)
        if data is not None:
            _face_crops.move_to_end(key)
    if data is None:
        try:
            im = library.face_crop(face_id, size_px=size_px)
            buf = io.BytesIO()
            im.convert("RGB").save(buf, "JPEG", quality=88)
            data = buf.getvalue()
            with _face_crops_lock:
                _face_crops[key] = data
                while len(_face_crops) > FACE_CROP_CACHE_ENTRIES:
                    _face_crops.popitem(last=False)
        except Exception as e:  # a missing preview must not break a page of faces
            log.info("no crop for face %s: %s", face_id, e)
    return pn.pane.HTML(picture_html(data, width_px=size_px, title=title or face_id[:10], mime=mime),
                        width=size_px, height=size_px + 4, sizing_mode="fixed", margin=2)


def caption(text: str, width_px: int = 160) -> pn.pane.HTML:
    return pn.pane.HTML(f'<div class="wb-caption" style="width:{width_px}px" title="{html.escape(text)}">'
                        f'{html.escape(text)}</div>', width=width_px, sizing_mode="fixed", margin=(0, 2))


class Messages(pn.Column):
    """The page's message area: errors show here as one readable line, never as a traceback."""

    def __init__(self, **params: Any):
        super().__init__(sizing_mode="stretch_width", **params)

    def _show(self, text: str, alert_type: str) -> None:
        self.objects = [pn.pane.Alert(text, alert_type=alert_type, sizing_mode="stretch_width")]

    def info(self, text: str) -> None:
        self._show(text, "info")

    def success(self, text: str) -> None:
        self._show(text, "success")

    def error(self, text: str) -> None:
        self._show(text, "danger")

    def clear(self) -> None:
        self.objects = []

    def report(self, exc: BaseException) -> None:
        """Show what went wrong in words; the traceback goes to the server log for whoever runs it."""
        if isinstance(exc, (WorkbenchError, ValueError, KeyError, FileNotFoundError)):
            text = (str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)) or type(exc).__name__
        else:
            text = f"Something went wrong ({type(exc).__name__}: {exc}). The server log has the details."
            log.error("dashboard callback failed:\n%s", "".join(traceback.format_exception(exc)))
        self.error(text)

    def guard(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap a callback so any failure becomes a message on the page."""
        if asyncio.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                try:
                    return await fn(*args, **kwargs)
                except Exception as e:  # noqa: BLE001 - every failure must reach the page
                    self.report(e)
            return run_async

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception as e:  # noqa: BLE001
                self.report(e)
        return run


def guarded(method: Callable[..., Any]) -> Callable[..., Any]:
    """For a dashboard method run when a parameter changes (``@param.depends(..., watch=True)`` above it): any
    failure becomes a message on the page, as ``Messages.guard`` does for callbacks. An ``async`` method stays one
    (Panel runs it on the page's event loop)."""
    if asyncio.iscoroutinefunction(method):
        @functools.wraps(method)
        async def run_async(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return await method(self, *args, **kwargs)
            except Exception as e:  # noqa: BLE001 - every failure must reach the page
                self.messages.report(e)
        return run_async

    @functools.wraps(method)
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Exception as e:  # noqa: BLE001 - every failure must reach the page
            self.messages.report(e)
    return run


class Busy(pn.Row):
    """A progress bar with a label, shown only while long work runs off the page's thread."""

    def __init__(self, **params: Any):
        self.bar = pn.indicators.Progress(active=True, value=-1, width=160, height=20, sizing_mode="fixed", bar_color="primary")
        self.label = pn.pane.Markdown("", margin=(0, 10))
        super().__init__(self.bar, self.label, visible=False, sizing_mode="stretch_width", **params)

    async def run(self, label: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run fn(*args) in a worker thread; the page stays responsive and shows label meanwhile."""
        self.label.object = f"{label} ..."
        self.visible = True
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        finally:
            self.visible = False


class Dashboard(pn.viewable.Viewer):
    """One dashboard: a sidebar of controls and a main area, served by ``panel serve`` or shown in a notebook.

    Subclasses set ``title`` and fill ``self.sidebar`` and ``self.main`` (lists of Panel objects) in ``build``.
    A Panel ``Viewer``: the knobs are parameters (``param.Number(bounds=...)``, ``param.Selector``, units in their
    names), their widgets are made ``from_param``, and what they change is computed by ``@param.depends`` methods,
    so setting a parameter (from a widget, a test or a notebook) updates the page with no callbacks to wire.
    """

    title = "Workbench"

    def __init__(self, library: Any, **params: Any):
        extension()
        super().__init__(**params)
        self.library = library
        self.messages = Messages()
        self.busy = Busy()
        self.sidebar: list[Any] = []
        self.main: list[Any] = []
        try:
            self.build()
        except Exception as e:  # noqa: BLE001 - an empty library or missing stage is a message, not a crash
            self.messages.report(e)

    def build(self) -> None:
        raise NotImplementedError

    @classmethod
    def from_env(cls) -> "Dashboard | pn.viewable.Viewable":
        """The dashboard on the library named by ``$WORKBENCH_LIBRARY`` (what ``workbench dashboards`` sets)."""
        from workbench.library import Library
        try:
            library = Library.open()
        except Exception as e:  # noqa: BLE001
            extension()
            return pn.pane.Alert(f"Cannot open the library: {e}", alert_type="danger")
        return cls(library)

    def panel(self) -> pn.viewable.Viewable:
        """The dashboard as one layout, for a notebook cell."""
        side = pn.Column(*self.sidebar, width=300, sizing_mode="fixed")
        body = pn.Column(self.messages, self.busy, *self.main, sizing_mode="stretch_width")
        return pn.Row(side, body, sizing_mode="stretch_width")

    def template(self) -> pn.template.BaseTemplate:
        """The dashboard as a full page (a template that needs nothing from the internet)."""
        return pn.template.BootstrapTemplate(
            title=f"Workbench · {self.title}", header_background=ACCENT, sidebar=list(self.sidebar),
            main=[self.messages, self.busy, *self.main], sidebar_width=320)

    def servable(self) -> Any:
        return self.template().servable(title=self.title)

    def __panel__(self) -> pn.viewable.Viewable:
        return self.panel()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        return self.panel()._repr_mimebundle_(include, exclude)


def serve_entry(cls: type[Dashboard]) -> None:
    """Body of a file in ``dashboards/``: make the dashboard servable on the environment's library."""
    made = cls.from_env()
    (made.servable() if isinstance(made, Dashboard) else made.servable())
