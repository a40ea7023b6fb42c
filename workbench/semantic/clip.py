"""CLIP image and text embeddings (open_clip, CPU) in one shared vector space.

Which weights: ``settings.clip_checkpoint`` (a local open_clip checkpoint file) wins; otherwise the named weights
``settings.clip_model`` / ``settings.clip_pretrained``, downloaded by open_clip on first use and cached (in
``settings.clip_cache_dir``, or the Hugging Face cache). ``model_id`` names the weights stably, so vectors made with
different weights are never mixed: ``"ViT-B-32/laion2b_s34b_b79k"`` or ``"ViT-B-32/file-<sha256[:12]>"``. With a
checkpoint, ``clip_pretrained`` still picks the image preprocessing when it is a known tag of ``clip_model`` (a copy
of the default weights then behaves exactly like the download).

Custom architectures: ``settings.clip_model`` may be the path of an open_clip model config ``.json`` (keys
``embed_dim``, ``vision_cfg``, ``text_cfg``); it is registered with open_clip under the file's stem, which becomes
the model name. ``register_model_config`` does the same explicitly. Tests use this for tiny random models.

No network: open_clip's Hugging Face download retries for about 45 s before failing when there is no network
(measured here: DNS fails at once, the retries and back-off take the time). So before asking for named weights we
check once per process whether the Hub endpoint is reachable (TCP connect, 3 s timeout; skipped when a proxy is
configured). If it is not, or ``HF_HUB_OFFLINE`` is set, the load runs in huggingface_hub's offline mode: cached
weights still load, missing ones fail in milliseconds. Every failure to obtain weights is a ``WeightsUnavailable``
with a one-line message saying what to do.

torch and open_clip are imported inside functions: importing this module is cheap, and only stage workers that
embed pay for torch.
"""
from __future__ import annotations

import hashlib
import os
import socket
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np

from workbench.errors import WorkbenchError
from workbench.models.registry import Model, register
from workbench.models.registry import get as get_model
from workbench.settings import Settings
from workbench.trace import span

if TYPE_CHECKING:
    from PIL import Image

SETTINGS_FILE = "<library>/settings.json"
PROBE_TIMEOUT_S = 3.0


class WeightsUnavailable(WorkbenchError):
    """The CLIP weights cannot be obtained (not downloaded and no network, missing or unfit file, unknown name)."""


@dataclass(eq=False)
class ClipEmbedder:
    """A loaded CLIP model. Vectors are float32, L2-normalised, shape (n, dim); image and text share the space."""

    model_id: str
    dim: int
    model: Any          # open_clip CLIP module, eval mode, CPU
    preprocess: Any     # open_clip's inference image transform (PIL -> tensor)
    tokenizer: Any      # open_clip tokenizer (list[str] -> token tensor)
    batch_size: int = 16
    # Optional faster image encoder (pixels (n, 3, H, W) float32 -> unnormalised embeddings), e.g. ONNX Runtime int8
    # when settings.clip_onnx_int8 is on; None means open_clip's own fp32 ``encode_image``.
    image_encoder: Callable[[np.ndarray], np.ndarray] | None = None

    def embed_images(self, images: list["Image.Image"]) -> np.ndarray:
        """Embed images (any mode; converted to RGB), ``batch_size`` at a time to bound memory."""
        out = [np.zeros((0, self.dim), np.float32)]
        for i in range(0, len(images), max(1, self.batch_size)):
            out.append(self.encode_pixels(self.pixels(images[i:i + self.batch_size])))
        return np.concatenate(out)

    def pixels(self, images: list["Image.Image"]) -> Any:
        """The model's input for ``images``: open_clip's preprocessing, stacked (a float32 tensor n x 3 x H x W).
        Separate from encoding so loader threads can prepare the next batch while the encoder runs."""
        import torch

        return torch.stack([self.preprocess(_rgb(im)) for im in images])

    def encode_pixels(self, pixels: Any) -> np.ndarray:
        """Unit vectors for a batch from ``pixels`` (traced as ``encode`` spans when WORKBENCH_TRACE_DIR is set)."""
        import torch

        with span("encode", int(pixels.shape[0])):
            if self.image_encoder is not None:
                return _normalise(torch.from_numpy(np.asarray(self.image_encoder(pixels.numpy()))))
            with torch.inference_mode():
                return _normalise(self.model.encode_image(pixels))

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """Embed texts (truncated to the model's context length by the tokenizer), ``batch_size`` at a time."""
        import torch

        out = [np.zeros((0, self.dim), np.float32)]
        for i in range(0, len(texts), max(1, self.batch_size)):
            tokens = self.tokenizer(list(texts[i:i + self.batch_size]))
            with torch.inference_mode():
                out.append(_normalise(self.model.encode_text(tokens)))
        return np.concatenate(out)


