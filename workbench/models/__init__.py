"""Models by name, loaded once per process (see ``registry``): ``get("clip", settings)``, ``unload_all()``."""
from workbench.models.registry import (BUILTIN, Model, ModelCache, UnknownModel, cache, get, loaded, model_class,
                                       register, registered, unload, unload_all)

__all__ = ["BUILTIN", "Model", "ModelCache", "UnknownModel", "cache", "get", "loaded", "model_class", "register",
           "registered", "unload", "unload_all"]
