"""Whether a detected face is good enough to recognise, decided from stored measurements and current settings.

Faces are never dropped: a face too small or too blurry is kept, listed with its reason, and left out of
recognition and clustering. Because the decision is made when reading, a curator who moves a threshold sees
the effect at once, with no re-detection.
"""
from __future__ import annotations

from workbench.settings import Settings

# Where the ranking score saturates: dlib's model reads 150 px crops, and a sharp face crop measures ~100+.
FULL_QUALITY_SIZE_PX = 100.0
FULL_QUALITY_SHARPNESS = 100.0


def quality_score(size_px: float, sharpness: float) -> float:
    """0..1 ranking score (bigger and sharper is better), used to pick covers and a track's best face."""
    return float(min(1.0, size_px / FULL_QUALITY_SIZE_PX) * min(1.0, sharpness / FULL_QUALITY_SHARPNESS))


def skip_reason(size_px: float, sharpness: float, has_embedding: bool, settings: Settings) -> str | None:
    """Why this face is not recognised, or None when it is usable."""
    if not has_embedding:
        return "the face model could not describe this crop"
    if size_px < settings.face_min_size_px:
        return f"too small to recognise ({int(size_px)} px < face_min_size_px {settings.face_min_size_px})"
    if sharpness < settings.face_min_sharpness:
        return (f"too blurry to recognise (sharpness {sharpness:.1f} < face_min_sharpness "
                f"{settings.face_min_sharpness:g})")
    return None