def _rgb(im: "Image.Image") -> "Image.Image":
    return im if im.mode == "RGB" else im.convert("RGB")


def _normalise(t: Any) -> np.ndarray:
    import torch

    return torch.nn.functional.normalize(t.float(), dim=-1).numpy().astype(np.float32, copy=False)


# ---------------------------------------------------------------------------------------------------- loading

_registered_configs: dict[Path, str] = {}
_hash_cache: dict[tuple[str, int, int], str] = {}
_hub_reachable: bool | None = None


class ClipModel(Model):
    """CLIP weights as a registry model (``workbench.models``: ``get("clip", settings)``): the image and text
    towers, their preprocessing and tokenizer, loaded once per process and weights (``config_key``)."""

    name = "clip"

    def __init__(self, settings: Settings, **options: Any):
        super().__init__(settings, **options)
        self.model_id, self.dim = "", 0
        self.model: Any = None
        self.preprocess: Any = None
        self.tokenizer: Any = None

    @classmethod
    def config_key(cls, settings: Settings, **options: Any) -> tuple:
        return _weights_key(settings)

    @property
    def loaded(self) -> bool:
        return self.model is not None

    def load(self) -> None:
        """Raises ``WeightsUnavailable`` when the weights cannot be obtained."""
        from workbench.compat.torchvision_cpu import ensure_torchvision

        ensure_torchvision()  # before open_clip: it imports torchvision
        if self.model is None:
            self.model_id, self.dim, self.model, self.preprocess, self.tokenizer = _load(self.settings)

    def embedder(self, settings: Settings | None = None) -> ClipEmbedder:
        """These weights with ``settings``' batch size and image encoder (the int8 one when ``clip_onnx_int8``)."""
        s = settings or self.settings
        encoder = get_model("clip-onnx-int8", s).predict if s.clip_onnx_int8 else None
        return ClipEmbedder(self.model_id + _variant(s), self.dim, self.model, self.preprocess, self.tokenizer,
                            batch_size=max(1, s.clip_batch_size), image_encoder=encoder)

    def predict(self, images: list["Image.Image"]) -> np.ndarray:  # type: ignore[override]
        """Unit vectors of ``images`` (see ``ClipEmbedder.embed_images``)."""
        return self.embedder().embed_images(images)

    def unload(self) -> None:
        self.model = self.preprocess = self.tokenizer = None


class ClipOnnxInt8(Model):
    """The image tower of ``ClipModel``'s weights exported to ONNX with int8 weights (``clip_onnx_int8``), run by
    ONNX Runtime: pixels (n, 3, H, W) float32 -> unnormalised embeddings."""

    name = "clip-onnx-int8"

    def __init__(self, settings: Settings, **options: Any):
        super().__init__(settings, **options)
        self._run: Callable[[np.ndarray], np.ndarray] | None = None

    @classmethod
    def config_key(cls, settings: Settings, **options: Any) -> tuple:
        return (_weights_key(settings), settings.clip_cache_dir)

    @property
    def loaded(self) -> bool:
        return self._run is not None

    def load(self) -> None:
        clip = get_model("clip", self.settings)
        self._run = _onnx_int8_encoder(self.settings, clip.model_id, clip.model)  # type: ignore[attr-defined]

    def predict(self, pixels: np.ndarray) -> np.ndarray:  # type: ignore[override]
        if self._run is None:
            raise WorkbenchError("the int8 CLIP image encoder was unloaded: get it again from workbench.models")
        return self._run(pixels)

    def unload(self) -> None:
        self._run = None


