"""Arrow schemas of the catalog tables and the schema version they make up.

Changing a schema means bumping ``SCHEMA_VERSION`` and, when the change is more than adding nullable columns
(which ``migrations.py`` does by itself), registering a migration step there.
"""
from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = 2  # 2: media.stored_as & co. (replaced originals; older versions must not read them)

UTC_TS = pa.timestamp("us", tz="UTC")


def _f(name: str, typ: pa.DataType, nullable: bool = True) -> pa.Field:
    return pa.field(name, typ, nullable=nullable)


MEDIA = pa.schema([
    _f("id", pa.string(), False),            # first 16 hex digits of sha256: one media per content
    _f("sha256", pa.string(), False),
    _f("path", pa.string(), False),          # absolute source path at first import
    _f("kind", pa.string(), False),          # image | video
    _f("mime", pa.string(), False),          # sniffed from content
    _f("size_bytes", pa.int64(), False),
    _f("storage", pa.string(), False),       # copy | reference
    _f("blob", pa.string()),                 # path under originals/ (copy mode), else null
    _f("width", pa.int32()),                 # upright (as displayed) pixels
    _f("height", pa.int32()),
    _f("duration_s", pa.float64()),
    _f("fps", pa.float64()),
    _f("video_codec", pa.string()),
    _f("audio_codec", pa.string()),
    _f("taken_at", pa.timestamp("us")),      # local wall-clock time of capture
    _f("taken_at_offset_min", pa.int32()),   # its UTC offset when known
    _f("taken_at_source", pa.string()),      # exif | exif_digitized | xmp | gps | video | file_mtime
    _f("timezone", pa.string()),             # IANA zone when known (from the offset or GPS)
    _f("camera_make", pa.string()),
    _f("camera_model", pa.string()),
    _f("lens", pa.string()),
    _f("exposure_time_s", pa.float64()),
    _f("f_number", pa.float64()),
    _f("iso", pa.int32()),
    _f("focal_length_mm", pa.float64()),
    _f("orientation", pa.int32()),           # EXIF/XMP value 1..8 as stored in the file
    _f("gps_lat", pa.float64()),
    _f("gps_lon", pa.float64()),
    _f("gps_alt_m", pa.float64()),
    _f("place_city", pa.string()),
    _f("place_region", pa.string()),
    _f("place_country", pa.string()),
    _f("place", pa.string()),                # "City, Region, Country" for display and search
    _f("owner", pa.string(), False),
    _f("imported_at", UTC_TS, False),
    _f("search_text", pa.string()),          # words of file name, folders, camera, place: full-text index
    # Set once the original was replaced by a compressed version (compress/replace.py); null: the original as imported.
    _f("stored_as", pa.string()),            # jxl-reconstructible | lossless-pixels | lossy
    _f("stored_sha256", pa.string()),        # sha256 of the stored file (``blob``), for verify
    _f("stored_bytes", pa.int64()),
    _f("original_blob", pa.string()),        # where the original was under originals/ (now in trash/originals/)
])

# Every path a content hash was found at. Exact duplicates are media with more than one source.
SOURCES = pa.schema([
    _f("key", pa.string(), False),           # sha256(media_id + path)[:24]
    _f("media_id", pa.string(), False),
    _f("path", pa.string(), False),
    _f("mode", pa.string(), False),          # copy | reference
    _f("owner", pa.string(), False),
    _f("size_bytes", pa.int64()),            # size and mtime when found: an unchanged file is not re-read
    _f("mtime_ns", pa.int64()),
    _f("found_at", UTC_TS, False),
])

# One row per (file path, stage) that failed, with a specific reason. A later success removes it.
ERRORS = pa.schema([
    _f("key", pa.string(), False),           # sha256(path + stage)[:24]
    _f("path", pa.string(), False),
    _f("media_id", pa.string()),
    _f("stage", pa.string(), False),         # import | metadata | thumbnails | ...
    _f("reason", pa.string(), False),
    _f("at", UTC_TS, False),
])

