"""The gallery's look (one small stylesheet) and its one page script (keyboard and infinite scroll).

Both travel in an ``ipywidgets.HTML``: the stylesheet as a <style> element, the script as the ``onload`` of a
1x1 image (HTML widgets set innerHTML, where <script> elements do not run). The script only clicks the app's own
buttons (previous / next / close in the viewer, "load more" near the bottom of the grid): every decision stays in
the kernel, behind the same callbacks a mouse click reaches.
"""
from __future__ import annotations

import base64

import ipywidgets as W

CSS = """
:root { --wb-bg:#f6f7f9; --wb-panel:#ffffff; --wb-ink:#1d2330; --wb-muted:#667085; --wb-line:#e4e7ec;
        --wb-accent:#2f6fed; --wb-accent-ink:#ffffff; --wb-danger:#c4320a; --wb-header:#161b26; }
body, .jp-Notebook, #rendered_cells { background: var(--wb-bg) !important; }
.wb-app { position: fixed; inset: 0; display: flex; flex-direction: column; background: var(--wb-bg);
          color: var(--wb-ink); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; z-index: 10; }
.wb-app.wb-inline { position: relative; inset: auto; height: 820px; z-index: auto; border-radius: 8px; }
.wb-app.wb-inline .wb-viewer { position: absolute !important; }
.wb-app .widget-html, .wb-app .widget-html-content, .wb-app .widget-label { font: inherit; color: inherit;
          line-height: inherit; }
.wb-app .widget-html { margin: 0; }
.wb-main > *, .wb-panel > *, .wb-album > *, .wb-albums > *, .wb-photos > *, .wb-sidebar > *, .wb-login > * { flex-shrink: 0; }
.wb-row { overflow: visible !important; min-height: 38px; }
.wb-app button { font-family: inherit; }
.wb-app .jupyter-button { border-radius: 8px; height: 34px; padding: 0 14px; font-size: 14px;
                          background: #eef1f5; color: var(--wb-ink); box-shadow: none; }
.wb-app .jupyter-button:hover { background: #e2e7ee; box-shadow: none; }
.wb-app .jupyter-button.mod-primary, .wb-primary button, button.wb-primary { background: var(--wb-accent);
          color: var(--wb-accent-ink); }
.wb-app .jupyter-button.mod-active { background: var(--wb-accent); color: #fff; }
.wb-sidebar .widget-toggle-buttons { width: 100%; }
.wb-sidebar .widget-toggle-buttons .btn-group, .wb-sidebar .widget-toggle-buttons > div { display: flex; width: 100%; gap: 4px; }
.wb-sidebar .widget-toggle-button { flex: 1 1 0; width: auto !important; min-width: 0; padding: 0 6px; }
.wb-app .jupyter-button.mod-danger { background: #fde8e2; color: var(--wb-danger); }
.wb-app input[type=text], .wb-app input[type=password], .wb-app input[type=date], .wb-app select {
          border: 1px solid var(--wb-line) !important; border-radius: 8px; height: 34px; padding: 0 10px;
          background: #fff; font-size: 14px; }
.wb-app .widget-text, .wb-app .widget-dropdown, .wb-app .widget-datepicker { width: 100%; margin: 0; }
.wb-app .widget-inline-hbox .widget-label { min-width: 0; width: auto; }

/* header */
.wb-header { flex: 0 0 56px; display: flex; align-items: center; gap: 12px; padding: 0 18px;
             background: var(--wb-header); color: #f2f4f7; }
.wb-header .widget-html { color: #f2f4f7; }
.wb-header .wb-brand { font-weight: 650; font-size: 17px; letter-spacing: .2px; margin-right: 10px; white-space: nowrap; }
.wb-header .wb-nav button { background: transparent; color: #cfd4dc; height: 56px; border-radius: 0; padding: 0 12px; }
.wb-app button:focus, .wb-app button:focus-visible { outline: none; }
.wb-app button:focus-visible { box-shadow: 0 0 0 2px var(--wb-accent); }
.wb-header .wb-nav button:hover { background: rgba(255,255,255,.06); color: #fff; }
.wb-app .wb-header .wb-nav button.mod-active { color: #fff; background: transparent;
          box-shadow: inset 0 -3px 0 var(--wb-accent); }
.wb-header .wb-search { flex: 1 1 auto; max-width: 560px; }
.wb-header .wb-search input { background: #252c3a !important; color: #fff; border-color: #343c4d !important; }
.wb-header .wb-search input::placeholder { color: #98a2b3; }
.wb-header .wb-user { margin-left: auto; color: #cfd4dc; white-space: nowrap; }
.wb-header button.wb-logout { background: #252c3a; color: #f2f4f7; border: 0; border-radius: 8px; height: 34px;
          padding: 0 14px; font: inherit; cursor: pointer; white-space: nowrap; }
.wb-logout-form { margin: 0; }

/* body: sidebar + main */
.wb-body { flex: 1 1 auto; display: flex; min-height: 0; }
.wb-sidebar { flex: 0 0 240px; padding: 16px; gap: 10px; overflow-y: auto; background: var(--wb-panel);
              border-right: 1px solid var(--wb-line); }
.wb-sidebar .wb-label { color: var(--wb-muted); font-size: 12px; text-transform: uppercase; letter-spacing: .6px;
                        margin-top: 6px; }
.wb-main { flex: 1 1 auto; overflow-y: auto; padding: 18px 22px 60px; min-width: 0; }
.wb-title { font-size: 22px; font-weight: 650; margin: 0 0 2px; }
.wb-sub { color: var(--wb-muted); margin-bottom: 12px; }
.wb-message { border-radius: 8px; padding: 8px 12px; margin: 0 0 12px; }
.wb-message.info { background: #eef4ff; color: #1f3f8f; }
.wb-message.ok { background: #e8f7ee; color: #0f6b3a; }
.wb-message.error { background: #fdecea; color: #9b1c0c; }

/* grid */
.wb-grid { display: flex; flex-wrap: wrap; gap: 6px; align-content: flex-start; }
.wb-app .wb-heading { flex: 0 0 100%; font-weight: 600; font-size: 15px; margin: 14px 0 2px; color: var(--wb-ink); }
.wb-tile { position: relative; width: 184px; height: 184px; border-radius: 6px; overflow: hidden;
           background: #e4e7ec; margin: 0; }
.wb-tile img { width: 100% !important; height: 100% !important; object-fit: cover; display: block; }
.wb-tile .wb-open { position: absolute !important; inset: 0; width: 100% !important; height: 100% !important;
           margin: 0; padding: 6px 8px; background: transparent !important; border-radius: 0 !important;
           color: #fff; text-align: left; display: flex; align-items: flex-end; justify-content: flex-start;
           font-size: 12px; font-weight: 600; text-shadow: 0 1px 3px rgba(0,0,0,.8); cursor: zoom-in; }
.wb-tile .wb-open:hover { background: linear-gradient(to top, rgba(0,0,0,.35), rgba(0,0,0,0) 45%) !important; }
.wb-tile .wb-select { position: absolute !important; top: 6px; left: 6px; width: 26px !important; height: 26px !important;
           min-width: 0; padding: 0 !important; border-radius: 50% !important; background: rgba(255,255,255,.85) !important;
           color: transparent; opacity: 0; transition: opacity .1s; font-size: 13px; }
.wb-tile:hover .wb-select, .wb-tile .wb-select.mod-active { opacity: 1; }
.wb-tile .wb-select.mod-active { background: var(--wb-accent) !important; color: #fff; }
.wb-tile.wb-selected { outline: 3px solid var(--wb-accent); outline-offset: -3px; }
.wb-more { margin: 18px 0; }
.wb-empty { color: var(--wb-muted); padding: 40px 0; font-size: 15px; }
.wb-actionbar { display: flex; align-items: center; gap: 10px; padding: 8px 12px; margin-bottom: 12px;
                background: #eef4ff; border-radius: 10px; }

/* cards (people, places, albums) */
.wb-cards { display: flex; flex-wrap: wrap; gap: 14px; }
.wb-card { position: relative; flex-direction: column; overflow: hidden !important; width: 170px; background: var(--wb-panel); border: 1px solid var(--wb-line);
           border-radius: 10px; overflow: hidden; }
.wb-card img { width: 170px !important; height: 170px !important; object-fit: cover; display: block; }
.wb-card .wb-card-blank { width: 170px; height: 170px; background: #e4e7ec; }
.wb-card .wb-card-text { padding: 8px 10px; }
.wb-card .wb-card-name { font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.wb-card .wb-card-meta { color: var(--wb-muted); font-size: 12px; }
.wb-card .wb-open { position: absolute !important; inset: 0; width: 100% !important; height: 100% !important;
                    background: transparent !important; margin: 0; border-radius: 0 !important; cursor: pointer; }
.wb-card .wb-open:hover { background: rgba(47,111,237,.06) !important; }
.wb-panel { background: var(--wb-panel); border: 1px solid var(--wb-line); border-radius: 10px; padding: 14px;
            margin-bottom: 14px; gap: 8px; }
.wb-row { display: flex; align-items: center; gap: 8px; flex-wrap: wrap; }
.wb-link { font-family: ui-monospace, monospace; font-size: 12px; word-break: break-all; background: #f2f4f7;
           padding: 6px 8px; border-radius: 6px; }

/* viewer */
.wb-viewer { position: fixed !important; inset: 0; z-index: 1000; background: #0d1016 !important; color: #e6e8ec;
             display: flex; flex-direction: row; }
.wb-stage { flex: 1 1 auto; position: relative; display: flex; align-items: center; justify-content: center;
            min-width: 0; padding: 56px 70px 24px; }
.wb-stage img, .wb-stage video { max-width: 100% !important; max-height: calc(100vh - 90px) !important;
            width: auto !important; height: auto !important; object-fit: contain; border-radius: 4px; }
.wb-stage .widget-html, .wb-stage .widget-image { display: flex; justify-content: center; align-items: center; }
.wb-viewer .wb-nav-btn { position: absolute !important; top: 50%; width: 48px !important; height: 64px !important;
            margin-top: -32px; background: rgba(255,255,255,.08) !important; color: #fff; font-size: 22px;
            border-radius: 8px !important; }
.wb-viewer .wb-nav-btn:hover { background: rgba(255,255,255,.18) !important; }
.wb-viewer .wb-prev { left: 12px; } .wb-viewer .wb-next { right: 12px; }
.wb-viewer .wb-close { position: absolute !important; top: 10px; right: 12px; background: rgba(255,255,255,.1) !important;
            color: #fff; width: auto !important; }
.wb-info { flex: 0 0 320px; background: #171b23; padding: 56px 18px 18px; overflow-y: auto; gap: 6px; }
.wb-info .wb-info-title { font-size: 17px; font-weight: 650; color: #fff; word-break: break-word; }
.wb-info table { border-collapse: collapse; width: 100%; font-size: 13px; }
.wb-info td { padding: 4px 0; vertical-align: top; color: #e6e8ec; } .wb-info td:first-child { color: #98a2b3; width: 92px; }
.wb-info a.wb-download { display: inline-block; margin-top: 10px; padding: 8px 14px; border-radius: 8px;
            background: var(--wb-accent); color: #fff; text-decoration: none; font-weight: 600; }
.wb-chip { display: inline-block; background: #2a3140; color: #dfe3ea; border-radius: 999px; padding: 1px 9px;
           margin: 2px 4px 2px 0; font-size: 12px; }
.wb-notice { color: #fec84b; }

/* login and share pages */
.wb-center { flex: 1 1 auto; display: flex; align-items: center; justify-content: center; }
.wb-login { width: 360px; background: var(--wb-panel); border: 1px solid var(--wb-line); border-radius: 14px;
            padding: 28px; gap: 12px; box-shadow: 0 8px 30px rgba(16,24,40,.08); }
.wb-login .wb-title { text-align: center; }
.wb-login .wb-sub { text-align: center; }
.wb-login button { width: 100%; }
.wb-denied { text-align: center; width: 440px; background: var(--wb-panel); border: 1px solid var(--wb-line);
             border-radius: 14px; padding: 28px; box-shadow: 0 8px 30px rgba(16,24,40,.08); }
.wb-denied .wb-denied-icon { font-size: 34px; color: var(--wb-danger); }
.wb-share-page .wb-row { justify-content: space-between; align-items: flex-start; }
.wb-hidden { display: none !important; }
"""

