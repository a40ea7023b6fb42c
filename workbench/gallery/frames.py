"""Checking kernel websocket frames before anything parses them.

jupyter_server's v1 websocket protocol starts a binary frame with an 8-byte count of offsets, then the offsets,
then the parts (channel, header, parent header, metadata, content, buffers). Its parser, and Voilà's header
reader for outgoing frames, trust that count: a frame of 8 bytes saying "2**40 offsets" makes them build a list of
a trillion entries on the server's only event loop (issue 15, findings 1 and 2). Here the count and every offset
are checked against the frame's real length first; nothing else in the gallery reads a frame before this did.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

#: channel, header, parent_header, metadata, content: the parts every message has.
MESSAGE_PARTS = 5
#: Binary buffers one widget message may carry (ipywidgets sends a handful at most: an image, an array).
MAX_BUFFERS = 16


class BadFrame(ValueError):
    """A websocket frame that is not a well-formed kernel message (it is never parsed further)."""


@dataclass(frozen=True)
class Frame:
    """A checked v1 frame: its channel and its parts as bytes (header first, buffers last)."""
    channel: str
    parts: list[bytes]

    def json_part(self, index: int) -> dict[str, Any]:
        """Part ``index`` (1 header, 2 parent header, 3 metadata, 4 content) decoded as a JSON object."""
        try:
            value = json.loads(self.parts[index - 1])
        except (ValueError, UnicodeDecodeError) as e:
            raise BadFrame(f"part {index} is not JSON") from e
        if not isinstance(value, dict):
            raise BadFrame(f"part {index} is not a JSON object")
        return value

    @property
    def header(self) -> dict[str, Any]:
        return self.json_part(1)


def offsets_of(frame: bytes, *, max_buffers: int = MAX_BUFFERS) -> list[int]:
    """The offsets of a v1 frame after checking them: count within bounds, table inside the frame, each offset
    inside the frame and never going backwards, the last one the frame's end. Raises ``BadFrame`` otherwise,
    having read at most the offset table. (One offset per part start plus the end: channel, header, parent
    header, metadata, content, buffers, end.)"""
    if not isinstance(frame, (bytes, bytearray, memoryview)):
        raise BadFrame("a v1 kernel message is a binary frame")
    size = len(frame)
    if size < 8:
        raise BadFrame("frame shorter than its offset count")
    count = int.from_bytes(frame[:8], "little")
    if not MESSAGE_PARTS + 1 <= count <= MESSAGE_PARTS + 1 + max_buffers:
        raise BadFrame(f"offset count {count} out of range")
    table_end = 8 * (count + 1)
    if table_end > size:
        raise BadFrame("offset table longer than the frame")
    offsets = [int.from_bytes(frame[8 * (i + 1):8 * (i + 2)], "little") for i in range(count)]
    if offsets[0] != table_end:
        raise BadFrame("first part does not start after the offset table")
    if offsets[-1] != size:
        raise BadFrame("last offset is not the end of the frame")
    if any(b < a for a, b in zip(offsets, offsets[1:])):
        raise BadFrame("offsets out of order")
    return offsets


def parse_v1(frame: bytes, *, max_buffers: int = MAX_BUFFERS) -> Frame:
    """A checked v1 frame split into its channel and parts (no JSON decoded yet)."""
    o = offsets_of(frame, max_buffers=max_buffers)
    try:
        channel = bytes(frame[o[0]:o[1]]).decode("ascii")
    except UnicodeDecodeError as e:
        raise BadFrame("channel name is not ASCII") from e
    if channel not in ("shell", "iopub", "stdin", "control", "hb"):
        raise BadFrame(f"unknown channel {channel[:20]!r}")
    return Frame(channel, [bytes(frame[o[i]:o[i + 1]]) for i in range(1, len(o) - 1)])


def outgoing_header(message: Any) -> dict[str, Any] | None:
    """The header of a message on its way to the browser, or None if it is not a well-formed message: a checked
    replacement for Voilà's ``read_header_from_binary_message``, which trusts the offset count."""
    if isinstance(message, dict):
        header = message.get("header")
        return header if isinstance(header, dict) else None
    if isinstance(message, str):
        try:
            header = json.loads(message).get("header")
        except (ValueError, AttributeError):
            return None
        return header if isinstance(header, dict) else None
    try:
        return parse_v1(message, max_buffers=1 << 10).header
    except BadFrame:
        return None