# Stage tables share these leading columns; pending work is "media without a row for this version".
STAGE_KEY_FIELDS = [
    _f("key", pa.string(), False),           # media_id + "@" + version
    _f("media_id", pa.string(), False),
    _f("version", pa.string(), False),
    _f("status", pa.string(), False),        # ok | failed
    _f("error", pa.string()),
    _f("created_at", UTC_TS, False),
]


def stage_schema(*fields: pa.Field) -> pa.Schema:
    """A stage table's schema: the shared key columns, then the stage's own outputs."""
    return pa.schema(STAGE_KEY_FIELDS + list(fields))


THUMBNAILS = stage_schema(
    _f("thumb", pa.string()),                # path under derived/
    _f("thumb_width", pa.int32()),
    _f("thumb_height", pa.int32()),
    _f("preview", pa.string()),
    _f("preview_width", pa.int32()),
    _f("preview_height", pa.int32()),
    _f("poster_time_s", pa.float64()),       # videos: time of the frame shown
)

# One line of text read in a picture (stages/ocr.py).
TEXT_LINE = pa.struct([
    _f("text", pa.string()),
    _f("box", pa.list_(pa.int32())),         # 4 corners x1,y1,..,x4,y4 clockwise from top-left, upright original px
    _f("confidence", pa.float32()),          # recogniser's confidence 0..1
    _f("t_s", pa.float64()),                 # videos: time of the frame it was read in; null for images
])

# The ``ocr`` stage table, keyed ``media_id@model version``; ``text`` (the lines joined) is full-text indexed.
OCR = stage_schema(
    _f("lines", pa.list_(TEXT_LINE)),
    _f("line_count", pa.int32()),
    _f("frames_read", pa.int32()),           # 1 for images; sampled frames for videos
    _f("text", pa.string()),
)

# A user's tag decisions: they win over automatic tags and survive re-tagging. Latest row per pair wins.
MANUAL_TAGS = pa.schema([
    _f("key", pa.string(), False),           # media_id + "\0" + tag
    _f("media_id", pa.string(), False),
    _f("tag", pa.string(), False),
    _f("action", pa.string(), False),        # add | remove
    _f("user", pa.string()),
    _f("at", UTC_TS, False),
])

# Per-tag thresholds that override the global ``tag_threshold`` setting.
TAG_THRESHOLDS = pa.schema([
    _f("tag", pa.string(), False),
    _f("threshold", pa.float64(), False),
    _f("at", UTC_TS, False),
])

# People found by clustering faces, or made by a user. Embeddings live in one model's space, hence model_id.
PERSONS = pa.schema([
    _f("person_id", pa.string(), False),
    _f("model_id", pa.string(), False),
    _f("name", pa.string()),
    _f("mean", pa.list_(pa.float32())),      # mean embedding of its recognisable faces
    _f("cover_face_id", pa.string()),
    _f("face_count", pa.int32()),
    _f("media_count", pa.int32()),
    _f("hidden", pa.bool_(), False),
    _f("merged_into", pa.string()),          # set when a user merged it into another person
    _f("created_at", UTC_TS, False),
    _f("updated_at", UTC_TS, False),
])

# Which person a face is, and who said so. ``auto`` rows come from clustering and may be redone; ``confirmed``
# and ``rejected`` rows are user decisions that clustering never overrides. A face has at most one auto or
# confirmed row; it may have any number of rejections ("not this person").
FACE_ASSIGNMENTS = pa.schema([
    _f("key", pa.string(), False),           # face_id + "\0" + person_id
    _f("face_id", pa.string(), False),
    _f("person_id", pa.string(), False),
    _f("source", pa.string(), False),        # auto | confirmed | rejected
    _f("user", pa.string()),
    _f("at", UTC_TS, False),
])

# Media a user put in the trash: hidden everywhere, deleted only when the trash is emptied.
TRASH = pa.schema([
    _f("media_id", pa.string(), False),
    _f("user", pa.string()),
    _f("reason", pa.string()),               # e.g. "duplicate of 3fa2c1..." when trashed from a duplicate group
    _f("at", UTC_TS, False),
])