register("clip", ClipModel)
register("clip-onnx-int8", ClipOnnxInt8)


def load_embedder(settings: Settings) -> ClipEmbedder:
    """The embedder for ``settings``' weights, loaded once per process by the model registry (stage workers call
    this for every batch; ``workbench.models.get("clip", settings)``).

    Raises ``WeightsUnavailable`` when the weights cannot be obtained.
    """
    return get_model("clip", settings).embedder(settings)  # type: ignore[attr-defined]


def _variant(settings: Settings) -> str:
    """int8 image vectors are close to fp32 ones but not equal: they get their own model id, so switching the
    setting re-embeds into separate rows instead of mixing the two."""
    return "+onnx-int8" if settings.clip_onnx_int8 else ""


def _onnx_int8_encoder(settings: Settings, model_id: str, model: Any) -> Callable:
    """ONNX Runtime session of the image tower with int8 dynamic quantization (2.1-3.6x stock fp32 on ViT-B-32, two
    cores; docs/benchmarks.md). Exported once per weights and cached on disk, so stage workers reuse the file."""
    import tempfile

    import torch

    try:
        import onnx  # noqa: F401 - torch's exporter and onnxruntime.quantization need it
        import onnxruntime as ort
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as e:
        raise WorkbenchError(f"clip_onnx_int8 is on but {e.name or 'onnx/onnxruntime'} is not installed: "
                             f"pip install onnx onnxruntime, or set clip_onnx_int8 to false in "
                             f"{SETTINGS_FILE}") from None
    folder = Path(settings.clip_cache_dir or tempfile.gettempdir()).expanduser() / "workbench-clip-onnx"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{model_id.replace('/', '_')}.int8.onnx"
    if not target.is_file():
        size = getattr(model.visual, "image_size", (224, 224))
        size = (size, size) if isinstance(size, int) else tuple(size)
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            fp32, q8 = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
            with _warnings_quiet():
                torch.onnx.export(model.visual, (torch.zeros(2, 3, *size),), str(fp32), dynamo=False,
                                  opset_version=17, input_names=["pixels"], output_names=["emb"],
                                  dynamic_axes={"pixels": {0: "n"}, "emb": {0: "n"}})
                quantize_dynamic(str(fp32), str(q8), weight_type=QuantType.QInt8)
            os.replace(q8, target)  # atomic: a concurrent worker sees the whole file or none
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(target), options, providers=["CPUExecutionProvider"])
    return lambda pixels: session.run(None, {"pixels": np.ascontiguousarray(pixels, np.float32)})[0]


