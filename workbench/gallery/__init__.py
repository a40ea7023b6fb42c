"""The gallery: a Voilà web app for the people whose photos these are (login, timeline, search, people, places,
albums, share links). ``notebooks/gallery.ipynb`` shows :class:`workbench.gallery.app.Gallery`;
``workbench gallery`` serves it (``server.py``) with the kernel guard (``guard.py``) and the media route
(``media_handler.py``).
"""