# "These are not duplicates": a user's answer about a suggested group, never suggested again.
DUPLICATE_DECISIONS = pa.schema([
    _f("key", pa.string(), False),           # the sorted member ids joined by ","
    _f("members", pa.list_(pa.string()), False),
    _f("decision", pa.string(), False),      # not_duplicates
    _f("user", pa.string()),
    _f("at", UTC_TS, False),
])

# New versions written by a compression policy; the originals stay. One row per (media, policy).
VERSIONS = pa.schema([
    _f("key", pa.string(), False),           # media_id@policy
    _f("media_id", pa.string(), False),
    _f("policy", pa.string(), False),
    _f("codec", pa.string(), False),
    _f("quality", pa.int32()),
    _f("path", pa.string()),                 # under derived/, null when nothing smaller was found
    _f("bytes_before", pa.int64()),
    _f("bytes_after", pa.int64()),
    _f("metric", pa.string()),
    _f("value", pa.float64()),
    _f("verified", pa.bool_()),
    _f("created_at", UTC_TS, False),
])

# Users and sharing (workbench/access). Only password hashes (argon2id) and token hashes (sha256) are stored.
USERS = pa.schema([
    _f("name", pa.string(), False),          # login name; media whose owner is this name are theirs
    _f("password_hash", pa.string(), False),  # argon2id encoded hash: parameters and salt included
    _f("role", pa.string(), False),          # admin | curator | viewer
    _f("created_at", UTC_TS, False),
    _f("updated_at", UTC_TS, False),
])

# A login: the sha256 of the session token (the token itself is only ever given to the client).
SESSIONS = pa.schema([
    _f("token_hash", pa.string(), False),
    _f("user", pa.string(), False),
    _f("created_at", UTC_TS, False),
    _f("expires_at", UTC_TS, False),
])

# One row per failed login or share-password attempt, for throttling. ``subject`` is a sha256 of what was tried
# ("user:<name>", "client:<address>", "share:<id>"), so a password typed into the name field is never stored.
LOGIN_FAILURES = pa.schema([
    _f("key", pa.string(), False),           # random
    _f("subject", pa.string(), False),
    _f("at", UTC_TS, False),
])

ALBUMS = pa.schema([
    _f("album_id", pa.string(), False),      # 16 random hex digits
    _f("name", pa.string(), False),
    _f("owner", pa.string(), False),         # user name
    _f("created_at", UTC_TS, False),
    _f("updated_at", UTC_TS, False),
    _f("cover_media_id", pa.string()),       # the cover its managers chose; null: the newest photo
])

ALBUM_ITEMS = pa.schema([
    _f("key", pa.string(), False),           # album_id + "\0" + media_id
    _f("album_id", pa.string(), False),
    _f("media_id", pa.string(), False),
    _f("added_by", pa.string()),
    _f("added_at", UTC_TS, False),
    _f("position", pa.float64()),            # the album's own order once its managers arranged it; null: unplaced
])

# A user's favourites: one row per (user, media), written idempotently; gone when the user unmarks it.
FAVOURITES = pa.schema([
    _f("key", pa.string(), False),           # user + "\0" + media_id
    _f("user", pa.string(), False),
    _f("media_id", pa.string(), False),
    _f("at", UTC_TS, False),
])

# Users who may see an album (viewer) or also add to it (contributor), besides its owner.
ALBUM_MEMBERS = pa.schema([
    _f("key", pa.string(), False),           # album_id + "\0" + user
    _f("album_id", pa.string(), False),
    _f("user", pa.string(), False),
    _f("role", pa.string(), False),          # viewer | contributor
    _f("added_at", UTC_TS, False),
])

# Share links: whoever holds the token sees that one album, read-only, without an account.
SHARES = pa.schema([
    _f("share_id", pa.string(), False),      # 16 random hex digits, to list and revoke a link
    _f("album_id", pa.string(), False),
    _f("token_hash", pa.string(), False),    # sha256 of the token (the token has 256 random bits)
    _f("password_hash", pa.string()),        # argon2id, when the link needs a password
    _f("expires_at", UTC_TS),
    _f("revoked_at", UTC_TS),
    _f("created_by", pa.string()),
    _f("created_at", UTC_TS, False),
    _f("accepts_uploads", pa.bool_()),       # visitors may upload into the album (null/false: off, the default)
])

