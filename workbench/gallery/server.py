"""``workbench gallery``: serve ``notebooks/gallery.ipynb`` with Voilà, locked down for people who are not us.

What the configuration guarantees (each is tested in ``tests/test_gallery_server.py``):

* one notebook only (Voilà's single-notebook mode): no file tree, no contents API, and the page is ``/``;
  a share link is ``/?share=TOKEN``;
* no notebook source in the page (``strip_sources``), no static files from the notebook folder, no tracebacks
  (Voilà's ``show_tracebacks`` off, tornado's ``serve_traceback`` off, and the kernel guard drops error output);
* the browser speaks only ipywidgets' messages to the kernel (``guard.GalleryKernelConnection``);
* originals and videos are served by ``media_handler.MediaHandler`` for signed, expiring tickets only;
* no config file from the current folder or Jupyter's paths changes any of this.
"""
from __future__ import annotations

import os
from pathlib import Path

from traitlets.config import Config

from workbench.errors import WorkbenchError
from workbench.gallery.links import ROUTE, SECRET_ENV, new_secret

#: The served notebook: a thin shell that shows ``workbench.gallery.app.Gallery``.
NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "gallery.ipynb"
DEFAULT_PORT = 8866
#: JupyterLab extensions the page does not need (Panel's, installed for the dashboards): fewer requests per load.
UNUSED_EXTENSIONS = ["@pyviz/jupyterlab_pyviz"]
#: The page template (Voilà's lab template without CDN links), found through this Jupyter data folder.
TEMPLATE = "workbench-gallery"
JUPYTER_DATA = Path(__file__).resolve().parent / "jupyter"
#: A kernel whose page is gone (tab closed without saying goodbye, a script that fetched the page) is shut down
#: after this long without activity; pages that are open keep theirs (connected kernels are never culled).
DEFAULT_IDLE_KERNEL_TIMEOUT_S = 600


def voila_config(*, port: int = DEFAULT_PORT, address: str = "127.0.0.1", show: bool = False,
                 preheat: int = 0, idle_kernel_timeout_s: int = DEFAULT_IDLE_KERNEL_TIMEOUT_S) -> Config:
    """The Voilà configuration of the gallery server."""
    c = Config()
    c.Voila.port = port
    c.Voila.ip = address
    c.Voila.port_retries = 0          # a busy port is an error, not a silent move to another port
    c.Voila.open_browser = show
    c.Voila.config_file_paths = []    # no voila.json/voila.py from the current folder can loosen the settings
    c.Voila.kernel_websocket_connection_class = "workbench.gallery.guard.GalleryKernelConnection"
    c.Voila.tornado_settings = {"serve_traceback": False, "debug": False, "autoreload": False,
                                "websocket_max_message_size": 16 * 1024 * 1024}
    c.VoilaConfiguration.show_tracebacks = False
    c.VoilaConfiguration.strip_sources = True
    c.VoilaConfiguration.file_allowlist = []   # nothing from the notebook folder is served as a file
    c.VoilaConfiguration.file_denylist = [".*"]
    c.VoilaConfiguration.extension_denylist = UNUSED_EXTENSIONS
    c.VoilaConfiguration.template = TEMPLATE
    c.VoilaConfiguration.allow_template_override = "NO"   # ?template=lab must not bring back the stock page
    c.VoilaConfiguration.allow_theme_override = "NO"
    if preheat > 0:
        # Kernels started ahead, with the library already open, each waiting for the page request it will serve.
        c.VoilaConfiguration.preheat_kernel = True
        c.VoilaConfiguration.default_pool_size = preheat
    c.MappingKernelManager.allow_tracebacks = False
    c.MappingKernelManager.cull_idle_timeout = idle_kernel_timeout_s
    c.MappingKernelManager.cull_interval = max(10, idle_kernel_timeout_s // 10)
    c.MappingKernelManager.cull_connected = False
    return c


def _voila_app_class():
    from tornado.web import url

    from jupyter_server.utils import url_path_join
    from voila.app import Voila

    from workbench.gallery.media_handler import MediaHandler

    class GalleryVoila(Voila):
        """Voilà plus the media route (placed before Voilà's catch-all notebook route)."""

        def init_handlers(self):
            media = url(url_path_join(self.server_url, ROUTE, r"([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)"), MediaHandler,
                        {"library_root": os.environ["WORKBENCH_LIBRARY"], "secret": os.environ[SECRET_ENV]})
            return [media, *super().init_handlers()]

    return GalleryVoila


def serve(library_root: Path, *, port: int = DEFAULT_PORT, address: str = "127.0.0.1", show: bool = False,
          preheat: int = 0) -> None:
    """Run the gallery server in this process until interrupted. Kernels inherit the environment set here: the
    library they open and the secret that signs media links (new at each start, so old links die)."""
    if not NOTEBOOK.exists():
        raise WorkbenchError(f"{NOTEBOOK} not found: run from a checkout of the repository, where notebooks/ sits "
                             f"next to the workbench package")
    os.environ["WORKBENCH_LIBRARY"] = str(library_root)
    os.environ[SECRET_ENV] = new_secret()
    # Where a pre-started kernel asks for its page request (Voilà's default, 127.0.0.1, misses other addresses).
    os.environ["VOILA_APP_IP"] = "127.0.0.1" if address in ("0.0.0.0", "", "::") else address
    os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(JUPYTER_DATA), os.environ.get("JUPYTER_PATH")) if p)
    app_class = _voila_app_class()
    app_class.launch_instance(argv=[str(NOTEBOOK)],
                              config=voila_config(port=port, address=address, show=show, preheat=preheat))
