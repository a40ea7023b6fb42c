"""Gallery kernels forked from one warm process instead of started from nothing.

A gallery kernel used to be a fresh ``python -m ipykernel_launcher``: ~2 s of CPU importing numpy, pandas,
pyarrow, lancedb, ipykernel and the gallery before it could show a single photo, and ~105 MB of private memory
for those modules in every kernel (docs/benchmarks.md, gallery load). Forty viewers arriving at once queued
behind 40 x 2 s of imports on two cores.

Here the server starts one *fork server* when it starts: a process that imports all of that once and then only
forks. Each kernel is a fork of it (a few ms), so it starts with every module already imported and shares their
memory with its siblings until it writes to it (copy-on-write; ``gc.freeze`` keeps the collector from touching
the shared objects). The fork server never opens a library, a socket to a browser or a kernel connection: the
child gets exactly what ``jupyter_client`` would have given a new process (its command line, its environment,
including whom it acts for as set by the server's page handler, and its working folder) over a socket pair only
the server holds, and then runs ipykernel as ``ipykernel_launcher`` would.

The server side (``ForkProvisioner``) follows the kernel by a pidfd (Linux): signals and the exit check go to
that exact process even after its pid is reused. If the fork server cannot be started, kernels start the usual
way (logged).
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import uuid
from typing import Any

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning import LocalProvisioner
from jupyter_server.services.kernels.kernelmanager import ServerKernelManager

log = logging.getLogger("workbench.gallery")

#: What the fork server imports before it forks: everything a gallery kernel imports on its way to a ready page.
WARM_MODULES = (
    "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipywidgets", "IPython.core.interactiveshell",
    "comm", "numpy", "pandas", "pyarrow", "lancedb", "PIL.Image", "PIL.WebPImagePlugin", "PIL.JpegImagePlugin",
    "workbench.library", "workbench.gallery.app", "workbench.gallery.shell", "workbench.gallery.photos",
    "workbench.gallery.albums", "workbench.gallery.people", "workbench.gallery.places",
    "workbench.gallery.share", "workbench.gallery.viewer", "workbench.gallery.manage", "workbench.gallery.filters",
    "tornado.websocket",
)
#: The only command the fork server runs: ipykernel, as jupyter_client's kernel spec for python3 starts it.
KERNEL_MODULE = "ipykernel_launcher"
#: How long the server waits for the fork server to answer a fork (the first waits for its imports).
FORK_TIMEOUT_S = 120.0


class ForkServerError(RuntimeError):
    """The fork server is not there or did not answer."""


# -- the server's side -------------------------------------------------------------------------------------------
class ForkServer:
    """The server's handle on its fork server: started once, asked for one kernel at a time."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self._sock: socket.socket | None = None
        self._reader: Any = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the fork server (it imports in the background; the first fork waits for it)."""
        ours, theirs = socket.socketpair()
        self.proc = subprocess.Popen([sys.executable, "-m", "workbench.gallery.forkserver", str(theirs.fileno())],
                                     pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL)
        theirs.close()
        self._sock = ours
        self._reader = ours.makefile("rb")

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def fork(self, cmd: list[str], env: dict[str, str], cwd: str | None) -> int:
        """A new kernel process running ``cmd`` (ipykernel only) with ``env`` in ``cwd``; its pid."""
        if not self.alive or self._sock is None:
            raise ForkServerError("the gallery's fork server is not running")
        request = json.dumps({"cmd": cmd, "env": env, "cwd": cwd}).encode() + b"\n"
        with self._lock:
            self._sock.settimeout(FORK_TIMEOUT_S)
            try:
                self._sock.sendall(request)
                line = self._reader.readline()
            except OSError as e:
                raise ForkServerError(f"the gallery's fork server did not answer: {e}") from e
        if not line:
            raise ForkServerError("the gallery's fork server has exited")
        answer = json.loads(line)
        if "pid" not in answer:
            raise ForkServerError(f"the gallery's fork server refused: {answer.get('error')}")
        return int(answer["pid"])

    def stop(self) -> None:
        if self._sock is not None:
            self._sock.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()


#: The one fork server of this process (started by the gallery server, ``server.py``).
FORK_SERVER = ForkServer()


class _Forked:
    """What the provisioner keeps of a forked kernel: its pid and a pidfd that names exactly that process."""

    def __init__(self, pid: int):
        self.pid = pid
        self.pidfd: int | None = os.pidfd_open(pid)

    def exited(self) -> bool:
        if self.pidfd is None:
            return True
        readable, _, _ = select.select([self.pidfd], [], [], 0)
        return bool(readable)

    def signal(self, signum: int) -> None:
        if self.pidfd is not None and not self.exited():
            signal.pidfd_send_signal(self.pidfd, signum)

    def close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


class ForkProvisioner(LocalProvisioner):
    """jupyter_client's local provisioner, launching by a fork of the warm fork server instead of ``Popen``."""

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        if not FORK_SERVER.alive:
            return await super().launch_kernel(cmd, **kwargs)
        env = dict(kwargs.get("env") or os.environ)
        cwd = str(kwargs.get("cwd") or os.getcwd())
        pid = await asyncio.get_running_loop().run_in_executor(None, FORK_SERVER.fork, cmd, env, cwd)
        self.process = _Forked(pid)        # type: ignore[assignment]
        self.pid = pid
        self.pgid = None                   # signals go to the process by its pidfd, never to a group by number
        self.cwd = cwd
        return self.connection_info

    def _forked(self) -> _Forked | None:
        return self.process if isinstance(self.process, _Forked) else None

    async def poll(self) -> int | None:
        f = self._forked()
        if f is None:
            return await super().poll()
        return 0 if f.exited() else None

    async def wait(self) -> int | None:
        f = self._forked()
        if f is None:
            return await super().wait()
        while not f.exited():
            await asyncio.sleep(0.1)
        f.close()
        self.process = None
        return 0

    async def send_signal(self, signum: int) -> None:
        f = self._forked()
        if f is None:
            return await super().send_signal(signum)
        f.signal(signum)

    async def kill(self, restart: bool = False) -> None:
        if self._forked() is None:
            return await super().kill(restart)
        await self.send_signal(signal.SIGKILL)

    async def terminate(self, restart: bool = False) -> None:
        if self._forked() is None:
            return await super().terminate(restart)
        await self.send_signal(signal.SIGTERM)