# Replica stores a library copies its originals to (workbench/replicas/): another folder, another bucket.
REPLICAS = pa.schema([
    _f("name", pa.string(), False),
    _f("target", pa.string(), False),        # absolute folder path or s3://bucket/prefix
    _f("added_at", UTC_TS, False),
])

# One row per original verified on a replica: written only after the copy there was read back and hashed.
REPLICA_COPIES = pa.schema([
    _f("key", pa.string(), False),           # replica + "\0" + object key
    _f("replica", pa.string(), False),
    _f("object_key", pa.string(), False),    # the key as stored (for an encrypted library: its ciphertext's)
    _f("media_id", pa.string(), False),
    _f("sha256", pa.string(), False),        # sha256 of the bytes as stored (the ciphertext when encrypted)
    _f("size_bytes", pa.int64(), False),
    _f("verified_at", UTC_TS, False),
])

# What scrub found wrong and what it did: repaired from a replica, re-sent, rebuilt, or no good copy.
REPAIR_EVENTS = pa.schema([
    _f("event_id", pa.string(), False),
    _f("at", UTC_TS, False),
    _f("media_id", pa.string()),
    _f("object", pa.string(), False),        # original | replica copy | thumb | preview
    _f("location", pa.string(), False),      # primary | <replica name>
    _f("object_key", pa.string(), False),
    _f("problem", pa.string(), False),       # missing | changed | unreadable
    _f("detail", pa.string()),
    _f("action", pa.string(), False),        # repaired | resent | rebuilt | unrepairable
    _f("source", pa.string()),               # where the good copy came from (a replica name, primary, the original)
])

# Hashes of renditions, learnt the first time scrub reads them (after they decode), so later scrubs find bit rot.
RENDITION_HASHES = pa.schema([
    _f("key", pa.string(), False),           # the derived key
    _f("media_id", pa.string(), False),
    _f("sha256", pa.string(), False),
    _f("size_bytes", pa.int64(), False),
    _f("row_created_at", UTC_TS),            # the thumbnails row's: a rendition the stage rewrote is learnt again
    _f("learnt_at", UTC_TS, False),
])

# One row per finished scrub; the last one's cursor is where the next sampled scrub starts.
SCRUB_RUNS = pa.schema([
    _f("run_id", pa.string(), False),
    _f("started_at", UTC_TS, False),
    _f("finished_at", UTC_TS, False),
    _f("sample_percent", pa.float64(), False),
    _f("budget_s", pa.float64()),
    _f("checked", pa.int64(), False),
    _f("bytes_read", pa.int64(), False),
    _f("problems", pa.int64(), False),
    _f("repaired", pa.int64(), False),
    _f("unrepairable", pa.int64(), False),
    _f("cursor", pa.string()),               # the last check done: the next sampled scrub starts after it
])

#: The column each table an import writes is merged on, declared its primary key when the table is made
#: (``Catalog.ensure``); other tables declare theirs on their first keyed write.
CORE_KEYS: dict[str, str] = {"media": "id", "sources": "key", "errors": "key"}

CORE_TABLES: dict[str, pa.Schema] = {"media": MEDIA, "sources": SOURCES, "errors": ERRORS,
                                     "manual_tags": MANUAL_TAGS, "tag_thresholds": TAG_THRESHOLDS,
                                     "persons": PERSONS, "face_assignments": FACE_ASSIGNMENTS, "trash": TRASH,
                                     "duplicate_decisions": DUPLICATE_DECISIONS, "versions": VERSIONS,
                                     "users": USERS, "sessions": SESSIONS, "login_failures": LOGIN_FAILURES,
                                     "albums": ALBUMS, "album_items": ALBUM_ITEMS, "album_members": ALBUM_MEMBERS,
                                     "shares": SHARES, "favourites": FAVOURITES,
                                     "replicas": REPLICAS, "replica_copies": REPLICA_COPIES,
                                     "repair_events": REPAIR_EVENTS, "rendition_hashes": RENDITION_HASHES,
                                     "scrub_runs": SCRUB_RUNS}
