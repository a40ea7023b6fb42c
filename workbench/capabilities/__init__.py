"""The rooms behind ``workbench.Library``: one capability object per concern, all built on one shared
``LibraryContext`` (root, catalog, settings, storage, write lock, stages). ``lib.search``, ``lib.tags``,
``lib.people``, ``lib.duplicates``, ``lib.quality``, ``lib.compression``, ``lib.trash``, ``lib.albums``,
``lib.access``, ``lib.media``, ``lib.processing``, ``lib.integrity``, ``lib.backups``, ``lib.encryption``.

The workflows live here (compress, replace originals, prune, get, ...); ``Library`` keeps its old method names as
one-line forwarders. See docs/architecture.md, "How to add a capability".
"""
