"""JPEG XL size and orientation from the codestream header, without decoding.

Why: pillow-jxl-plugin decodes the whole image inside ``Image.open`` (measured: it calls the decoder in
``_open``), which is far too slow for a metadata pass over every import. The codestream's SizeHeader and the
first fields of ImageMetadata (ISO/IEC 18181-1, section A) hold width, height and orientation in a few bytes.
libjxl applies that orientation when decoding, so the upright size swaps width and height for 5..8.
"""
from __future__ import annotations

import struct
from pathlib import Path

from .bmff import iter_boxes

_CODESTREAM_SIG = b"\xff\x0a"
_CONTAINER_SIG = b"\x00\x00\x00\x0cJXL \r\n\x87\n"
_RATIOS = {1: (1, 1), 2: (12, 10), 3: (4, 3), 4: (3, 2), 5: (16, 9), 6: (5, 4), 7: (2, 1)}
_HEAD_BYTES = 256 * 1024


class _Bits:
    """LSB-first bit reader, as the JPEG XL codestream is packed."""

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def u(self, n: int) -> int:
        v = 0
        for i in range(n):
            byte = self.data[(self.pos) >> 3]
            v |= ((byte >> (self.pos & 7)) & 1) << i
            self.pos += 1
        return v

    def u32(self, *dist: int) -> int:
        return self.u(dist[self.u(2)])


def _codestream_start(head: bytes) -> bytes | None:
    if head.startswith(_CODESTREAM_SIG):
        return head
    if not head.startswith(_CONTAINER_SIG):
        return None
    parts: list[bytes] = []
    for typ, s, e in iter_boxes(head, 0, len(head)):
        if typ == b"jxlc":
            return head[s:e]
        if typ == b"jxlp":
            parts.append(head[s + 4:e])
            if sum(len(p) for p in parts) >= 64:
                break
    # A jxlc/jxlp box may run past our read window; iter_boxes stops at a truncated box, so retry tolerantly.
    if not parts:
        pos = head.find(b"jxlc")
        if pos >= 4:
            return head[pos + 4:]
        pos = head.find(b"jxlp")
        if pos >= 4:
            return head[pos + 8:]
        return None
    return b"".join(parts)


def read_jxl_header(path: Path) -> tuple[int, int, int] | None:
    """(stored_width, stored_height, orientation 1..8) or None when the header cannot be read."""
    with open(path, "rb") as fh:
        head = fh.read(_HEAD_BYTES)
    cs = _codestream_start(head)
    if not cs or not cs.startswith(_CODESTREAM_SIG):
        return None
    try:
        b = _Bits(cs[2:])
        small = b.u(1)
        if small:
            height = (b.u(5) + 1) * 8
        else:
            height = b.u32(9, 13, 18, 30) + 1
        ratio = b.u(3)
        if ratio == 0:
            width = (b.u(5) + 1) * 8 if small else b.u32(9, 13, 18, 30) + 1
        else:
            num, den = _RATIOS[ratio]
            width = height * num // den
        orientation = 1
        all_default = b.u(1)
        if not all_default:
            extra_fields = b.u(1)
            if extra_fields:
                orientation = b.u(3) + 1
        return width, height, orientation
    except (IndexError, KeyError, struct.error):
        return None
