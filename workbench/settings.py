"""Every tunable number in one place, each with the reason for its default (design rule 4).

A library stores its own overrides in ``<library>/settings.json``; ``Settings.load`` merges them over these
defaults, and the dashboards edit that file through ``Library``.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path


@dataclass
class Settings:
    # Renditions. 256 px fills a grid cell on a high-DPI screen; 1440 px is a full-screen preview on a laptop
    # and is the size the semantic and face stages read, so the original is decoded once.
    thumb_size_px: int = 256
    preview_size_px: int = 1440
    # WebP quality 80 keeps previews visually clean at about a tenth of the JPEG size. Encoder effort, measured on
    # 1440 px previews of 4 generated 12 MP photos and 4 real ones (docs/benchmarks.md, ingest): method 1 takes
    # 29 ms for 166 KiB at 35.38 dB PSNR; method 4 (libwebp's default) 85 ms for 167 KiB at 35.48 dB; method 2
    # 41 ms, 173 KiB, 35.15 dB; method 0 25 ms, 172 KiB, 35.37 dB. Method 1: a third of the time, same size/quality.
    webp_quality: int = 80
    webp_method: int = 1
    # Pillow refuses images above twice its MAX_IMAGE_PIXELS (2 x 89.5 MP); real panoramas stay under this.
    max_image_megapixels: float = 179.0
    # A poster frame whose mean luma (0-255) is below this is treated as black and skipped.
    poster_min_luma: float = 24.0
    # Candidate poster frames sampled across a video (fractions of its duration).
    poster_candidates: int = 6
    # Dates before the first surviving photograph (1826) or more than this far in the future are rejected.
    max_future_days: float = 2.0
    # A worker that takes longer than this on one file is killed and the file recorded as failed.
    per_file_timeout_s: float = 120.0
    # Worker processes for ingest and stages; 0 means one per CPU core.
    workers: int = 0
    # Catalog rows are committed at least this often, so a killed import loses little work.
    commit_every_files: int = 256
    commit_every_s: float = 15.0
    # How long a write (import, process, trash, naming...) waits for another writer to finish before saying the
    # library is busy. `workbench serve`'s processor holds the lock one chunk at a time (serve_chunk_media media of
    # one stage; faces and OCR take 1.1 s per photo with kept workers, docs/benchmarks.md serve_workers, so a
    # 64-photo chunk is about 70 s) and steps aside between chunks when someone waits: two minutes covers a chunk.
    write_lock_wait_s: float = 120.0
    # `workbench process --engine ray`: the cluster ("" starts one on this machine; "auto"; "ray://host:10001") and
    # the resources each Ray worker asks for. Decode-heavy stages run as tasks of ray_cpus_per_task CPUs; model
    # stages (CLIP, faces) as an actor pool whose actors each hold the model and ask for ray_cpus_per_actor CPUs
    # and ray_gpus_per_actor GPUs (0 here: no GPU; 1 on a GPU node runs the model there).
    ray_address: str = ""
    ray_cpus_per_task: float = 1.0
    ray_cpus_per_actor: float = 1.0
    ray_gpus_per_actor: float = 0.0
    # `workbench import --engine ray`: files per Ray task (hash, sniff, metadata, copy-in). A 12 MP JPEG costs ~25 ms
    # of CPU to import (docs/benchmarks.md ingest: 12.2 s on 2 cores for 1,000) and a Ray task a few ms to
    # schedule (Ray's figure, not measured here), so 8 files (~200 ms) keep that overhead small while a file that
    # kills its worker costs the rerun of only 7 others. Not tuned by a measurement yet (docs/scale.md).
    ray_import_files_per_task: int = 8
    # `workbench serve`'s background processor. It checks for new media every serve_poll_interval_s (one read of
    # the media table's version, ~0.1 ms: 1 s costs nothing and keeps a new photo's thumbnail within the 5 s
    # goal, docs/benchmarks.md serve_latency) and takes at most serve_chunk_media media per stage at a time,
    # then starts again from the first stage: a photo uploaded during a long faces backlog waits for one chunk,
    # not for the backlog.
    serve_poll_interval_s: float = 1.0
    serve_chunk_media: int = 64
    # Its stage workers stay up between chunks, so face and OCR workers load their models once instead of once per
    # chunk (docs/benchmarks.md serve_latency: the faces stage of one photo), and are stopped after this long
    # unused: the memory of the models (several hundred MB) goes back when no media arrive for five minutes.
    serve_keep_workers_s: float = 300.0
    # The catalog compaction and replica sync that end `workbench process` run in the processor once its queue
    # empties, not after every chunk (compacting the 29 tables of a small library took 0.3-0.9 s on a loaded
    # 2-core machine: as much again as a one-photo faces chunk, 1.1 s). During a longer backlog they run between
    # chunks once this many seconds have passed since the last time, so replicas never fall further behind.
    serve_upkeep_interval_s: float = 600.0
    # And it scrubs by itself (docs/archive.md): once the queue is empty and serve_scrub_interval_h have passed since
    # the last scrub, it checks serve_scrub_sample_percent of the library (continuing where the last scrub stopped,
    # so 5 % a day re-reads everything every 20 days, as the nightly cron line the docs suggested did), in slices of
    # at most serve_scrub_slice_s that each hold the write lock: an import or an upload waits at most one slice
    # (well inside write_lock_wait_s) and new media are processed between slices. A slice of 30 s re-reads ~6 GB
    # at the measured 221 MB/s (docs/benchmarks.md scrub). 0 hours turns it off.
    serve_scrub_interval_h: float = 24.0
    serve_scrub_sample_percent: float = 5.0
    serve_scrub_slice_s: float = 30.0

    # Semantic layer (CLIP). ViT-B-32 with LAION-2B weights: Immich's published retrieval table puts it well above
    # OpenAI's ViT-B-32 at the same cost. A local checkpoint path, when set, wins over the name/tag pair.
    clip_model: str = "ViT-B-32"
    clip_pretrained: str = "laion2b_s34b_b79k"
    clip_checkpoint: str = ""
    # Where downloaded weights are cached ("" = open_clip's default, the Hugging Face cache).
    clip_cache_dir: str = ""
    clip_batch_size: int = 16
    # Encode images with ONNX Runtime and int8 dynamic quantization (the model is exported once and cached under
    # clip_cache_dir or the temp folder). Measured 2.1-3.6x stock open_clip fp32 on ViT-B-32 at cosine >= 0.9998
    # (random weights, loaded machine; docs/benchmarks.md). Off by default: its fidelity on trained weights is not
    # measured (none can be downloaded here). Text embeddings always use the fp32 torch model.
    clip_onnx_int8: bool = False
    # Batches that loader threads decode and preprocess ahead of the image encoder, so the encoder does not wait
    # for the next one (0: load and encode one after the other). Two absorb a slow file without holding many
    # images; measured with 1,000 previews in docs/benchmarks.md (embed_pipeline).
    clip_prefetch_batches: int = 2
    # Video frames embedded per video: scene changes plus one every video_frame_interval_s, at most this many.
    video_max_frames: int = 16
    video_frame_interval_s: float = 10.0
    # Mean absolute luma difference (0-255) between consecutive sampled frames that counts as a scene change.
    video_scene_change: float = 30.0
    # Zero-shot tags: a tag applies when its calibrated score reaches this; per-tag overrides live in the catalog.
    tag_threshold: float = 0.5

    # Faces (DeepFace). Dlib's ResNet model and detectors ship in face_recognition_models, so they work offline;
    # ArcFace, Facenet512, SFace and the retinaface/yunet/mtcnn detectors work where their weights can be fetched.
    face_model: str = "Dlib"
    # dlib's HOG detector, measured against its CNN (benchmarks/faces_detect.py, docs/benchmarks.md): HOG with one
    # upsampling pass finds 30/30 faces in face_recognition and 19/23 in PhotoPrism's set at 0.37 s per preview;
    # the CNN ("dlib_cnn", upsample 1) finds 22/23 (masked, turned and hair-covered faces) at ~31 s without BLAS.
    face_detector: str = "dlib"
    # Detector upsampling passes: each doubles the image, so faces half as small are found, at 4x the time.
    face_detect_upsample: int = 1
    # Faces are found on the preview; a face whose box is shorter than this (preview pixels) or whose aligned
    # crop is blurrier than face_min_sharpness (Laplacian variance at 112 px) is kept and listed but not
    # recognised or clustered, with the reason. Measured (benchmarks/faces_gating.py, docs/benchmarks.md): the
    # embedding drifts 0.40-0.42 on average from the same face at full size below 48 px, 0.31 at 48-56 px; blur
    # to sharpness ~23 drifts 0.34 (max 0.46), to ~10 drifts 0.48 (max 0.72), against a match distance of 0.5.
    face_min_size_px: int = 48
    face_min_sharpness: float = 20.0
    # Dlib embeddings: same person when closer than this (face_recognition's 0.6 is tuned for verification;
    # clustering people needs fewer false merges).
    face_match_distance: float = 0.5
    # Suggestions for faces left without a person reach further, to dlib's own "same person" distance (0.6,
    # face_recognition's default tolerance): a person checks each one before anything changes. On the corpus's
    # labelled faces the right suggestions were at 0.474 and 0.536, the nearest wrong person at 0.639
    # (people/suggest.py). The faces dashboard's slider starts here.
    face_suggest_max_distance: float = 0.6
    face_cluster_method: str = "chinese_whispers"
    face_min_cluster_size: int = 2

    # Text in photos (OCR, workbench/ocr). The PP-OCRv4 models shipped in rapidocr-onnxruntime read Chinese and
    # English (Latin letters without accents: "çocuklar" is read as "cocuklar", which the accent-folding search
    # still finds). Other PaddleOCR recognition models converted to ONNX (latin, cyrillic, korean, japanese, ...)
    # work by pointing ocr_rec_model_path at the .onnx file and ocr_rec_keys_path at its character list; the
    # model files' names and hashes go into the stage version, so changing them makes every media pending.
    ocr_det_model_path: str = ""
    ocr_rec_model_path: str = ""
    ocr_rec_keys_path: str = ""
    # A line is kept when the recogniser is at least this sure (RapidOCR's own default, 0.5).
    ocr_min_confidence: float = 0.5
    # A cheap first look: the detector on the preview at this long side, with this box threshold; a picture where
    # it finds nothing is done (most photos). 0 turns the first look off. Measured in benchmarks/ocr.py
    # (docs/benchmarks.md): photos without text cost 4x less with it, and it lost none of 63 words.
    ocr_first_look_px: int = 640
    ocr_first_look_box_thresh: float = 0.3
    # A picture the look passes is decoded from its original at this long side or more (JPEG DCT scaling keeps it
    # cheap; 0: use the preview) and searched by the detector at ocr_detect_size_px, and its lines are read from
    # it. Measured in benchmarks/ocr.py: on the 1440 px WebP preview small words are missed or run together
    # (recall 0.70 against 1.00); detecting at 1440 instead of 2000 is ~2x faster on pictures with text but loses
    # 3 of 63 words (stock RapidOCR also detects at up to 2000 px).
    ocr_detect_size_px: int = 2000
    ocr_read_size_px: int = 2000
    # The detector at ocr_detect_size_px runs only on the parts where the first look saw text (its map above
    # ocr_look_map_thresh), each grown by ocr_look_margin (a fraction of the look's long side), unless they cover
    # more than ocr_look_max_area of the picture (then on all of it; 1.0: always on all of it). Measured in
    # benchmarks/ocr.py (docs/benchmarks.md): 2.7x stock per picture with text (3.3x CPU) against 1.4x on the
    # whole picture, recall 0.968 against 1.000; margins 0.02-0.04 at map threshold 0.3 lost 7 of 63 words.
    ocr_look_margin: float = 0.06
    ocr_look_map_thresh: float = 0.05
    ocr_look_max_area: float = 0.6
    # A line that a part's edge cuts (small print the look cannot see beside text it saw, like a page's running
    # header) is followed: a band past that edge, ocr_look_margin deep, is detected too, at most this many bands
    # per picture (0: never; the bound keeps a page of tilted small print from costing a pass per line). Measured
    # in benchmarks/ocr.py (docs/benchmarks.md, OCR sixth pass): 2 of the 10 pictures with text get one band
    # each, the book's header line is read (recall 0.968 -> 0.984), CPU per picture with text +3 to +7%.
    ocr_cut_line_passes: int = 4
    # How far a detected line's box is grown around the detector's text core (PP-OCR's unclip ratio, 1.6 in
    # RapidOCR). Lines detected in parts of the picture get boxes a few pixels tighter, and the recogniser then
    # drops spaces in tilted lines ("bakeryfrommessage"); 1.7 keeps them (benchmarks/ocr.py).
    ocr_box_unclip_ratio: float = 1.7
    # A line read with a confidence below ocr_reread_below, or whose text matches ocr_reread_pattern (a typical
    # misread: "/" between two letters, a handwritten "l" read "re/ease"), is read again from its box shrunk by
    # ocr_reread_shrink of its height (about stock's unclip 1.5), and the surer reading kept (0 / "": never).
    # Measured in benchmarks/ocr.py (docs/benchmarks.md, OCR seventh pass): the pattern re-reads 2 of ~130 lines
    # and brings recall from 62/63 to 63/63 ("release"), no absent word found, CPU within noise. Confidence 0.85
    # (just above that line's 0.849) also reaches 63/63 but re-reads a quarter of the lines: +5 to +10% CPU per
    # picture with text, so it is off.
    ocr_reread_below: float = 0.0
    ocr_reread_pattern: str = r"[^\W\d_]/[^\W\d_]"
    ocr_reread_shrink: float = 0.1
    # ONNX Runtime's memory arena for the OCR models (RapidOCR turns it off; see workbench/ocr/engine.py).
    ocr_memory_arena: bool = True
    # Run simplified copies of the OCR models (workbench/ocr/graph.py: each layer's scalar scale, bias and
    # hard-swish passes folded into the convolutions, same arithmetic), made once and cached in ocr_cache_dir
    # ("" = $XDG_CACHE_HOME/workbench/ocr). Measured in benchmarks/ocr.py: 1.4x less CPU in the detector and
    # 1.5x in the recogniser, the same 129 lines read and the same text map.
    ocr_simplify_models: bool = True
    ocr_cache_dir: str = ""
    # Turn lines read upside down (PP-OCR's angle classifier; a few ms per picture with text).
    ocr_angle_classifier: bool = True
    # Videos: read this many frames spread over the video (0: videos are not read).
    ocr_video_frames: int = 3

    # Quality flags: overrides of the thresholds in workbench/quality/measures.py (QualityThresholds, each with
    # the measurement behind its default), e.g. {"blur_max_sharpness": 60}. Flags are decided when read.
    quality_thresholds: dict = field(default_factory=dict)
    # Duplicates. Same picture: the summed pHash+dHash+aHash distance (of 192 bits) at the best pairing of centre
    # views (benchmarks/duplicates_eval.py: true copies median 1, p99 16, all <= 18; unrelated photos from ~30;
    # the closest different photos, a stereo pair, 24), or at most duplicate_off_centre_max_bits through an
    # off-centre crop view.
    duplicate_max_bits: int = 20
    duplicate_off_centre_max_bits: int = 6
    # Similar shots (bursts): same camera, taken within this many seconds, and alike within burst_max_bits
    # (benchmarks/bursts_eval.py: simulated burst frames, shifted 2-8 %, zoomed 3-6 %, +-8 % exposure, are at most
    # 31 bits from the first frame; pairs of different corpus photos join 1.5 % at 30-50 (copies and flat
    # squares in the corpus), 3.7 % at 60 and 27 % at 70).
    burst_max_gap_s: float = 2.0
    burst_max_bits: int = 40
    # ... or CLIP cosine similarity at least this, where embeddings exist. NOT measured: no CLIP weights could be
    # downloaded where this was built. 0.92 is a conservative guess (near-identical photos typically score above
    # 0.95 with ViT-B-32); measure it with real weights before relying on it.
    burst_min_clip_cosine: float = 0.92
    # Re-encoded videos: durations within max(this, 2 %) and frame pHashes within this many bits on average.
    video_duplicate_max_duration_diff_s: float = 1.0
    video_duplicate_max_mean_bits: float = 8.0
    # Copies rotated by an arbitrary angle (workbench/duplicates/rotation.py; benchmarks/rotated_duplicates.py):
    # candidates are each image's rotated_duplicate_neighbours nearest centre-disc colour descriptors within
    # rotated_duplicate_max_disc_distance; a candidate is the same picture when at least
    # rotated_duplicate_min_inliers ORB matches fit one rotation+scale that maps centre to centre within
    # rotated_duplicate_max_centre_offset of the long side. 0 neighbours turns the route off. Measured on 147
    # corpus pictures x 16 rotated copies (2-107 degrees, black or cropped corners; docs/benchmarks.md "Rotated
    # copies"): true copies are at disc distance median 0.17, p99 0.53 (0.6 keeps 99.7 %), 97 % of them nearer to
    # their original than any other original; their centre maps within 0.008 (p99) of the long side, while a
    # burst-like frame (scene moved 2-3 %) maps at 0.02-0.03 and the stereo pair at 0.02-0.05: 0.015 admits no
    # false pair among 8,631 found (0.03 admitted 11, the stereo pair's rotated copies, and the burst frames); 8
    # inliers would add 0.3 % recall, 12 keeps margin. Neighbours: 10 find 0.939 of one-copy-per-picture rotated
    # copies with 4.1 verifications per image (1-3 ms each, on every duplicates call), 3 find 0.878 with 1.5.
    rotated_duplicate_neighbours: int = 10
    rotated_duplicate_max_disc_distance: float = 0.6
    rotated_duplicate_min_inliers: int = 12
    rotated_duplicate_max_centre_offset: float = 0.015

    # Users and sharing (workbench/access). A login session lasts session_lifetime_s (a week: a family gallery
    # should not ask every day; logout ends it at once). Failed passwords (sign-in, and share links' passwords)
    # within login_failure_window_s are counted three ways, each locking for login_lockout_s after its last
    # failure (workbench/access/throttle.py):
    # - login_max_failures for one name (or link) from one client address: 5 per 15 minutes lets a person mistype
    #   a few times and holds a guesser at one account from one address to ~480 tries a day;
    # - login_client_max_failures for one address over all names and links: a household behind one address can
    #   still mistype 5 times each for 4 people, but one address can no longer try 4 passwords on every name;
    # - login_account_max_failures for one name (or link) over all addresses: a guesser spread over many
    #   addresses is bounded too, while a stranger needs 100 wrong guesses from at least 5 addresses (20 each) to
    #   lock an account for its owner, instead of 5 from anywhere. 100 is NIST SP 800-63B's ceiling for failed
    #   attempts on one account.
    # An admin password reset (`workbench users passwd`) lifts every lock on that name. A guess waits at most
    # login_lock_wait_s for the checks running before it (each is ~0.3 s of argon2) before "try again".
    # Passwords need password_min_length characters (NIST SP 800-63B's minimum).
    session_lifetime_s: float = 7 * 24 * 3600.0
    login_max_failures: int = 5
    login_client_max_failures: int = 20
    login_account_max_failures: int = 100
    login_failure_window_s: float = 900.0
    login_lockout_s: float = 900.0
    login_lock_wait_s: float = 30.0
    password_min_length: int = 8
    # The gallery server (workbench/gallery/kernels.py). Each open page is a kernel: about 150-300 MB (measured in
    # docs/benchmarks.md, gallery load). gallery_max_kernels caps them all (40 x ~200 MB leaves room on a 16 GB
    # machine); a person gets gallery_kernels_per_user pages at once (a phone, a laptop and two tabs), and one
    # share link gallery_kernels_per_share (a family opening the same link). Past a cap, pages whose tab is gone
    # are shut down first; then the visitor sees "busy, try again". Anonymous visitors never get one.
    gallery_max_kernels: int = 40
    gallery_kernels_per_user: int = 4
    gallery_kernels_per_share: int = 10
    # Kernels can run at a lower priority (`nice`, 0 = like the server). Starting one costs 3-4 s of CPU, and 40
    # starting at once on 2 cores made the server's own pages wait 10-14 s. Measured with 16 viewers at once,
    # alternating (docs/benchmarks.md, gallery load): nice 10 did not shorten the server's longest wait beyond the
    # noise of a busy machine (3.3-3.9 s vs 2.1-4.3 s), and it lets any other work on the machine (a `process`
    # run) starve viewers' pages. So 0 by default; a dedicated gallery machine may try 10.
    gallery_kernel_nice: int = 0
    # The timeline shows new media by itself: each page compares the media table's version (a manifest read,
    # ~0.1 ms) and the processor's thumbnail count (a small JSON file) this often, and reloads when they moved.
    # 10 s keeps an upload's wait for its tile near the processor's own latency (under 5 s to the thumbnail,
    # docs/benchmarks.md serve_latency) at a cost 40 open pages cannot feel; 0 turns it off.
    gallery_refresh_interval_s: float = 10.0
    # Kernels are forks of one process that has imported numpy, pandas, lancedb, ipykernel and the gallery
    # (workbench/gallery/forkserver.py). 40 viewers at once, same run (docs/benchmarks.md, gallery load): a
    # kernel's CPU 4.8 -> 2.4 s, its private memory 145 -> 74 MB, p95 ready 110 -> 57 s. False: start each anew.
    gallery_kernel_fork: bool = True
    # The plain first screen (/timeline, workbench/gallery/first_screen.py) puts its tiles' thumbnails in the page
    # and in each further page of tiles (data: URLs, read through the visitor's view with the page) instead of one
    # signed request per tile: a viewer's first screen is 2 requests instead of 50, and 40 viewers at once cost the
    # server 0.10-0.17 s of CPU each instead of 0.26-0.27 s (docs/benchmarks.md, gallery load, both ways in one
    # run). Previews, videos and downloads stay signed links. False: every thumbnail by its own signed link.
    gallery_first_screen_inline: bool = True
    # Host names the gallery answers to (a DNS-rebinding page reaching a server bound to localhost under its own
    # name is refused). Patterns like "*.example.org" work; `workbench gallery --allow-host NAME` adds one.
    gallery_allowed_hosts: list = field(default_factory=lambda: ["localhost", "127.0.0.1", "::1"])
    # Reverse proxies (addresses or networks, e.g. ["127.0.0.1"]) whose X-Forwarded-For and X-Forwarded-Proto the
    # gallery believes. Behind a proxy every visitor arrives from the proxy's address: without this, 20 wrong
    # passwords from anyone (login_client_max_failures) would lock everyone out. Empty: the headers are ignored.
    gallery_trusted_proxies: list = field(default_factory=list)
    # Backups (workbench/backup/, restic). The target (a folder, s3://bucket/prefix, or a restic location such as
    # sftp:host:/path) and a file holding the repository password, so `workbench backup` needs no arguments; the
    # password itself never goes in settings.json or on a command line (WORKBENCH_BACKUP_PASSWORD works too).
    backup_target: str = ""
    backup_password_file: str = ""
    # Retention, applied by `restic forget` after every backup: the last 10 whatever their age (several backups a
    # day must not erase each other), one a day for a week, one a week for five weeks, one a month for a year:
    # the classic grandfather-father-son rotation, ~34 snapshots whose originals deduplicate to one copy.
    backup_keep_last: int = 10
    backup_keep_daily: int = 7
    backup_keep_weekly: int = 5
    backup_keep_monthly: int = 12
    # restic's --compression for backups. Photos and videos are already compressed, so zstd only costs time: 100
    # 12 MP JPEGs (398 MB) took 5.8-8.1 s with "off" and 8.6-10.0 s with restic's default "auto", both storing
    # 398 MB (alternating, same run; 15-17 s against 27-28 s on a busier machine; docs/benchmarks.md, backup). The
    # catalog would compress, but it is small.
    backup_compression: str = "off"

    # Replicas (docs/archive.md): `process` (which `workbench serve` runs too) ends by copying new originals to every
    # replica, so new imports reach them without anyone running `replicas sync`. Not a measured number: a choice,
    # on because an import that reaches no replica is the one copy a disk failure takes.
    replica_sync_after_process: bool = True
    # Object storage (workbench/storage/s3.py, docs/storage.md). Endpoint and region: empty means the standard
    # AWS variables (AWS_ENDPOINT_URL, AWS_REGION) or AWS's defaults; keys only ever come from the environment or
    # ~/.aws, never from this file. Parts of 8 MiB: boto3's default, S3's minimum is 5 MiB, and a part is what
    # one upload holds in RAM. The local cache of objects a decoder needs as a file (videos, RAW) is trimmed to
    # s3_cache_max_bytes. A multipart upload older than s3_stale_upload_hours was left by a killed writer (a
    # live one on another machine is younger) and is aborted. catalog_location: "bucket" keeps the LanceDB
    # catalog at <location>/catalog (every machine sees it), "local" in the library's local home (faster, and
    # metadata stays off someone else's disk); chosen at `workbench init` and recorded in library.json.
    s3_endpoint_url: str = ""
    s3_region: str = ""
    s3_part_size_bytes: int = 8 << 20
    s3_cache_max_bytes: int = 2 << 30
    s3_stale_upload_hours: float = 24.0
    catalog_location: str = "bucket"
    # A catalog in a bucket merges a written table's small fragments (Catalog.compact, after import and process)
    # once it has at least this many: an optimize there costs ~15 requests even with nothing to merge, 46 of the
    # ~200 catalog requests of a 24-photo ingest (docs/benchmarks.md, object storage), and LanceDB's own advice is
    # to optimize after about 20 modifications. 1 = after every write, as a local catalog does.
    catalog_bucket_compact_min_fragments: int = 16
    # Encryption at rest (workbench/storage/encrypted.py, docs/storage.md). Objects are sealed in chunks of
    # encryption_chunk_bytes: a range read decrypts whole chunks, so 64 KiB wastes little on a video seek, while
    # AES-GCM still runs at ~7.7 GB/s on 64 KiB pieces here (per-call cost is noise; docs/benchmarks.md,
    # encryption). Decrypted copies for decoders that need a file live in decrypted_cache_dir ("" =
    # $XDG_CACHE_HOME/workbench/decrypted, 0700, never inside the library), trimmed to decrypted_cache_max_bytes:
    # 8 GiB holds two 4 GB videos being played at once.
    encryption_chunk_bytes: int = 1 << 16
    decrypted_cache_dir: str = ""
    decrypted_cache_max_bytes: int = 8 << 30
    # Uploads from the gallery (tus, workbench/gallery/upload.py). One file may be at most upload_max_file_bytes:
    # 16 GiB holds a 4 GB phone video four times over and stops a client from filling the disk with one upload.
    # upload_quota_bytes caps what one person's uploads may add (bytes of media they were first to store;
    # content already in the library costs nothing); 0 = no cap, an admin's choice per library (a family
    # archive on one disk has none). upload_roles: who may upload at all (viewers too, unless an admin removes
    # them). An upload not touched for upload_expire_s is deleted with its staged bytes: a day lets a closed
    # laptop resume the next morning without leaving abandoned gigabytes for ever.
    upload_max_file_bytes: int = 16 * 1024 ** 3
    upload_quota_bytes: int = 0
    upload_roles: list = field(default_factory=lambda: ["admin", "curator", "viewer"])
    upload_expire_s: float = 86400.0

    @classmethod
    def load(cls, library_root: Path | None = None) -> "Settings":
        """Defaults, overridden by ``<library>/settings.json`` when it exists."""
        s = cls()
        if library_root is not None:
            f = Path(library_root) / "settings.json"
            if f.exists():
                data = json.loads(f.read_text())
                known = {x.name for x in fields(cls)}
                unknown = set(data) - known
                if unknown:
                    raise ValueError(f"{f}: unknown settings {sorted(unknown)}; known settings are {sorted(known)}")
                for k, v in data.items():
                    setattr(s, k, type(getattr(s, k))(v))
        return s

    def save(self, library_root: Path) -> None:
        """Write only the values that differ from the defaults, so new defaults reach old libraries."""
        default = Settings()
        diff = {k: v for k, v in asdict(self).items() if getattr(default, k) != v}
        (Path(library_root) / "settings.json").write_text(json.dumps(diff, indent=2) + "\n")

    def worker_count(self) -> int:
        return self.workers if self.workers > 0 else max(1, os.cpu_count() or 1)
