"""Minimal ISO-BMFF (MP4/MOV/CR3) box walker.

Why it exists: PyAV 18 no longer exposes a stream's display-matrix side data (FFmpeg 7 dropped the ``rotate``
tag), and exifread cannot open Canon CR3. Both answers sit in a few small header boxes (``moov/trak/tkhd``,
``moov/uuid/CMTn``), so we read those boxes directly and never touch sample data. Every reader here is bounded
and returns None instead of raising on malformed input.
"""
from __future__ import annotations

import math
import struct
from typing import BinaryIO, Iterator

# The moov box of a phone video is a few MB at most; refuse to slurp anything absurd.
_MAX_MOOV_BYTES = 64 * 1024 * 1024
CR3_UUID = bytes.fromhex("85c0b687820f11e08111f4ce462b6a48")


def iter_boxes(buf: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[bytes, int, int]]:
    """Yield (type, payload_start, payload_end) for the boxes laid end to end in ``buf[start:end]``."""
    end = len(buf) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, typ = struct.unpack(">I4s", buf[pos:pos + 8])
        header = 8
        if size == 1:
            if pos + 16 > end:
                return
            size = struct.unpack(">Q", buf[pos + 8:pos + 16])[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield typ, pos + header, pos + size
        pos += size


def read_moov(fh: BinaryIO) -> bytes | None:
    """Return the payload of the top-level ``moov`` box, seeking past ``mdat`` wherever it is."""
    fh.seek(0, 2)
    file_size = fh.tell()
    pos = 0
    while pos + 8 <= file_size:
        fh.seek(pos)
        head = fh.read(16)
        if len(head) < 8:
            return None
        size, typ = struct.unpack(">I4s", head[:8])
        header = 8
        if size == 1 and len(head) >= 16:
            size = struct.unpack(">Q", head[8:16])[0]
            header = 16
        elif size == 0:
            size = file_size - pos
        if size < header:
            return None
        if typ == b"moov":
            if size > _MAX_MOOV_BYTES:
                return None
            fh.seek(pos + header)
            return fh.read(size - header)
        pos += size
    return None


def _find_children(buf: bytes, start: int, end: int, typ: bytes) -> list[tuple[int, int]]:
    return [(s, e) for t, s, e in iter_boxes(buf, start, end) if t == typ]


def video_track_rotation(moov: bytes) -> int | None:
    """Clockwise display rotation (0/90/180/270) from the first video track's ``tkhd`` matrix, else None."""
    for t_start, t_end in _find_children(moov, 0, len(moov), b"trak"):
        if not _is_video_trak(moov, t_start, t_end):
            continue
        for s, e in _find_children(moov, t_start, t_end, b"tkhd"):
            return _tkhd_rotation(moov[s:e])
    return None


def _is_video_trak(buf: bytes, start: int, end: int) -> bool:
    for s, e in _find_children(buf, start, end, b"mdia"):
        for hs, _ in _find_children(buf, s, e, b"hdlr"):
            # version/flags (4) + pre_defined (4) + handler_type (4)
            if buf[hs + 8:hs + 12] == b"vide":
                return True
    return False


def _tkhd_rotation(tkhd: bytes) -> int | None:
    if len(tkhd) < 4:
        return None
    version = tkhd[0]
    # After version/flags: times and ids (v0: 20 bytes, v1: 32), reserved 8, layer/group/volume/reserved 8.
    matrix_at = 4 + (32 if version == 1 else 20) + 8 + 8
    if len(tkhd) < matrix_at + 36:
        return None
    a, b, _u, c, d = struct.unpack(">iiiii", tkhd[matrix_at:matrix_at + 20])
    if a == b == c == d == 0:
        return None
    # The matrix maps stored to displayed pixels; for a 90-degree clockwise display it is (0,1,-1,0).
    angle = math.degrees(math.atan2(b, a))
    return int(round(angle / 90.0)) % 4 * 90


def cr3_tiff_blocks(fh: BinaryIO) -> dict[str, bytes]:
    """The ``CMT1``..``CMT4`` TIFF blocks of a Canon CR3 (IFD0, Exif IFD, MakerNote, GPS IFD)."""
    moov = read_moov(fh)
    if not moov:
        return {}
    out: dict[str, bytes] = {}
    for typ, s, e in iter_boxes(moov):
        if typ == b"uuid" and moov[s:s + 16] == CR3_UUID:
            for ctyp, cs, ce in iter_boxes(moov, s + 16, e):
                if ctyp in (b"CMT1", b"CMT2", b"CMT3", b"CMT4"):
                    out[ctyp.decode()] = moov[cs:ce]
    return out
