"""``workbench gallery``: serve ``notebooks/gallery.ipynb`` with Voilà, locked down for people who are not us.

What the configuration guarantees (tested in ``tests/test_gallery_server.py`` and ``tests/test_gallery_attacks.py``):

* anonymous visitors never get a kernel: sign-in and a share link's password are plain pages of the server
  (``handlers.py``), which sets an HttpOnly, SameSite=Strict session cookie; only a signed-in session or a live,
  unlocked share link gets a kernel, within the kernel budget (``kernels.py``), and the server tells the kernel
  whom it acts for (``identity.py``);
* one notebook only (Voilà's single-notebook mode): no file tree, no contents API, and the app is ``/app``;
  ``/`` leads a signed-in visitor to the timeline without a kernel (``first_screen.py``), strangers to sign in;
* no notebook source in the page (``strip_sources``), no static files from the notebook folder, no tracebacks
  (Voilà's ``show_tracebacks`` off, tornado's ``serve_traceback`` off, and the kernel guard drops error output);
* the browser speaks only ipywidgets' messages to its own kernel, in the v1 protocol, every frame checked before
  it is parsed (``guard.GalleryKernelConnection``, ``frames.py``);
* originals and videos are served by ``media_handler.MediaHandler`` for signed tickets bound to the visitor, and
  re-checked on every request; zips of a selection or an album likewise by ``zip_handler.ZipHandler``, streamed;
* requests for a ``Host`` not on the allow-list get nothing (``gallery_allowed_hosts``, ``--allow-host``);
* no config file from the current folder or Jupyter's paths changes any of this.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from traitlets.config import Config

from workbench.errors import WorkbenchError
from workbench.gallery.identity import ACTOR_HEADER, XSRF_HEADER
from workbench.gallery.links import ROUTE, SECRET_ENV, ZIP_ROUTE, new_secret, request_info_key

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
#: Whether ``serve`` was given a log level (then the library's loggers log at it too, not only their warnings).
LIBRARY_LOG_LEVEL = {"explicit": False}
#: Never in the environment of the gallery's worker processes (see ``serve``).
WORKER_HIDDEN_ENV = (SECRET_ENV, "WORKBENCH_PASSPHRASE", "WORKBENCH_PASSPHRASE_FILE", "AWS_SECRET_ACCESS_KEY",
                     "AWS_SESSION_TOKEN")
#: Extra host names from ``--allow-host``, handed from ``serve`` to the application it launches.
ALLOWED_HOSTS_ENV = "WORKBENCH_GALLERY_ALLOWED_HOSTS"


def voila_config(*, port: int = DEFAULT_PORT, address: str = "127.0.0.1", show: bool = False,
                 preheat: int = 0, idle_kernel_timeout_s: int = DEFAULT_IDLE_KERNEL_TIMEOUT_S,
                 log_level: str | None = None) -> Config:
    """The Voilà configuration of the gallery server (``log_level``: Voilà's, when given; its default is INFO)."""
    c = Config()
    if log_level is not None:
        c.Voila.log_level = log_level
    c.Voila.port = port
    c.Voila.ip = address
    c.Voila.port_retries = 0          # a busy port is an error, not a silent move to another port
    c.Voila.open_browser = show
    c.Voila.config_file_paths = []    # no voila.json/voila.py from the current folder can loosen the settings
    c.Voila.kernel_websocket_connection_class = "workbench.gallery.guard.GalleryKernelConnection"
    c.Voila.identity_provider_class = "workbench.gallery.identity.GalleryIdentityProvider"
    c.Voila.authorizer_class = "workbench.gallery.identity.GalleryAuthorizer"
    c.Voila.tornado_settings = {"serve_traceback": False, "debug": False, "autoreload": False,
                                "websocket_max_message_size": 16 * 1024 * 1024,
                                # Every Jupyter route needs a known visitor unless it says otherwise.
                                "allow_unauthenticated_access": False,
                                # Voilà's page script reads _xsrf for its shutdown beacon: readable, same-site.
                                "xsrf_cookie_kwargs": {"samesite": "Strict"}}
    c.VoilaConfiguration.show_tracebacks = False
    c.VoilaConfiguration.strip_sources = True
    c.VoilaConfiguration.file_allowlist = []   # nothing from the notebook folder is served as a file
    c.VoilaConfiguration.file_denylist = [".*"]
    c.VoilaConfiguration.extension_denylist = UNUSED_EXTENSIONS
    c.VoilaConfiguration.template = TEMPLATE
    c.VoilaConfiguration.allow_template_override = "NO"   # ?template=lab must not bring back the stock page
    c.VoilaConfiguration.allow_theme_override = "NO"
    c.VoilaConfiguration.multi_kernel_manager_class = "workbench.gallery.kernels.GalleryKernelManager"
    # The server tells each kernel whom it acts for through these headers (set by the page handler after its
    # checks; the same names coming from a browser are removed first).
    c.VoilaConfiguration.http_header_envs = [ACTOR_HEADER, XSRF_HEADER]
    if preheat > 0:
        # Kernels started ahead, with the library already open, each waiting for the page request it will serve.
        c.VoilaConfiguration.preheat_kernel = True
        c.VoilaConfiguration.default_pool_size = preheat
    c.MappingKernelManager.allow_tracebacks = False
    c.MappingKernelManager.cull_idle_timeout = idle_kernel_timeout_s
    c.MappingKernelManager.cull_interval = max(10, idle_kernel_timeout_s // 10)
    c.MappingKernelManager.cull_connected = False
    return c


def allowed_hosts(settings_hosts: list[str], address: str, extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The Host allow-list: the library's setting, the address the server is bound to (unless it is every
    interface) and names given with ``--allow-host``."""
    hosts = [*settings_hosts, *extra]
    if address not in ("0.0.0.0", "", "::"):
        hosts.append(address)
    return list(dict.fromkeys(h.strip().lower() for h in hosts if h and h.strip()))


def share_compiled_templates() -> None:
    """Voilà renders every page with a new exporter, hence a new Jinja environment that parses and compiles the
    page's ~14 templates again: the largest share of the server's CPU per page (profiled with 5 viewers at once,
    docs/benchmarks.md, gallery load). One bytecode cache for all of them compiles each template once per server
    (Jinja checks each template's source checksum, so an edited template is compiled again)."""
    from jinja2 import BytecodeCache
    from voila.exporter import VoilaExporter

    if getattr(VoilaExporter, "_wb_shared_bytecode", None) is not None:
        return

    class MemoryBytecodeCache(BytecodeCache):
        def __init__(self) -> None:
            self.compiled: dict[str, bytes] = {}

        def load_bytecode(self, bucket) -> None:
            code = self.compiled.get(bucket.key)
            if code is not None:
                bucket.bytecode_from_string(code)

        def dump_bytecode(self, bucket) -> None:
            self.compiled[bucket.key] = bucket.bytecode_to_string()

    cache = MemoryBytecodeCache()
    create = VoilaExporter._create_environment

    def _create_environment(self):
        env = create(self)
        env.bytecode_cache = cache
        return env

    VoilaExporter._create_environment = _create_environment
    VoilaExporter._wb_shared_bytecode = cache


def _voila_app_class():
    from jupyter_server.utils import url_path_join
    from tornado.web import url
    from voila.app import Voila
    from voila.request_info_handler import RequestInfoSocketHandler
    from voila.shutdown_kernel_handler import VoilaShutdownKernelHandler
    from voila.tornado.handler import TornadoVoilaHandler
    from voila.tornado.kernel_websocket_handler import VoilaKernelWebsocketHandler

    from workbench.gallery import handlers as H
    from workbench.gallery import webapp
    from workbench.gallery.first_screen import routes as first_screen_routes
    from workbench.gallery.forkserver import FORK_SERVER
    from workbench.gallery.kernels import KernelBudget, claim_preheated
    from workbench.gallery.media_handler import MediaHandler
    from workbench.gallery.upload import routes as upload_routes
    from workbench.gallery.zip_handler import ZipHandler
    from workbench.library import Library

    class GalleryVoila(Voila):
        """Voilà with the gallery's own routes (sign-in, share passwords, media) and hardened replacements of its
        page, kernel websocket, shutdown and request-info routes."""

        def init_settings(self):
            settings = super().init_settings()
            # The library's own log lines (uploads, sign-ins) go where Voilà's go: its warnings by default, and
            # at the level of ``--log-level`` when one is given.
            ours = logging.getLogger("workbench")
            ours.setLevel(self.log.level if LIBRARY_LOG_LEVEL["explicit"] else logging.WARNING)
            for h in self.log.handlers:
                if h not in ours.handlers:
                    ours.addHandler(h)
            self.library = Library.open(os.environ["WORKBENCH_LIBRARY"])
            s = self.library.settings
            self.kernel_manager.budget = KernelBudget(max_total=s.gallery_max_kernels,
                                                      per_user=s.gallery_kernels_per_user,
                                                      per_share=s.gallery_kernels_per_share)
            self.kernel_manager.kernel_nice = s.gallery_kernel_nice
            if s.gallery_kernel_fork:
                # Kernels forked from one process that has imported everything (forkserver.py); it is started
                # with the environment set by serve(), so it holds nothing a kernel would not have been given.
                FORK_SERVER.start()
                self.kernel_manager.kernel_manager_class = "workbench.gallery.forkserver.ForkedKernelManager"
            if hasattr(self.kernel_manager, "get_rendered_notebook"):
                claim_preheated(self.kernel_manager)
            settings["workbench_library"] = self.library
            if s.upload_roles:
                # The uploads' probing worker starts with the server, not with the first photo someone sends.
                self.library.uploads.warm_up()
            return settings

        def init_handlers(self):
            replace = {TornadoVoilaHandler: H.GalleryPageHandler,
                       VoilaKernelWebsocketHandler: H.GalleryKernelWebsocket,
                       VoilaShutdownKernelHandler: H.OwnKernelShutdown}
            routes = []
            for route in super().init_handlers():
                pattern, handler, *rest = route
                if handler is RequestInfoSocketHandler:
                    routes.append((pattern, H.KernelOnlyRequestInfo, {"key": request_info_key()}))
                    continue
                if handler is TornadoVoilaHandler:
                    # The app at /app; / itself is the landing (the timeline without a kernel); any other path
                    # stays Voilà's file route (which serves nothing here).
                    routes.append((url_path_join(self.server_url, H.APP_PATH), H.GalleryPageHandler, *rest))
                    routes.append((self.server_url, H.LandingHandler))
                routes.append((pattern, replace.get(handler, handler), *rest))
            ours = [
                url(url_path_join(self.server_url, ROUTE, r"([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)"), MediaHandler,
                    {"library_root": os.environ["WORKBENCH_LIBRARY"], "secret": os.environ[SECRET_ENV]}),
                (url_path_join(self.server_url, ZIP_ROUTE), ZipHandler, {"secret": os.environ[SECRET_ENV]}),
                (url_path_join(self.server_url, "login"), H.LoginHandler),
                (url_path_join(self.server_url, "logout"), H.LogoutHandler),
                (url_path_join(self.server_url, "share"), H.ShareUnlockHandler),
                (url_path_join(self.server_url, "favicon.ico"), H.NoFavicon),
                *webapp.routes(self.server_url),      # manifest, icons, service worker, offline page
                *upload_routes(self.server_url),      # the upload page and its tus endpoint (upload.py)
                # the timeline's first screen as plain HTML, no kernel (first_screen.py)
                *first_screen_routes(self.server_url, os.environ[SECRET_ENV]),
            ]
            return [*ours, *routes]

        def start(self):
            # Voilà's start, with the application class that checks the Host header on every route.
            import tempfile
            self.connection_dir = tempfile.mkdtemp(prefix="voila_", dir=self.connection_dir_root)
            settings = self.init_settings()
            H.HostCheckedApplication.allowed_hosts = allowed_hosts(
                self.library.settings.gallery_allowed_hosts, self.ip,
                [h for h in os.environ.get(ALLOWED_HOSTS_ENV, "").split(",") if h])
            self.app = H.HostCheckedApplication(**settings)
            self.app.settings.update(self.tornado_settings)
            self.app.add_handlers(".*$", self.init_handlers())
            self.listen()

    return GalleryVoila


def serve(library_root: Path, *, port: int = DEFAULT_PORT, address: str = "127.0.0.1", show: bool = False,
          preheat: int = 0, allow_hosts: list[str] | tuple[str, ...] = (), log_level: str | None = None) -> None:
    """Run the gallery server in this process until interrupted. Kernels inherit the environment set here: the
    library they open and the secret that signs media links (new at each start, so old links die)."""
    if not NOTEBOOK.exists():
        raise WorkbenchError(f"{NOTEBOOK} not found: run from a checkout of the repository, where notebooks/ sits "
                             f"next to the workbench package")
    # Worker processes (the uploads' content check decodes files strangers send) fork from a server started
    # now, before the link-signing secret enters this environment and without the passphrase or cloud keys: a
    # decoder exploit there can neither forge media links nor unlock the library. (The check reads staged files
    # on local disk only.)
    from workbench.library import Library
    Library.start_workers_server(hide_env=WORKER_HIDDEN_ENV)
    os.environ["WORKBENCH_LIBRARY"] = str(library_root)
    os.environ[SECRET_ENV] = new_secret()
    os.environ[ALLOWED_HOSTS_ENV] = ",".join(allow_hosts)
    # Where a pre-started kernel asks for its page request (Voilà's default, 127.0.0.1, misses other addresses).
    os.environ["VOILA_APP_IP"] = "127.0.0.1" if address in ("0.0.0.0", "", "::") else address
    os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(JUPYTER_DATA), os.environ.get("JUPYTER_PATH")) if p)
    LIBRARY_LOG_LEVEL["explicit"] = log_level is not None
    app_class = _voila_app_class()
    share_compiled_templates()
    app_class.launch_instance(argv=[str(NOTEBOOK)],
                              config=voila_config(port=port, address=address, show=show, preheat=preheat,
                                                  log_level=log_level))
