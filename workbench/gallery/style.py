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
.wb-header .wb-nav button { background: transparent; color: #cfd4dc; height: 56px; border-radius: 0; padding: 0 12px;
          width: auto; flex: 0 0 auto; overflow: visible; }
.wb-header { overflow: visible !important; position: relative; z-index: 60; }
.wb-header .wb-menu { display: contents; }
.wb-header .wb-nav { flex: 0 0 auto; }
.wb-header .wb-menu-toggle, .wb-header .wb-filters-toggle, .wb-drawer-close, .wb-backdrop { display: none; }
.wb-header .wb-nav { order: 1; } .wb-header .wb-search { order: 2; } .wb-header .wb-user { order: 3; }
.wb-header .wb-logout-box { order: 4; }
.wb-header .wb-logout-box .widget-html-content { display: flex; align-items: center; gap: 6px; }
.wb-header a.wb-upload-link { color: #cfd4dc; text-decoration: none; padding: 0 12px; line-height: 56px;
          white-space: nowrap; }
.wb-header a.wb-upload-link:hover { color: #fff; background: rgba(255,255,255,.06); }
.wb-header .wb-filters-toggle { margin-left: auto; }
.wb-header .wb-user { flex: 0 1 auto; min-width: 0; max-width: 200px; overflow: hidden; text-overflow: ellipsis; }
.wb-filters-btn, .wb-menu-btn { background: #252c3a; color: #f2f4f7; border: 0; border-radius: 8px; height: 38px;
          padding: 0 14px; font: inherit; cursor: pointer; white-space: nowrap; }
.wb-app button:focus, .wb-app button:focus-visible { outline: none; }
.wb-app button:focus-visible { box-shadow: 0 0 0 2px var(--wb-accent); }
.wb-header .wb-nav button:hover { background: rgba(255,255,255,.06); color: #fff; }
.wb-app .wb-header .wb-nav button.mod-active { color: #fff; background: transparent;
          box-shadow: inset 0 -3px 0 var(--wb-accent); }
.wb-header .wb-search { flex: 1 1 0; max-width: 560px; min-width: 120px; }
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
.wb-app .wb-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(var(--wb-tile-min, 170px), 1fr));
           gap: 6px; align-content: start; overflow: visible; }
