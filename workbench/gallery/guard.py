"""The kernel websocket guard: the browser may talk to the gallery's kernel only in ipywidgets' language.

A Voilà page keeps a websocket to a live Python kernel. Whoever holds the page could send that kernel any Jupyter
message, and an ``execute_request`` runs arbitrary code as the server's user, next to the whole library. Voilà
0.5 already ignores message types outside its own list, but that list is Voilà's choice and it still lets
``shutdown_request`` through; this guard is ours, stricter, and logged, so the gallery does not rest on a detail of
somebody else's defaults:

* incoming: only ``comm_open`` (to ipywidgets' own targets), ``comm_msg``, ``comm_close``, ``comm_info_request`` and
  ``kernel_info_request`` on the shell channel reach the kernel; anything else is dropped and logged (type only,
  never content: a widget message may carry what somebody typed);
* outgoing: only status, comm and info replies reach the browser, so the kernel's stdout, stderr, execution
  results and tracebacks (of the notebook or of a callback) never appear in the page or its websocket;
* every incoming frame is checked (``frames.parse_v1``: v1 protocol, offset count and offsets within the frame)
  before anything parses it; a bad frame closes that one connection, the server and other pages go on.

``workbench gallery`` configures it as Voilà's ``kernel_websocket_connection_class``.
"""
from __future__ import annotations

from typing import Any

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection

from workbench.gallery.frames import BadFrame, parse_v1

#: Message types the browser may send: what ipywidgets' frontend needs to show widgets and report clicks.
ALLOWED_INCOMING = frozenset({"comm_open", "comm_msg", "comm_close", "comm_info_request", "kernel_info_request"})
#: Channels those messages travel on.
ALLOWED_CHANNELS = frozenset({"shell"})
#: Comm targets the browser may open: ipywidgets' widget and control targets (the control comm fetches state).
ALLOWED_COMM_TARGETS = frozenset({"jupyter.widget", "jupyter.widget.control"})
#: Message types the browser may receive.
ALLOWED_OUTGOING = frozenset({"status", "comm_open", "comm_msg", "comm_close", "comm_info_reply",
                              "kernel_info_reply"})

V1 = "v1.kernel.websocket.jupyter.org"


class GalleryKernelConnection(ZMQChannelsWebsocketConnection):
    """Voilà's kernel websocket connection, restricted to ipywidgets' messages in both directions."""

    def _incoming(self, ws_msg: Any) -> tuple[str | None, dict[str, Any], dict[str, Any]]:
        """(channel, header, content) of a browser message, checked before it is parsed (``BadFrame``)."""
        if self.subprotocol != V1:
            raise BadFrame("only the v1 kernel websocket protocol is accepted")
        frame = parse_v1(ws_msg)
        header = frame.header
        content = frame.json_part(4) if header.get("msg_type") == "comm_open" else {}
        return frame.channel, header, content

    def allows(self, ws_msg: Any) -> tuple[bool, str]:
        """Whether a browser message may reach the kernel, and its type (for the log). A frame that is not a
        well-formed v1 message raises ``BadFrame``."""
        channel, header, content = self._incoming(ws_msg)
        msg_type = str(header.get("msg_type"))
        if msg_type not in ALLOWED_INCOMING or channel not in ALLOWED_CHANNELS:
            return False, f"{msg_type} on {channel}"
        if msg_type == "comm_open" and content.get("target_name") not in ALLOWED_COMM_TARGETS:
            return False, f"comm_open to {str(content.get('target_name'))[:60]!r}"
        return True, msg_type

    def handle_incoming_message(self, incoming_msg: Any) -> None:
        try:
            ok, what = self.allows(incoming_msg)
        except BadFrame as e:
            self.log.warning("gallery guard: closed a websocket that sent a malformed frame (%s; kernel %s)", e,
                             self.kernel_id)
            self.websocket_handler.close(1008, "malformed message")
            return
        if not ok:
            self.log.warning("gallery guard: dropped a %s message from the browser (kernel %s)", what,
                             self.kernel_id)
            return
        super().handle_incoming_message(incoming_msg)

    def handle_outgoing_message(self, stream: Any, outgoing_msg: list[Any]) -> None:
        try:
            _, fed = self.session.feed_identities(outgoing_msg)
            msg_type = self.session.unpack(fed[1]).get("msg_type")
        except Exception:
            return
        if msg_type in ALLOWED_OUTGOING:
            super().handle_outgoing_message(stream, outgoing_msg)