# Runs once per page (guarded by a flag on window): keyboard shortcuts for the viewer and infinite scroll.
_SCRIPT = """
if (!window.__wbGallery) {
  window.__wbGallery = true;
  document.title = 'Workbench gallery';
  const visible = (sel) => { const el = document.querySelector(sel); return el && el.offsetParent !== null ? el : null; };
  document.addEventListener('keydown', (e) => {
    const t = e.target && e.target.tagName;
    if (e.key === 'Enter' && t === 'INPUT') {
      const form = e.target.closest('.wb-form'); const b = form && form.querySelector('.wb-submit');
      if (b && !b.disabled) { e.preventDefault(); setTimeout(() => b.click(), 50); }
      return;
    }
    if (t === 'INPUT' || t === 'TEXTAREA' || t === 'SELECT') return;
    if (!visible('.wb-viewer')) return;
    const key = {ArrowLeft: '.wb-viewer .wb-prev', ArrowRight: '.wb-viewer .wb-next', Escape: '.wb-viewer .wb-close'}[e.key];
    const b = key && visible(key);
    if (b && !b.disabled) { e.preventDefault(); b.click(); }
  });
  let last = 0;
  setInterval(() => {
    const b = visible('.wb-more');
    if (!b || b.disabled || visible('.wb-viewer') || Date.now() - last < 1200) return;
    if (b.getBoundingClientRect().top < window.innerHeight + 300) { last = Date.now(); b.click(); }
  }, 400);
}
"""

# A valid 1x1 transparent GIF: its onload runs the script once the HTML widget is in the page.
_PIXEL = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"


def page_assets() -> W.HTML:
    """The stylesheet and the page script, as one widget to put anywhere in the app."""
    code = base64.b64encode(_SCRIPT.encode()).decode()
    html = (f"<style>{CSS}</style>"
            f"<img alt='' src='{_PIXEL}' style='display:none' onload=\"eval(atob('{code}'))\">")
    return W.HTML(html, layout=W.Layout(display="contents"))
