"""Models by name, each loaded once per process: the registry, the model lifecycle and the cache of loaded models.

A model (CLIP, the face detector and recogniser, PP-OCR, a tag label bank) takes seconds to load and is then used
for every batch a worker process or Ray actor sees. Each is a ``Model`` subclass with one lifecycle: built from
its settings, ``load()`` once, ``predict()`` many times, ``unload()`` to give the memory back. The registry names
the classes (``register("clip", ClipModel)``, as Immich's machine-learning service and LanceDB's embedding
registry do); ``get(name, settings, **options)`` returns the loaded model for that configuration from the
process's ``ModelCache``, loading it the first time. ``Model.config_key`` says which settings decide what is
loaded, so two libraries with the same weights share one copy and a changed checkpoint loads the new one.

The built-in models are registered by where their class lives (``BUILTIN``) and imported on first use: importing
this module stays cheap (no torch), and the modules that define models import this one, never the reverse.
A failed load (no weights) leaves nothing in the cache: asking again tries again, so weights that appear later
are found without a restart.
"""
from __future__ import annotations

import importlib
import threading
from collections.abc import Hashable
from typing import Any, ClassVar

from workbench.errors import WorkbenchError
from workbench.settings import Settings

#: Built-in model names and the module that defines (and registers) each one's class.
BUILTIN: dict[str, str] = {
    "clip": "workbench.semantic.clip",
    "clip-onnx-int8": "workbench.semantic.clip",
    "faces": "workbench.faces.engine",
    "ocr": "workbench.ocr.engine",
    "label-bank": "workbench.stages.tags",
}


class Model:
    """One model's lifecycle. Subclasses set ``name``, say in ``config_key`` which of the settings (and options)
    decide what ``load`` loads, and implement ``load``, ``predict`` and ``unload``."""

    name: ClassVar[str] = ""

    def __init__(self, settings: Settings, **options: Any):
        self.settings = settings
        self.options = options

    @classmethod
    def config_key(cls, settings: Settings, **options: Any) -> Hashable:
        """What identifies a loaded copy: equal keys share one copy in a process."""
        raise NotImplementedError

    @property
    def loaded(self) -> bool:
        raise NotImplementedError

    def load(self) -> None:
        """Read the weights (seconds); raise a ``WorkbenchError`` subclass saying what to do when they are missing."""
        raise NotImplementedError

    def predict(self, *inputs: Any, **kwargs: Any) -> Any:
        """What the model is loaded for (image vectors, faces, text lines); each model says what it takes."""
        raise NotImplementedError(f"model {self.name!r} ({type(self).__name__}) has no predict for {len(inputs)} "
                                  f"input(s) and options {sorted(kwargs)}")

    def unload(self) -> None:
        """Drop the weights so their memory can be freed; ``load`` brings them back."""
        raise NotImplementedError


class UnknownModel(WorkbenchError):
    """No model is registered under that name."""


_classes: dict[str, type[Model]] = {}
_classes_lock = threading.Lock()


def register(name: str, cls: type[Model]) -> None:
    """Make ``cls`` the model called ``name`` (a later registration of the name replaces the earlier one)."""
    if not (isinstance(cls, type) and issubclass(cls, Model)):
        raise TypeError(f"model {name!r} must be a workbench.models.Model subclass, not {cls!r}")
    with _classes_lock:
        _classes[name] = cls


def model_class(name: str) -> type[Model]:
    """The class registered as ``name``, importing a built-in model's module on first use."""
    if name not in _classes and name in BUILTIN:
        importlib.import_module(BUILTIN[name])  # the module registers its classes when imported
    try:
        return _classes[name]
    except KeyError:
        raise UnknownModel(f"no model is registered as {name!r}; known: {', '.join(registered())}") from None


def registered() -> list[str]:
    """Every model name ``get`` knows (the built-in ones and any registered since)."""
    return sorted(set(_classes) | set(BUILTIN))


class ModelCache:
    """The loaded models of one process, by name and config key. One load per key at a time (a second caller
    waits for the first instead of loading its own copy); loads of different models do not wait for each other."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[tuple[str, Hashable], Model] = {}
        self._loading: dict[tuple[str, Hashable], threading.Lock] = {}

    def get(self, name: str, settings: Settings, **options: Any) -> Model:
        """The loaded model ``name`` for this configuration, loaded now if it is not yet."""
        cls = model_class(name)
        key = (name, cls.config_key(settings, **options))
        with self._lock:
            model = self._models.get(key)
            if model is not None:
                return model
            gate = self._loading.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                model = self._models.get(key)
            if model is None:
                model = cls(settings, **options)
                model.load()  # raises when the weights are missing: nothing is cached
                with self._lock:
                    self._models[key] = model
            return model

    def loaded(self) -> list[tuple[str, Hashable]]:
        """``(name, config key)`` of every model loaded in this cache, in load order."""
        with self._lock:
            return list(self._models)

    def unload(self, name: str | None = None) -> int:
        """Unload the models called ``name`` (every model when None); returns how many were unloaded."""
        with self._lock:
            gone = [k for k in self._models if name is None or k[0] == name]
            models = [self._models.pop(k) for k in gone]
        for m in models:
            m.unload()
        return len(models)


#: The process's models: what stages, search and the dashboards share.
cache = ModelCache()


def get(name: str, settings: Settings, **options: Any) -> Model:
    """The loaded model ``name`` for ``settings`` from the process cache (loaded on first use)."""
    return cache.get(name, settings, **options)


def loaded() -> list[tuple[str, Hashable]]:
    """The models loaded in this process."""
    return cache.loaded()


def unload(name: str) -> int:
    """Unload every loaded configuration of model ``name`` in this process."""
    return cache.unload(name)


def unload_all() -> int:
    """Unload every model of this process (e.g. a long-running server freeing memory between runs)."""
    return cache.unload()