@contextmanager
def _warnings_quiet() -> Iterator[None]:
    """The legacy exporter and quantizer warn about their own deprecations; nothing a user can act on."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def weights_identity(settings: Settings) -> tuple[str, int]:
    """``(model_id, dim)`` of the configured weights without importing torch or open_clip, so listing and status
    stay instant: the vector size comes from the model config JSON (open_clip ships one per model name). An
    unknown model falls back to dim 512; loading it will then say what is wrong."""
    import importlib.util
    import json

    name = settings.clip_model
    if name.lower().endswith(".json"):
        cfg_path = Path(name).expanduser()
        name = cfg_path.stem
    else:
        spec = importlib.util.find_spec("open_clip")
        origin = Path(spec.origin).parent if spec and spec.origin else Path(".")
        cfg_path = origin / "model_configs" / f"{name}.json"
    try:
        dim = int(json.loads(cfg_path.read_text())["embed_dim"])
    except (OSError, ValueError, KeyError):
        dim = 512
    if settings.clip_checkpoint:
        ckpt = Path(settings.clip_checkpoint).expanduser()
        ident = _sha256_prefix(ckpt) if ckpt.is_file() else "missing"
        return f"{name}/file-{ident}{_variant(settings)}", dim
    return f"{name}/{settings.clip_pretrained}{_variant(settings)}", dim


def register_model_config(path: Path) -> str:
    """Register an open_clip model config JSON (embed_dim, vision_cfg, text_cfg) and return its model name (the
    file's stem), so custom or tiny architectures can be named in ``clip_model``."""
    import json

    import open_clip

    path = Path(path).resolve()
    if path in _registered_configs:
        return _registered_configs[path]
    try:
        cfg = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise WeightsUnavailable(f"CLIP model config {path} cannot be read ({_one_line(e)}): set clip_model in "
                                 f"{SETTINGS_FILE} to an open_clip model name or a valid model config .json") from None
    if not all(k in cfg for k in ("embed_dim", "vision_cfg", "text_cfg")):
        raise WeightsUnavailable(f"CLIP model config {path} lacks embed_dim/vision_cfg/text_cfg: set clip_model in "
                                 f"{SETTINGS_FILE} to an open_clip model name or a valid model config .json")
    open_clip.add_model_config(path)
    _registered_configs[path] = path.stem
    return path.stem


def _weights_key(settings: Settings) -> tuple:
    """What decides the loaded model: the architecture and the weights (a checkpoint by its identity on disk)."""
    ckpt = settings.clip_checkpoint
    if ckpt:
        try:
            st = Path(ckpt).stat()
            ident: tuple = (str(Path(ckpt).resolve()), st.st_size, st.st_mtime_ns)
        except OSError:
            ident = (ckpt, None, None)
        return (settings.clip_model, "file", ident)
    return (settings.clip_model, settings.clip_pretrained, settings.clip_cache_dir)


def _load(settings: Settings) -> tuple[str, int, Any, Any, Any]:
    import open_clip

    model_name = _model_name(settings.clip_model)
    cfg = open_clip.get_model_config(model_name)
    if cfg is None:
        raise WeightsUnavailable(
            f"CLIP model {settings.clip_model!r} is unknown to open_clip: set clip_model in {SETTINGS_FILE} to one "
            f"of its model names (e.g. ViT-B-32) or to the path of a model config .json")
    cache_dir = settings.clip_cache_dir or None
    if settings.clip_checkpoint:
        ckpt = Path(settings.clip_checkpoint).expanduser()
        if not ckpt.is_file():
            raise WeightsUnavailable(
                f"CLIP checkpoint {ckpt} does not exist: set clip_checkpoint in {SETTINGS_FILE} to an existing "
                f"local open_clip checkpoint file (or to \"\" to use {model_name}/{settings.clip_pretrained})")
        model_id = f"{model_name}/file-{_sha256_prefix(ckpt)}"
        pretrained = str(ckpt)
        offline = None
        preprocess_kw = _tag_preprocess(open_clip.get_pretrained_cfg(model_name, settings.clip_pretrained))
    else:
        tag = settings.clip_pretrained
        if not tag or not open_clip.get_pretrained_cfg(model_name, tag):
            tags = open_clip.list_pretrained_tags_by_model(model_name)
            known = ", ".join(tags[:6]) + (f", ... ({len(tags)} in all)" if len(tags) > 6 else "") if tags else "none"
            raise WeightsUnavailable(
                f"CLIP weights {model_name}/{tag or '(none)'} are not known to open_clip (known for {model_name}: "
                f"{known}): set clip_pretrained, or clip_checkpoint to a local open_clip checkpoint file, in "
                f"{SETTINGS_FILE}")
        model_id = f"{model_name}/{tag}"
        pretrained = tag
        offline = _hub_offline()
        preprocess_kw = {}  # open_clip applies the tag's own preprocessing
    try:
        with _hf_offline(offline), _quiet_root_logger():
            model, _, preprocess = open_clip.create_model_and_transforms(
                model_name, pretrained=pretrained, cache_dir=cache_dir, device="cpu", **preprocess_kw)
            tokenizer = open_clip.get_tokenizer(model_name, cache_dir=cache_dir)
    except Exception as e:  # noqa: BLE001 - every way of not getting weights becomes one actionable line
        raise WeightsUnavailable(_unavailable_message(settings, model_name, e, offline)) from None
    model.eval()
    return model_id, int(cfg["embed_dim"]), model, preprocess, tokenizer


@contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """open_clip logs a multi-line ERROR on the root logger before raising; we raise one actionable line instead."""
    import logging

    root = logging.getLogger()
    saved = root.level
    root.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        root.setLevel(saved)


def _tag_preprocess(cfg: dict) -> dict:
    """A local checkpoint of a known tag (e.g. a copied laion2b_s34b_b79k file, with clip_pretrained still naming
    it) needs that tag's image normalisation and resizing; open_clip only applies them when loading by tag."""
    keys = {"mean": "image_mean", "std": "image_std", "interpolation": "image_interpolation",
            "resize_mode": "image_resize_mode"}
    return {arg: cfg[k] for k, arg in keys.items() if cfg and cfg.get(k) is not None}


def _model_name(clip_model: str) -> str:
    """``clip_model`` as an open_clip model name; a ``.json`` path is registered first."""
    if clip_model.lower().endswith(".json"):
        return register_model_config(Path(clip_model).expanduser())
    return clip_model


def _sha256_prefix(path: Path) -> str:
    """First 12 hex digits of the file's SHA-256, cached by (path, size, mtime): a ViT-B-32 file takes ~1 s."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _hash_cache:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _hash_cache[key] = h.hexdigest()[:12]
    return _hash_cache[key]


def _hub_offline() -> str | None:
    """Why huggingface_hub should not touch the network (HF_HUB_OFFLINE is set, or the Hub endpoint is unreachable,
    checked once per process), so a missing download fails at once instead of after ~45 s; None to go online."""
    global _hub_reachable
    from huggingface_hub import constants

    if constants.is_offline_mode() or os.environ.get("HF_HUB_OFFLINE", "").upper() in ("1", "ON", "YES", "TRUE"):
        return "not in the cache, and HF_HUB_OFFLINE is set"
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None  # the endpoint may only be reachable through the proxy: let huggingface_hub try
    from urllib.parse import urlparse

    url = urlparse(constants.ENDPOINT)
    if _hub_reachable is None:
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            socket.create_connection((url.hostname or "huggingface.co", port), timeout=PROBE_TIMEOUT_S).close()
            _hub_reachable = True
        except OSError:
            _hub_reachable = False
    return None if _hub_reachable else f"no network: {url.hostname} is unreachable"


@contextmanager
def _hf_offline(offline: str | None) -> Iterator[None]:
    """Run huggingface_hub in offline mode (cache only, no HTTP) for the duration, when asked to."""
    if not offline:
        yield
        return
    from huggingface_hub import constants

    saved = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = saved


def _cache_location(settings: Settings) -> str:
    if settings.clip_cache_dir:
        return settings.clip_cache_dir
    from huggingface_hub import constants

    return constants.HF_HUB_CACHE


def _unavailable_message(settings: Settings, model_name: str, e: BaseException, offline: str | None) -> str:
    if settings.clip_checkpoint:
        return (f"CLIP checkpoint {settings.clip_checkpoint} cannot be loaded as {model_name} ({_one_line(e)}): "
                f"set clip_checkpoint in {SETTINGS_FILE} to an open_clip checkpoint of that model, or clip_model to "
                f"the checkpoint's architecture")
    why = offline or _one_line(e)
    return (f"CLIP weights {model_name}/{settings.clip_pretrained} are not available ({why}): download them once "
            f"where a network exists (they are cached in {_cache_location(settings)}), or set clip_checkpoint in "
            f"{SETTINGS_FILE} to a local open_clip checkpoint file")


def _one_line(e: BaseException, limit: int = 200) -> str:
    msg = " ".join((str(e) or type(e).__name__).split())
    return msg if len(msg) <= limit else msg[:limit - 3] + "..."
