"""The one HEIF orientation rule, shared by metadata (upright size) and decoding (upright pixels).

libheif applies the container's ``irot``/``imir`` boxes while decoding, and pillow-heif then resets the EXIF
orientation it exposes to 1 (keeping the file's value as ``original_orientation``). When the container has
such a transform (iPhone, Samsung), nothing more may be done: rotating again by EXIF turns the picture twice.
Only when the container has no transform at all and the EXIF says otherwise (e.g. a converter that wrote
EXIF 6 but no ``irot``; such files are visibly sideways in viewers that ignore EXIF) is the EXIF value applied.
"""
from __future__ import annotations

from typing import Any


def has_container_transform(heif_image: Any) -> bool:
    """Whether a pillow-heif image carries irot/imir; if pillow-heif's internals change, assume it does
    (never rotate twice)."""
    try:
        return any(t[0] in ("irot", "imir") for t in heif_image._c_image.transformations)
    except Exception:
        return True


def orientation_to_apply(heif_image: Any, original_orientation: Any) -> int:
    """The EXIF orientation still to apply after libheif has decoded ``heif_image``."""
    try:
        o = int(original_orientation or 1)
    except (TypeError, ValueError):
        o = 1
    if o not in range(1, 9) or has_container_transform(heif_image):
        return 1
    return o
