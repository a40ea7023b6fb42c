"""Compression policies: what to do with photos (and videos), chosen by name or read from a JSON file.

Built-in policies::

    lossless   photos: the smallest verified lossless form (JPEG -> JPEG XL with exact reconstruction,
               PNG/TIFF/BMP -> PNG/WebP/JPEG XL lossless); videos: untouched. The default: it loses nothing.
    balanced   photos: AVIF at the lowest quality with SSIM >= 0.98; videos: H.265 CRF 28
    space      photos: AVIF at SSIM >= 0.95; videos: AV1 CRF 35

A file policy is JSON with the same fields, e.g.::

    {"name": "archive", "images": {"mode": "lossy", "codec": "jxl", "metric": "ssimulacra2", "target": 80},
     "videos": {"codec": "av1", "target_ssim": 0.97}}

Applying a policy writes new versions next to the originals (``derived/versions/<policy>/``) and records them;
the originals are kept until ``Library.replace_originals`` (``compress/replace.py``) lets verified versions
replace them.

Named policies saved in a library (by the compression tuner dashboard, or ``Library.save_policy``) live in its
``policies/NAME.json`` and are loaded by name like the built-in ones: ``workbench compress --policy NAME``.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from workbench.errors import WorkbenchError

IMAGE_CODECS = ("jpeg", "webp", "avif", "heic", "jxl")


@dataclass
class ImageRule:
    mode: str = "lossless"          # lossless | lossy
    codec: str = "avif"             # lossy only
    quality: int | None = None      # a fixed quality, or None to search for the target
    metric: str = "ssim"
    target: float = 0.98


@dataclass
class VideoRule:
    codec: str = "h265"
    crf: int | None = None
    target_ssim: float | None = None   # when set, the highest CRF whose sampled frames reach this mean SSIM


@dataclass
class Policy:
    name: str
    images: ImageRule = field(default_factory=ImageRule)
    videos: VideoRule | None = None

    def describe(self) -> dict:
        return asdict(self)


BUILT_IN = {
    "lossless": Policy("lossless"),
    "balanced": Policy("balanced", ImageRule("lossy", "avif", None, "ssim", 0.98), VideoRule("h265", 28)),
    "space": Policy("space", ImageRule("lossy", "avif", None, "ssim", 0.95), VideoRule("av1", 35)),
}


#: A saved policy's name: it becomes a file name and a folder under derived/versions/, so letters, digits, "-", "_"
#: and "." only, starting with a letter or digit.
POLICY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def policy_from_dict(data: dict, source: str) -> Policy:
    """A policy from its JSON form; ``source`` names where it came from in the error messages."""
    try:
        images = ImageRule(**data.get("images", {}))
        videos = VideoRule(**data["videos"]) if data.get("videos") else None
        pol = Policy(str(data.get("name") or Path(source).stem), images, videos)
    except (ValueError, TypeError, AttributeError) as e:
        raise WorkbenchError(f"{source}: not a valid policy ({e}); see `workbench compress --help`") from e
    if images.mode not in ("lossless", "lossy"):
        raise WorkbenchError(f"{source}: images.mode must be 'lossless' or 'lossy', not {images.mode!r}")
    if images.mode == "lossy":
        if images.codec not in IMAGE_CODECS:
            raise WorkbenchError(f"{source}: images.codec must be one of {', '.join(IMAGE_CODECS)}, "
                                 f"not {images.codec!r}")
        if images.quality is not None and not 0 <= images.quality <= 100:
            raise WorkbenchError(f"{source}: images.quality must be within 0..100, not {images.quality!r}")
        from workbench.compress.metrics import METRICS
        if images.metric not in METRICS:
            raise WorkbenchError(f"{source}: images.metric must be one of {', '.join(METRICS)}, "
                                 f"not {images.metric!r}")
    return pol


def saved_policies(folder: Path | None) -> list[str]:
    """Names of the policies saved in ``folder`` (a library's ``policies/``), sorted."""
    if folder is None or not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.json") if POLICY_NAME.match(p.stem))


def load_policy(name_or_path: str, folder: Path | None = None) -> Policy:
    """A built-in policy by name, a policy saved in ``folder`` by name, or one read from a JSON file path; errors
    say what is wrong and what is allowed."""
    if name_or_path in BUILT_IN:
        return BUILT_IN[name_or_path]
    if folder is not None and POLICY_NAME.match(name_or_path) and (folder / f"{name_or_path}.json").is_file():
        p = folder / f"{name_or_path}.json"
    else:
        p = Path(name_or_path).expanduser()
    if not p.is_file():
        names = [*BUILT_IN, *saved_policies(folder)]
        raise WorkbenchError(f"no policy {name_or_path!r}: use one of {', '.join(names)} or a JSON file path")
    try:
        data = json.loads(p.read_text())
    except ValueError as e:
        raise WorkbenchError(f"{p}: not a valid policy ({e}); see `workbench compress --help`") from e
    if not isinstance(data, dict):
        raise WorkbenchError(f"{p}: a policy is a JSON object; see `workbench compress --help`")
    return policy_from_dict(data, str(p))


def save_policy(policy: Policy, folder: Path) -> Path:
    """Write ``policy`` as ``folder/NAME.json`` so it can be applied by name later. Refuses built-in names and
    names already saved: versions are recorded per policy name, so changing what a name means would leave
    earlier versions looking as if made by the new rules."""
    if not POLICY_NAME.match(policy.name):
        raise WorkbenchError(f"{policy.name!r} cannot be a policy name: use letters, digits, '-', '_' or '.', "
                             f"starting with a letter or digit (at most 64)")
    if policy.name in BUILT_IN:
        raise WorkbenchError(f"{policy.name!r} is a built-in policy; choose another name")
    path = folder / f"{policy.name}.json"
    if path.exists():
        raise WorkbenchError(f"a policy named {policy.name!r} is already saved ({path}); choose another name")
    policy_from_dict(policy.describe(), str(path))  # the same checks loading will make
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(policy.describe(), indent=2) + "\n")
    tmp.replace(path)
    return path