class ForkedKernelManager(ServerKernelManager):
    """Jupyter's per-kernel manager whose kernels are forks of the gallery's fork server."""

    async def _async_pre_start_kernel(self, **kw: Any):
        if self.provisioner is None:      # (not None on a restart: the same provisioner forks again)
            self.kernel_id = self.kernel_id or kw.pop("kernel_id", None) or str(uuid.uuid4())
            self.provisioner = ForkProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)
        return await super()._async_pre_start_kernel(**kw)


# -- the fork server itself ---------------------------------------------------------------------------------------
def _warm() -> None:
    """Import what every kernel needs, then freeze those objects out of the collector's reach (a collection in a
    child would otherwise write to every shared object's header and copy its page)."""
    import gc
    import importlib
    import warnings
    # lancedb resets its background loop in a forked child and warns that its fork support is experimental: the
    # fork server never opens a database, so its children start from a clean runtime.
    warnings.filterwarnings("ignore", message=".*fork support is experimental.*")
    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except Exception as e:  # a module that cannot be imported here is imported by the kernel (and fails there)
            print(f"[gallery fork server] could not import {name}: {e}", file=sys.stderr, flush=True)
    gc.collect()
    gc.freeze()


def _child(request: dict, control: socket.socket, reader: Any) -> None:
    """In the forked child: become the kernel the request describes (never returns)."""
    code = 1
    try:
        reader.close()
        control.close()
        os.setsid()                                   # its own session, as jupyter_client starts kernels
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the kernel waits for its own subprocesses
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        env = {str(k): str(v) for k, v in request["env"].items()}
        env["JPY_PARENT_PID"] = str(os.getppid())    # the kernel exits when the fork server does (parent_handle)
        os.environ.clear()
        os.environ.update(env)
        if request.get("cwd"):
            os.chdir(request["cwd"])
        cmd = list(request["cmd"])
        sys.argv = [KERNEL_MODULE, *cmd[3:]]
        if sys.path and sys.path[0] == "":
            del sys.path[0]
        from ipykernel.kernelapp import IPKernelApp
        app = IPKernelApp.instance()
        app.initialize([*cmd[3:], f"--IPKernelApp.parent_handle={os.getppid()}"])
        # ipywidgets registers its comm targets when it is imported inside a kernel; here it was imported before
        # there was one, so register them now (else the page's request for the widgets' state goes unanswered).
        import ipywidgets
        ipywidgets.register_comm_target()
        app.start()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 0
    except BaseException:
        import traceback
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def main(fd: int) -> None:
    """Serve fork requests on the socket ``fd`` until the server closes it."""
    control = socket.socket(fileno=fd)
    reader = control.makefile("rb")
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)     # exited kernels are reaped by the system
    signal.signal(signal.SIGINT, signal.SIG_IGN)      # Ctrl+C goes to the server, which shuts kernels down
    _warm()
    while True:
        line = reader.readline()
        if not line:
            return                                    # the server is gone: so are we (kernels follow, by poller)
        try:
            request = json.loads(line)
            cmd = request["cmd"]
            if not (isinstance(cmd, list) and len(cmd) >= 5 and cmd[1:3] == ["-m", KERNEL_MODULE]
                    and isinstance(request.get("env"), dict)):
                raise ValueError("only ipykernel kernels are forked")
        except (ValueError, KeyError, TypeError) as e:
            control.sendall(json.dumps({"error": str(e)}).encode() + b"\n")
            continue
        pid = os.fork()
        if pid == 0:
            _child(request, control, reader)
        control.sendall(json.dumps({"pid": pid}).encode() + b"\n")


if __name__ == "__main__":
    main(int(sys.argv[1]))
