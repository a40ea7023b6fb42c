"""Start the gallery, the dashboards and the processor as child processes, watch them, stop them together.

Three processes rather than threads of one: the gallery's server must answer while a stage works (the
processor's catalog reads and people clustering would hold the GIL), and a crash in one part must not take the
others down. Each child is told by the kernel to die with this process (``PR_SET_PDEATHSIG``), so ``kill -9`` of
``workbench serve`` leaves nothing behind holding a port or the processor lock; a processor that dies by itself
is started again after a pause that doubles up to a minute; if the dashboards stop (their port is taken), the
gallery and the processor go on; if the gallery stops, everything does.
"""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from workbench.serve.processor import EXIT_BUSY
from workbench.serve.status import processor_pid

#: The longest pause before a crashed processor is started again.
MAX_RESTART_DELAY_S = 60.0
#: How long children get to stop after SIGTERM before they are killed.
STOP_TIMEOUT_S = 10.0


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Child:
    name: str
    cmd: list[str]
    restart: bool = False                      # start again when it exits (the processor)
    essential: bool = True                     # when it exits, everything stops (the gallery)
    proc: subprocess.Popen | None = None
    delay_s: float = 1.0
    restart_at: float | None = None
    env: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        env = {**os.environ, **self.env}
        with warnings.catch_warnings():
            # LanceDB warns about fork when this process has a library open (the demo); the child execs at once.
            warnings.filterwarnings("ignore", message="lancedb fork support")
            self.proc = subprocess.Popen(self.cmd, env=env, preexec_fn=_die_with_parent)
        self.restart_at = None


def commands(library_root: Path, *, port: int, host: str, processor: bool, dashboards: bool,
             dashboards_port: int, preheat: int, allow_hosts: list[str]) -> list[Child]:
    """The children ``workbench serve`` runs (the same commands a person could run one by one)."""
    wb = [sys.executable, "-m", "workbench", "--library", str(library_root)]
    children = [Child("gallery", [*wb, "gallery", "--port", str(port), "--address", host, "--preheat",
                                  str(preheat), *[a for h in allow_hosts for a in ("--allow-host", h)]])]
    if dashboards:
        children.append(Child("dashboards", [*wb, "dashboards", "--port", str(dashboards_port), "--address", host],
                              essential=False))
    if processor:
        children.append(Child("processor", [sys.executable, "-m", "workbench.serve.processor", "--library",
                                            str(library_root)], restart=True))
    return children


def run(children: list[Child], say: Callable[[str], None]) -> int:
    """Start every child and watch them until a server exits or we are told to stop; returns the exit code."""
    stopping = {"signal": None}

    def on_signal(signum, _frame):
        stopping["signal"] = signum

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    for c in children:
        c.start()
    code = 0
    try:
        while stopping["signal"] is None:
            time.sleep(0.2)
            for c in list(children):
                rc = c.proc.poll() if c.proc else None
                if c.proc is None and c.restart_at is not None and time.monotonic() >= c.restart_at:
                    say(f"{c.name}: starting again")
                    c.start()
                    continue
                if rc is None:
                    continue
                if c.restart:
                    if rc == EXIT_BUSY:   # another processor works on this library: serve without one
                        say("processor: another process already processes this library; this server serves "
                            "without processing")
                        children.remove(c)
                        continue
                    say(f"{c.name}: exited with code {rc}; starting again in {c.delay_s:g} s")
                    c.proc, c.restart_at = None, time.monotonic() + c.delay_s
                    c.delay_s = min(MAX_RESTART_DELAY_S, c.delay_s * 2)
                    continue
                if not c.essential:     # e.g. the dashboards' port is taken: the gallery goes on
                    say(f"{c.name}: exited with code {rc}; serving without it")
                    children.remove(c)
                    continue
                say(f"{c.name}: exited with code {rc}; stopping")
                code = rc or 1
                stopping["signal"] = -1
                break
    finally:
        stop(children)
    return code


def stop(children: list[Child]) -> None:
    """SIGTERM to every child still running, then SIGKILL to those still there after ``STOP_TIMEOUT_S``."""
    live = [c.proc for c in children if c.proc and c.proc.poll() is None]
    for p in live:
        p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for p in live:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def serve(library_root: Path, *, port: int = 8866, host: str = "127.0.0.1", processor: bool = True,
          dashboards: bool = True, dashboards_port: int = 5006, preheat: int = 0,
          allow_hosts: list[str] | None = None, say: Callable[[str], None] = print) -> int:
    """Serve the gallery (and dashboards) of a library and process its new media, until stopped."""
    if processor and (pid := processor_pid(library_root)) is not None:
        say(f"processor: process {pid} already processes this library; this server serves without processing")
        processor = False
    children = commands(library_root, port=port, host=host, processor=processor, dashboards=dashboards,
                        dashboards_port=dashboards_port, preheat=preheat, allow_hosts=allow_hosts or [])
    say(f"Gallery:    http://{host}:{port}/")
    if dashboards:
        say(f"Dashboards: http://{host}:{dashboards_port}/")
    say("Processor:  " + ("new media are processed in the background (`workbench status` shows what it does)"
                          if processor else "off"))
    return run(children, say)