.wb-app .wb-heading { grid-column: 1 / -1; font-weight: 600; font-size: 15px; margin: 14px 0 2px; color: var(--wb-ink); }
.wb-tile { position: relative; width: auto; height: auto; aspect-ratio: 1 / 1; min-width: 0; border-radius: 6px;
           overflow: hidden; background: #e4e7ec; margin: 0; }
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
@media (hover: none) { .wb-tile .wb-select { opacity: .7; width: 24px !important; height: 24px !important; } }
/* touch screens have no hover: the select circle stays visible */
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
.wb-viewer .wb-download-top { position: absolute !important; top: 10px; left: 12px; z-index: 2; }
.wb-viewer a.wb-download-btn { display: inline-flex; align-items: center; height: 34px; padding: 0 14px; border-radius: 8px;
            background: rgba(255,255,255,.1); color: #fff; text-decoration: none; font-weight: 600; }
.wb-viewer a.wb-download-btn:hover { background: rgba(255,255,255,.18); }
.wb-viewer .wb-stage { touch-action: none; overflow: hidden; }
.wb-viewer .wb-stage img { transform-origin: center center; will-change: transform; }
.wb-info { flex: 0 0 320px; background: #171b23; padding: 56px 18px 18px; overflow-y: auto; gap: 6px; }
.wb-info .wb-info-title { font-size: 17px; font-weight: 650; color: #fff; word-break: break-word; }
.wb-info table { border-collapse: collapse; width: 100%; font-size: 13px; }
.wb-info td { padding: 4px 0; vertical-align: top; color: #e6e8ec; } .wb-info td:first-child { color: #98a2b3; width: 92px; }
.wb-info a.wb-download { display: inline-block; margin-top: 10px; padding: 8px 14px; border-radius: 8px;
            background: var(--wb-accent); color: #fff; text-decoration: none; font-weight: 600; }
.wb-chip { display: inline-block; background: #2a3140; color: #dfe3ea; border-radius: 999px; padding: 1px 9px;
           margin: 2px 4px 2px 0; font-size: 12px; }
.wb-notice { color: #fec84b; }
.wb-info .wb-text { color: #dfe3ea; overflow-wrap: anywhere; }   /* text read in the picture, on the dark panel */

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

/* tablets and phones: the filters in a drawer; the grid keeps at least 3 columns */
@media (max-width: 1023px) {
  .wb-header .wb-filters-toggle { display: block; order: 6; }
  .wb-sidebar { position: fixed !important; top: 0; bottom: 0; left: 0; width: min(320px, 86vw); z-index: 80;
                transform: translateX(-105%); transition: transform .18s ease-out; box-shadow: 0 0 24px rgba(0,0,0,.25); }
  .wb-app.wb-filters-open .wb-sidebar { transform: none; }
  .wb-drawer-close { display: block; margin-top: 8px; }
  .wb-drawer-done { width: 100%; height: 44px; border: 0; border-radius: 8px; background: var(--wb-accent); color: #fff;
                    font: inherit; font-weight: 600; cursor: pointer; }
  .wb-app.wb-filters-open .wb-backdrop, .wb-app.wb-menu-open .wb-backdrop { display: block; position: fixed; inset: 0;
                    background: rgba(16,24,40,.4); z-index: 50; }
  .wb-main { padding: 14px 14px 60px; }
  .wb-app { --wb-tile-min: 140px; }
  .wb-cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 12px; }
  .wb-card { width: auto; }
  .wb-card img, .wb-card .wb-card-blank { width: 100% !important; height: auto !important; aspect-ratio: 1 / 1; }
}
/* phones, tablets and small laptops (the header needs ~1080 px): the sections, Upload, the user and "Sign out" in a
   menu behind ☰; the search on its own row */
@media (max-width: 1099px) {
  .wb-header { flex: 0 0 auto; flex-wrap: wrap; padding: 8px 10px; gap: 8px; row-gap: 8px; }
  .wb-header .wb-menu-toggle { display: block; order: 0; }
  .wb-menu-btn { font-size: 20px; padding: 0 12px; }
  .wb-header .wb-brand { order: 0; flex: 1 1 auto; margin: 0; }
  .wb-header .wb-search { order: 7; flex: 1 0 100%; max-width: none; min-width: 0; }
  .wb-header .wb-search input { height: 40px; font-size: 16px; }   /* 16 px: phones do not zoom into the field */
  .wb-header .wb-menu { display: none; }
  .wb-app.wb-menu-open .wb-header .wb-menu { display: flex; flex-direction: column; align-items: stretch;
          position: absolute; top: 100%; left: 0; right: 0; max-height: calc(100vh - 110px); overflow-y: auto;
          background: var(--wb-header); padding: 6px 0 12px; box-shadow: 0 12px 24px rgba(0,0,0,.3); }
  .wb-app.wb-menu-open .wb-header .wb-nav { display: flex; flex-direction: column; align-items: stretch; }
  .wb-app .wb-header .wb-menu .wb-nav button, .wb-header .wb-menu .wb-nav a { height: 48px; width: 100%;
          margin: 0; box-sizing: border-box; text-align: left; padding: 0 20px; font-size: 16px;
          justify-content: flex-start; }
  .wb-app .wb-header .wb-menu .wb-nav button.mod-active { box-shadow: inset 3px 0 0 var(--wb-accent); }
  .wb-header > .wb-user, .wb-header > .wb-user .widget-html-content { min-width: 0; max-width: 100%; overflow: hidden;
          text-overflow: ellipsis; }        /* a shared album's long name in its header */
  .wb-header .wb-menu .wb-nav { order: 1; } .wb-header .wb-menu .wb-logout-box { order: 2; }
  .wb-header .wb-menu .wb-user { order: 3; margin: 10px 20px 0; }
  .wb-header .wb-menu .wb-logout-box .widget-html-content { flex-direction: column; align-items: stretch; gap: 0; }
  .wb-header .wb-menu a.wb-upload-link { line-height: 48px; padding: 0 20px; font-size: 16px; }
  .wb-header .wb-menu .wb-logout-form { padding: 8px 20px 0; }
  .wb-header .wb-menu button.wb-logout { width: 100%; height: 44px; }
  .wb-app.wb-inline { height: 100vh; }
}
@media (max-width: 599px) {
  .wb-main { padding: 10px 8px 60px; }
  .wb-app { --wb-tile-min: 100px; }
  .wb-app .wb-grid { gap: 4px; }
  .wb-title { font-size: 19px; }
  .wb-actionbar { flex-wrap: wrap; }
  .wb-cards { grid-template-columns: repeat(auto-fill, minmax(140px, 1fr)); gap: 10px; }
  .wb-login, .wb-denied { width: calc(100vw - 32px); }
}
/* the viewer on a narrow screen: the picture on top, the facts below it */
@media (max-width: 767px), (max-aspect-ratio: 4/5) {
  .wb-viewer { flex-direction: column; }
  .wb-stage { flex: 1 1 auto; min-height: 0; padding: 54px 6px 6px; }
  .wb-stage img, .wb-stage video { max-height: calc(100vh - 34vh - 64px) !important; }
  .wb-info { flex: 0 0 auto; max-height: 34vh; padding: 12px 16px 16px; }
  .wb-viewer .wb-nav-btn { width: 40px !important; height: 56px !important; margin-top: -28px; background: rgba(0,0,0,.35) !important; }
  .wb-viewer .wb-prev { left: 4px; } .wb-viewer .wb-next { right: 4px; }
}
"""

# Runs once per page (guarded by a flag on window): keyboard shortcuts for the viewer, infinite scroll, the menu
# and the filter drawer on small screens, and touch in the viewer (swipe to the previous / next, pinch to zoom).
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
  // The ☰ menu and the filter drawer (small screens) open and close here, without a round trip to the kernel.
  document.addEventListener('click', (e) => {
    const app = document.querySelector('.wb-app'); const t = e.target;
    if (!app || !t || !t.closest) return;
    if (t.closest('.wb-viewer .wb-nav-btn, .wb-viewer .wb-close')) { resetZoom(); return; }
    if (t.closest('.wb-menu-btn')) { app.classList.toggle('wb-menu-open'); app.classList.remove('wb-filters-open'); return; }
    if (t.closest('.wb-filters-btn')) { app.classList.toggle('wb-filters-open'); app.classList.remove('wb-menu-open'); return; }
    if (t.closest('.wb-backdrop, .wb-drawer-done') || t.closest('.wb-menu .wb-nav button, .wb-menu .wb-nav a')) {
      app.classList.remove('wb-menu-open', 'wb-filters-open');
    }
  }, true);
  // Touch in the viewer: one finger swipes (when not zoomed) or pans (zoomed); two fingers pinch. The zoom is the
  // browser's alone (a CSS transform); a swipe clicks the same previous / next buttons as a mouse.
  let zoom = {s: 1, x: 0, y: 0, src: ''}; let touch = null;
  const stageImg = () => { const v = visible('.wb-viewer'); const i = v && v.querySelector('.wb-stage img');
                           return i && i.offsetParent !== null ? i : null; };
  const applyZoom = (img) => { if (!img) return;
    img.style.transform = zoom.s === 1 ? '' : `translate(${zoom.x}px, ${zoom.y}px) scale(${zoom.s})`;
    img.dataset.zoom = zoom.s.toFixed(2); };
  function resetZoom() { zoom = {s: 1, x: 0, y: 0, src: ''}; applyZoom(stageImg()); }
  const points = (list) => Array.from(list).map((t) => [t.clientX, t.clientY]);
  const dist = (p) => Math.hypot(p[0][0] - p[1][0], p[0][1] - p[1][1]) || 1;
  document.addEventListener('touchstart', (e) => {
    const stage = e.target.closest && e.target.closest('.wb-viewer .wb-stage');
    if (!stage || e.target.closest('button, a, video')) { touch = null; return; }
    const img = stageImg();
    if (img && zoom.src !== img.src) { zoom = {s: 1, x: 0, y: 0, src: img.src}; applyZoom(img); }
    touch = {p: points(e.touches), s: zoom.s, x: zoom.x, y: zoom.y, pinch: e.touches.length > 1 || (touch && touch.pinch && e.touches.length > 0)};
  }, {passive: true});
  document.addEventListener('touchmove', (e) => {
    if (!touch) return;
    const p = points(e.touches); const img = stageImg();
    if (p.length > 1 && touch.p.length > 1) {
      touch.pinch = true;
      zoom.s = Math.min(5, Math.max(1, touch.s * dist(p) / dist(touch.p)));
      if (zoom.s === 1) { zoom.x = 0; zoom.y = 0; }
      applyZoom(img);
    } else if (p.length === 1 && zoom.s > 1) {
      zoom.x = touch.x + p[0][0] - touch.p[0][0]; zoom.y = touch.y + p[0][1] - touch.p[0][1];
      applyZoom(img);
    }
  }, {passive: true});
  document.addEventListener('touchend', (e) => {
    if (!touch) return;
    if (e.touches.length > 0) { touch = {p: points(e.touches), s: zoom.s, x: zoom.x, y: zoom.y, pinch: true}; return; }
    const end = e.changedTouches[0]; const start = touch.p[0]; const was = touch; touch = null;
    if (was.pinch || zoom.s > 1 || !end || !start) return;
    const dx = end.clientX - start[0]; const dy = end.clientY - start[1];
    if (Math.abs(dx) < 50 || Math.abs(dx) < 1.5 * Math.abs(dy)) return;
    const b = visible(dx < 0 ? '.wb-viewer .wb-next' : '.wb-viewer .wb-prev');
    if (b && !b.disabled) b.click();
  }, {passive: true});
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
