"""A gallery visitor without a browser: HTTP with cookies (requests) and the kernel websocket (tornado), speaking
what Voilà's page speaks. Used by the server, attack and load tests against the real ``workbench gallery``."""
from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
import requests

from browser import run_in_own_loop

V1 = "v1.kernel.websocket.jupyter.org"


class Visitor:
    """One browser's worth of cookies against one server."""

    def __init__(self, base: str):
        self.base = base
        self.http = requests.Session()

    def get(self, path: str, **kw: Any) -> requests.Response:
        kw.setdefault("timeout", 120)
        return self.http.get(self.base + path, **kw)

    def post(self, path: str, data: dict, **kw: Any) -> requests.Response:
        kw.setdefault("timeout", 120)
        if "_xsrf" not in data:
            data = {**data, "_xsrf": self.xsrf()}
        return self.http.post(self.base + path, data=data, **kw)

    def xsrf(self) -> str:
        if not self.http.cookies.get("_xsrf"):
            self.get("/login", allow_redirects=False)
        return self.http.cookies.get("_xsrf", "")

    def sign_in(self, name: str, password: str) -> requests.Response:
        """POST the sign-in form; the session cookie is kept for later requests."""
        return self.post("/login", {"name": name, "password": password, "next": "/"}, allow_redirects=False)

    def sign_out(self) -> requests.Response:
        return self.post("/logout", {}, allow_redirects=False)

    def page(self, query: str = "") -> tuple[requests.Response, str | None]:
        """Load the gallery's Voilà app, ``/app`` (this is what starts a kernel); (response, kernel id or None)."""
        r = self.get("/app" + query, allow_redirects=False)
        m = re.search(r'"kernelId": "([0-9a-f-]+)"', r.text)
        return r, (m.group(1) if m else None)

    @property
    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.http.cookies)

    def talk(self, kernel_id: str, msgs: list, *, v1: bool = True, listen_s: float = 6.0, raw: list | None = None,
             until: str | None = None) -> list[dict]:
        """Open a kernel websocket as this visitor, send ``msgs`` (dicts, sent as v1 frames) and ``raw`` frames
        (bytes, sent as they are), and return what arrived within ``listen_s`` (or until a message of type
        ``until``). A refused handshake raises ``tornado.websocket.WebSocketError`` / ``HTTPClientError``."""
        return run_in_own_loop(talk(self.base, kernel_id, msgs, cookie=self.cookie_header, v1=v1, listen_s=listen_s,
                                    raw=raw or [], until=until))


def message(msg_type: str, content: dict, channel: str = "shell", buffers: list | None = None,
            metadata: dict | None = None) -> dict:
    return {"header": {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "username": "visitor", "session": "s",
                       "date": "", "version": "5.3"},
            "parent_header": {}, "metadata": metadata or {}, "content": content, "channel": channel,
            "buffers": buffers or []}


def request_states(comm_id: str = "control") -> list[dict]:
    """What @jupyter-widgets/base sends to fetch every widget's state: open the control comm, ask for states."""
    return [message("comm_open", {"comm_id": comm_id, "target_name": "jupyter.widget.control", "data": {}},
                    metadata={"version": "1.0.0"}),
            message("comm_msg", {"comm_id": comm_id, "data": {"method": "request_states"}})]


def execute(code: str) -> dict:
    return message("execute_request", {"code": code, "silent": False, "store_history": False,
                                       "user_expressions": {}, "allow_stdin": False})


def v1_frame(msg: dict) -> bytes:
    """A message in the v1 binary websocket protocol (what JupyterLab-based frontends speak)."""
    from jupyter_server.services.kernels.connection.base import serialize_msg_to_ws_v1
    parts = [json.dumps(msg[k]).encode() for k in ("header", "parent_header", "metadata", "content")]
    return serialize_msg_to_ws_v1(parts + list(msg.get("buffers") or []), msg["channel"])


def decode_v1(raw: bytes) -> dict:
    from jupyter_server.services.kernels.connection.base import deserialize_msg_from_ws_v1
    channel, parts = deserialize_msg_from_ws_v1(raw)
    return {"channel": channel, "header": json.loads(parts[0]), "parent_header": json.loads(parts[1]),
            "content": json.loads(parts[3]), "buffers": parts[4:], "msg_type": json.loads(parts[0])["msg_type"]}


async def talk(base: str, kernel_id: str, msgs: list, *, cookie: str = "", v1: bool = True, listen_s: float = 6.0,
               raw: list | None = None, until: str | None = None) -> list[dict]:
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    url = f"ws{base[4:]}/api/kernels/{kernel_id}/channels?session_id={uuid.uuid4().hex}"
    req = HTTPRequest(url, headers={"Cookie": cookie, "Origin": base} if cookie else {"Origin": base})
    ws = await websocket_connect(req, subprotocols=[V1] if v1 else None)
    for frame in raw or []:
        await ws.write_message(frame, binary=True)
    for m in msgs:
        await ws.write_message(v1_frame(m) if v1 else json.dumps(m), binary=v1)
    got: list[dict] = []
    deadline = time.monotonic() + listen_s
    while (left := deadline - time.monotonic()) > 0:
        try:
            frame = await asyncio.wait_for(ws.read_message(), left)
        except asyncio.TimeoutError:
            break
        if frame is None:
            got.append({"msg_type": "<closed>", "close_code": ws.close_code})
            break
        if isinstance(frame, bytes):
            got.append(decode_v1(frame))
        else:
            d = json.loads(frame)
            got.append({"msg_type": d["header"]["msg_type"], "channel": d.get("channel"), "raw": frame,
                        "content": d.get("content", {})})
        if until is not None and got[-1]["msg_type"] == until:
            break
    ws.close()
    return got


def kernels_of(server_pid: int) -> list[psutil.Process]:
    """The server's kernel processes: ipykernel children, or forks of its fork server (which carry the fork
    server's command line; the fork server itself is the server's own child)."""
    out = []
    for p in psutil.Process(server_pid).children(recursive=True):
        try:
            cmd = " ".join(p.cmdline())
            if "ipykernel" in cmd or ("workbench.gallery.forkserver" in cmd and p.ppid() != server_pid):
                out.append(p)
        except psutil.NoSuchProcess:
            continue
    return out


def server_pid(log: Path) -> int:
    """The `workbench gallery` process serving on this log (the one whose children are the kernels)."""
    for p in psutil.process_iter(["cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if "workbench" in cmd and " gallery " in f" {cmd} " and str(log.parent) in cmd:
            return p.pid
    raise AssertionError("gallery server process not found")
