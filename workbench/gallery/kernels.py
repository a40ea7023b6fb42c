"""The kernel budget: every gallery kernel belongs to one visitor, and there are only so many.

A kernel is a Python process of 100-300 MB. Before issue 15, each anonymous GET of ``/`` started one and kept it
for ten minutes, so a few hundred requests exhausted the machine. Now the page handler reserves a slot for a
known visitor (``reserve``) before Voilà starts the kernel, the kernel manager binds the new kernel to that
visitor (``claim``), and the slot is freed when the kernel shuts down (closed tab, idle cull, sign-out).
Past ``gallery_kernels_per_user`` (or ``gallery_kernels_per_share`` for a share link) a visitor's own kernels
whose pages are gone are shut down first; past that, and past ``gallery_max_kernels`` in total, the visitor gets
the "busy, try again" page.
"""
from __future__ import annotations

import contextvars
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager

#: A kernel that has had no websocket for this long after it started is "a page that is gone".
ABANDONED_AFTER_S = 30.0

#: The reservation of the request being served (set by the page handler, read when Voilà starts its kernel).
CURRENT_RESERVATION: contextvars.ContextVar["Reservation | None"] = contextvars.ContextVar("wb_reservation",
                                                                                        default=None)


class Busy(Exception):
    """No kernel can be started for this visitor now; the message says why (shown on the busy page)."""


@dataclass(frozen=True)
class Owner:
    #: What the caps count: ``user:<name>`` or ``share:<share id>``.
    key: str
    #: Whom the kernel acts for and who may talk to it: ``session:<sha256>`` or ``share:<share id>``.
    actor: str


@dataclass
class Reservation:
    owner: Owner
    token: str = field(default_factory=lambda: secrets.token_hex(8))
    kernel_id: str | None = None


@dataclass
class KernelBudget:
    max_total: int
    per_user: int
    per_share: int
    owners: dict[str, Owner] = field(default_factory=dict)
    started_at: dict[str, float] = field(default_factory=dict)
    pending: dict[str, Reservation] = field(default_factory=dict)

    def cap_of(self, owner: Owner) -> int:
        return self.per_share if owner.key.startswith("share:") else self.per_user

    def count(self, key: str | None = None) -> int:
        """Kernels (started or being started) of one owner key, or of everyone."""
        live = [o for o in self.owners.values() if key is None or o.key == key]
        waiting = [r for r in self.pending.values() if key is None or r.owner.key == key]
        return len(live) + len(waiting)

    def kernels_of(self, *, key: str | None = None, actor: str | None = None) -> list[str]:
        return [k for k, o in self.owners.items() if (key is None or o.key == key)
                and (actor is None or o.actor == actor)]

    def owner(self, kernel_id: str) -> Owner | None:
        return self.owners.get(kernel_id)

    def reserve(self, owner: Owner) -> Reservation:
        """A slot for one more kernel of ``owner``, or ``Busy``."""
        if self.count(owner.key) >= self.cap_of(owner):
            raise Busy("you have too many gallery pages open: close some tabs, then try again")
        if self.count() >= self.max_total:
            raise Busy("the gallery is busy right now: please try again in a minute")
        r = Reservation(owner)
        self.pending[r.token] = r
        return r

    def claim(self, reservation: Reservation, kernel_id: str) -> None:
        """Bind a started kernel to the reservation's owner (once)."""
        if reservation.kernel_id is not None or reservation.token not in self.pending:
            return
        reservation.kernel_id = kernel_id
        del self.pending[reservation.token]
        self.owners[kernel_id] = reservation.owner
        self.started_at[kernel_id] = time.monotonic()

    def release(self, reservation: Reservation) -> None:
        """Give back a slot whose kernel never started (the request failed or was refused)."""
        self.pending.pop(reservation.token, None)

    def forget(self, kernel_id: str) -> None:
        self.owners.pop(kernel_id, None)
        self.started_at.pop(kernel_id, None)

    def age_s(self, kernel_id: str) -> float:
        return time.monotonic() - self.started_at.get(kernel_id, time.monotonic())


class GalleryKernelManager(AsyncMappingKernelManager):
    """Jupyter's kernel manager plus the budget: binds each page's kernel to its visitor and forgets it at
    shutdown (however it ends: closed tab, idle cull, sign-out)."""

    budget: KernelBudget = KernelBudget(max_total=40, per_user=4, per_share=10)

    #: Scheduling priority of kernels (``nice``): set from ``gallery_kernel_nice`` by the server.
    kernel_nice: int = 0

    async def start_kernel(self, *args: Any, **kwargs: Any) -> str:
        kernel_id = await super().start_kernel(*args, **kwargs)
        self._lower_priority(kernel_id)
        env = kwargs.get("env") or {}
        reservation = CURRENT_RESERVATION.get()
        # Only a page request's kernel carries the actor; kernels started to fill the preheat pool do not.
        if reservation is not None and any(k.startswith("HTTP_X_WORKBENCH_ACTOR") for k in env):
            self.budget.claim(reservation, kernel_id)
        return kernel_id

    async def shutdown_kernel(self, kernel_id: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().shutdown_kernel(kernel_id, *args, **kwargs)
        finally:
            self.budget.forget(kernel_id)

    def _lower_priority(self, kernel_id: str) -> None:
        """Kernels yield the CPU to the server: a burst of kernels starting (3-4 s of CPU each) must not keep the
        sign-in page, media and other pages' websockets waiting."""
        if self.kernel_nice <= 0:
            return
        try:
            import psutil
            process = getattr(self.get_kernel(kernel_id).provisioner, "process", None)
            if process is not None:
                psutil.Process(process.pid).nice(self.kernel_nice)
        except Exception as e:  # a kernel that already exited, or no permission: it runs at normal priority
            self.log.debug("could not lower the priority of kernel %s: %s", kernel_id, e)

    def connections(self, kernel_id: str) -> int:
        return int(self._kernel_connections.get(kernel_id, 0))

    async def shut_down_abandoned(self, key: str) -> int:
        """Shut down ``key``'s kernels whose page is gone (no websocket, started a while ago); how many."""
        gone = [k for k in self.budget.kernels_of(key=key)
                if self.connections(k) == 0 and self.budget.age_s(k) > ABANDONED_AFTER_S]
        for k in gone:
            await self.shutdown_kernel(k)
        return len(gone)

    async def shut_down_actor(self, actor: str) -> int:
        """Shut down every kernel acting for ``actor`` (sign-out); how many."""
        mine = self.budget.kernels_of(actor=actor)
        for k in mine:
            if k in self:
                await self.shutdown_kernel(k)
            else:
                self.budget.forget(k)
        return len(mine)


def claim_preheated(manager: Any) -> None:
    """In preheat mode Voilà hands out pool kernels with ``get_rendered_notebook``: bind the one handed out to
    the page request's reservation."""
    original = manager.get_rendered_notebook

    async def get_rendered_notebook(*args: Any, **kwargs: Any):
        render_task, rendered, kernel_id = await original(*args, **kwargs)
        reservation = CURRENT_RESERVATION.get()
        if reservation is not None:
            manager.budget.claim(reservation, kernel_id)
        return render_task, rendered, kernel_id

    manager.get_rendered_notebook = get_rendered_notebook
