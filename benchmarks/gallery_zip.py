"""The gallery's zip download against its media handler: the same bytes, the same server, the same client.

    python benchmarks/gallery_zip.py [--size-mb 512] [--rounds 3] [--work /tmp/wb-zip-bench] [--json FILE]

Builds (once, under ``--work``) a library holding one PNG of ``--size-mb``: a small picture followed by a private
ancillary chunk of random bytes, so it is a valid PNG the import accepts, incompressible, and written without being
held in memory. Serves it with the real ``workbench gallery``, signs in with Chromium, and takes two links for that
photo from the page: the viewer's "Download original" (``/workbench/media/<ticket>``, tornado's StaticFileHandler)
and the selection bar's zip form (``POST /workbench/zip``, zipstream-ng, ``ZIP_STORED``). Then, in alternating
rounds, a urllib client with the visitor's cookies reads each response in 1 MiB reads. Measured per download: MB/s,
and the server process's peak RSS above its RSS just before (psutil, sampled every 20 ms): a zip built in memory
would add about the zip's size. Client and server share the 2-core machine; figures are from one run.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import statistics
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import zlib
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
USER, PASSWORD = "bench", "zip-bench-password"


def big_png(path: Path, size_mb: int) -> Path:
    """A 64x64 PNG with a ``prVt`` chunk of random bytes before IEND, written in 8 MiB pieces."""
    import io

    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (30, 90, 160)).save(buf, "PNG")
    png = buf.getvalue()
    iend = png.rindex(b"IEND") - 4
    length = size_mb * 1024 * 1024
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(png[:iend])
        f.write(struct.pack(">I", length) + b"prVt")
        crc = zlib.crc32(b"prVt")
        left = length
        while left:
            piece = secrets.token_bytes(min(left, 8 * 1024 * 1024))
            crc = zlib.crc32(piece, crc)
            f.write(piece)
            left -= len(piece)
        f.write(struct.pack(">I", crc & 0xFFFFFFFF))
        f.write(png[iend:])
    return path


def build(work: Path, size_mb: int) -> Path:
    from workbench.library import Library
    root = work / f"library-{size_mb}"
    if (root / "library.json").exists():
        return root
    lib = Library.create(root)
    lib.import_files([big_png(work / "media" / f"big-{size_mb}.png", size_mb)], owner=USER, progress=False)
    # No thumbnails: decoding would read the 512 MB chunk into memory; the tile and the viewer work without.
    lib.add_user(USER, PASSWORD)
    return root


@contextlib.contextmanager
def server(library: Path):
    from browser import free_port, stop_group, wait_for_http
    port = free_port()
    log = open(library.parent / f"gallery-{port}.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "--library", str(library), "gallery", "--port",
                             str(port), "--no-show"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            cwd=REPO)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/voila/static/voila.js", proc=proc)
        yield base, proc
    finally:
        stop_group(proc, timeout_s=20)
        log.close()


def links_from_page(base: str) -> dict:
    """Sign in with Chromium; the photo's media link, a zip form for it, and the visitor's cookies."""
    from playwright.sync_api import sync_playwright

    from browser import CHROMIUM, CHROMIUM_ARGS
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        ctx = b.new_context(viewport={"width": 1400, "height": 900})
        page = ctx.new_page()
        page.goto(base + "/", timeout=120_000)
        page.fill("input[name=name]", USER)
        page.fill("input[name=password]", PASSWORD)
        page.click(".wb-login-submit")
        page.wait_for_selector(".wb-tile", timeout=120_000)
        page.locator(".wb-tile .wb-select").first.click()
        page.wait_for_selector(".wb-zip-form", timeout=60_000)
        form = {"ticket": page.get_attribute(".wb-zip-form input[name=ticket]", "value"),
                "_xsrf": page.get_attribute(".wb-zip-form input[name=_xsrf]", "value")}
        page.locator(".wb-tile .wb-open").first.click()
        href = page.wait_for_selector("a.wb-download", timeout=60_000).get_attribute("href")
        cookies = "; ".join(f"{c['name']}={c['value']}" for c in ctx.cookies())
        # Keep the page's kernel alive while we download: close nothing until the measurements are done.
        out = {"media_url": base + href, "zip_url": base + "/workbench/zip", "form": form, "cookies": cookies}
        ctx.close()
        b.close()
    return out


def download(request: urllib.request.Request, proc: psutil.Process) -> dict:
    """Read the whole response in 1 MiB reads while sampling the server's RSS."""
    base_rss = proc.memory_info().rss
    peak = [base_rss]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            with contextlib.suppress(psutil.Error):
                peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.02)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    n = 0
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as r:
        status = r.status
        while True:
            piece = r.read(1024 * 1024)
            if not piece:
                break
            n += len(piece)
    seconds = time.perf_counter() - start
    done.set()
    t.join()
    return {"status": status, "bytes": n, "seconds": seconds, "mb_s": n / 1e6 / seconds,
            "rss_added_mb": (peak[0] - base_rss) / 1e6}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-mb", type=int, default=512)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--work", type=Path, default=Path("/tmp/wb-zip-bench"))
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    library = build(args.work, args.size_mb)
    with server(library) as (base, popen):
        proc = psutil.Process(popen.pid)
        got = links_from_page(base)
        idle_mb = proc.memory_info().rss / 1e6
        headers = {"Cookie": got["cookies"]}
        results: dict[str, list[dict]] = {"media handler": [], "zip handler": []}
        for _ in range(args.rounds):
            results["media handler"].append(download(urllib.request.Request(got["media_url"], headers=headers), proc))
            body = urllib.parse.urlencode(got["form"]).encode()
            results["zip handler"].append(download(urllib.request.Request(
                got["zip_url"], data=body, headers={**headers, "Content-Type": "application/x-www-form-urlencoded"}),
                proc))
    print(f"one {args.size_mb} MiB original, {args.rounds} alternating rounds, server RSS idle {idle_mb:.0f} MB")
    for name, rows in results.items():
        each = ", ".join(f"{r['mb_s']:.0f}" for r in rows)
        print(f"{name:14s} {statistics.median(r['mb_s'] for r in rows):7.0f} MB/s (median; {each}), server RSS "
              f"added at most {max(r['rss_added_mb'] for r in rows):.1f} MB, bytes {rows[0]['bytes']:,}")
    ratio = (statistics.median(r["mb_s"] for r in results["zip handler"])
             / statistics.median(r["mb_s"] for r in results["media handler"]))
    print(f"zip / media handler throughput: {ratio:.2f}x")
    if args.json:
        args.json.write_text(json.dumps({"size_mb": args.size_mb, "results": results, "ratio": ratio}, indent=2))


if __name__ == "__main__":
    main()
