"""Users, sessions, albums, share links and the rules of who may see and do what (see docs/access.md).

``Library`` is the door: its thin methods (``add_user``, ``login``, ``for_session``, ``create_album``,
``share_album``, ``for_share``, ...) call these modules, and ``views.UserView`` / ``views.AlbumView`` apply
``policy`` to every read and write an app makes on a user's behalf.
"""
