"""``workbench serve``: the gallery, the dashboards and a background processor in one command.

``processor.py`` runs the pending stages by itself (thumbnails first, so new photos reach the timeline within
seconds); ``status.py`` is what it tells admins (``workbench status``, the gallery's admin line); ``app.py``
starts and watches the three parts. Like the gallery and the dashboards it reaches the rest of workbench through
``workbench.Library`` only.
"""
