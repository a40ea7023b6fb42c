"""Embedding map: CLIP (or face) vectors laid out in 2-D with HDBSCAN clusters; hover thumbnails; lasso or box
selection to tag, put in an album or review. Layout maths on synthetic vectors; the dashboard on a real library
(tiny random CLIP model, generated photos and a video), a real server and real Chromium."""
from __future__ import annotations

import concurrent.futures
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from browser import open_page, screenshot, served, settle
from conftest import TINY_CLIP_CONFIG
from factory import jpeg, video
from playwright.sync_api import expect

from workbench import Library
from workbench.dashboards.embedding_map import EmbeddingMap, review_link
from workbench.semantic.layout import MIN_POINTS_FOR_UMAP, layout_points, numba_cache_dir

WAIT_MS = 60_000
N_PHOTOS = 13           # + 1 video = 14 points: under MIN_POINTS_FOR_UMAP, so the served map uses PCA (no numba)
SUMMARY_DONE = "laid out with PCA:"   # in the summary line once a map is shown


def planted(n_clusters: int, per_cluster: int, dim: int = 64, spread: float = 0.05, seed: int = 1):
    """Vectors around n random centres (well apart in ``dim`` dimensions), and the centre each came from."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (n_clusters, dim))
    x = np.concatenate([c + rng.normal(0, spread, (per_cluster, dim)) for c in centres])
    return x.astype(np.float32), np.repeat(np.arange(n_clusters), per_cluster)


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two labelings group the items the same way (the label numbers themselves do not matter)."""
    return len(set(zip(a.tolist(), b.tolist()))) == len(set(a.tolist())) == len(set(b.tolist()))


# -- layout ---------------------------------------------------------------------------------------------------

def test_a_small_map_is_laid_out_with_pca_and_finds_the_planted_clusters():
    x, truth = planted(3, 4)
    assert len(x) < MIN_POINTS_FOR_UMAP
    lay = layout_points(x, min_cluster_size=3)
    assert lay.method == "pca"
    assert lay.xy.shape == (12, 2)
    assert lay.n_clusters == 3 and same_partition(lay.labels, truth)


@pytest.mark.slow
def test_umap_layout_finds_the_planted_clusters():
    """The one test that runs UMAP itself (numba compiles it on a machine's first run, ~40 s; cached after)."""
    x, truth = planted(3, 30)
    lay = layout_points(x, n_neighbors=15, min_dist=0.1, min_cluster_size=5)
    assert lay.method == "umap"
    assert lay.n_clusters == 3 and lay.n_unclustered == 0 and same_partition(lay.labels, truth)


def test_a_point_far_from_every_group_is_left_unclustered():
    x, _ = planted(2, 5)
    far = np.full((1, x.shape[1]), 40.0, np.float32)
    lay = layout_points(np.vstack([x, far]), min_cluster_size=3, metric="euclidean")
    assert lay.labels[-1] == -1 and lay.n_clusters == 2


def test_groups_smaller_than_min_cluster_size_are_not_clusters():
    x, _ = planted(3, 4)
    assert layout_points(x, min_cluster_size=5).n_clusters == 0


def test_an_empty_input_gives_an_empty_map():
    lay = layout_points(np.zeros((0, 8), np.float32))
    assert lay.xy.shape == (0, 2) and lay.n_clusters == 0


@pytest.mark.parametrize("bad", [{"n_neighbors": 1}, {"min_dist": 1.5}, {"min_cluster_size": 1},
                                 {"metric": "manhattan"}])
def test_parameters_out_of_range_are_refused_with_a_message(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        layout_points(planted(2, 4)[0], **bad)


def test_compiled_umap_code_is_cached_under_the_workbench_cache_unless_numba_cache_dir_is_set(monkeypatch, tmp_path):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert numba_cache_dir() == tmp_path / "workbench" / "numba"
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    assert numba_cache_dir() == tmp_path / "mine"


# -- a real library -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def built(tiny_clip_checkpoint, tmp_path_factory) -> Path:
    """13 generated photos and a 2 s video, with thumbnails and tiny-CLIP vectors."""
    cfg, ckpt = tiny_clip_checkpoint
    tmp = tmp_path_factory.mktemp("emap")
    lib = Library.create(tmp / "lib")
    lib.settings.clip_model, lib.settings.clip_checkpoint = str(cfg), str(ckpt)
    lib.settings.save(lib.root)
    for i in range(N_PHOTOS):
        jpeg(tmp / "in" / f"p{i:02d}.jpg", 200, 150, seed=i)
    video(tmp / "in" / "clip.mp4", seconds=2.0)
    lib = Library.open(lib.root)
    lib.import_files([tmp / "in"], progress=False)
    lib.process(["thumbnails", f"embeddings_{TINY_CLIP_CONFIG['embed_dim']}"], progress=False)
    return lib.root


@pytest.fixture
def lib(built, tmp_path) -> Library:
    shutil.copytree(built, tmp_path / "lib", symlinks=True)
    return Library.open(tmp_path / "lib")


@pytest.mark.slow
def test_the_clip_map_has_one_point_per_media_and_a_video_is_one_point(built):
    mv = Library.open(built).map_vectors("clip")
    assert len(mv) == N_PHOTOS + 1 and mv.vectors.shape == (N_PHOTOS + 1, TINY_CLIP_CONFIG["embed_dim"])
    assert (mv.items["kind"] == "video").sum() == 1
    assert mv.metric == "cosine" and mv.items["id"].is_unique


@pytest.mark.slow
def test_trashed_media_leave_the_map(lib):
    gone = lib.media().iloc[0]["id"]
    lib.trash([gone])
    mv = lib.map_vectors()
    assert len(mv) == N_PHOTOS and gone not in set(mv.items["id"])


@pytest.mark.slow
def test_an_unknown_map_source_is_refused(built):
    with pytest.raises(ValueError, match="clip, faces"):
        Library.open(built).map_vectors("colours")


@pytest.mark.slow
def test_every_point_of_a_computed_map_has_a_small_thumbnail_and_a_cluster(built):
    dash = EmbeddingMap(Library.open(built))
    data = dash.compute()
    assert len(data.points) == N_PHOTOS + 1
    assert data.points["thumb"].str.startswith("data:image/webp;base64,").all()
    assert data.points["cluster_label"].notna().all()
    assert "laid out with PCA" in dash.summary.object and f"{N_PHOTOS + 1} pictures" in dash.summary.object


@pytest.mark.slow
def test_more_points_than_max_points_are_sampled_down_and_the_page_says_so(built):
    dash = EmbeddingMap(Library.open(built), max_points=5)
    data = dash.compute()
    assert len(data.points) == 5 and data.total == N_PHOTOS + 1
    assert f"a random sample of {N_PHOTOS + 1}" in dash.summary.object


@pytest.mark.slow
def test_adding_a_selection_to_an_album_by_an_existing_name_reuses_that_album(lib):
    dash = EmbeddingMap(lib)
    dash.compute()
    dash.select([0, 1])
    assert dash.add_selection_to_album("Trip") == (2, True)
    dash.select([1, 2, 3])
    assert dash.add_selection_to_album("trip") == (2, False)
    albums = Library.open(lib.root).albums()
    assert len(albums) == 1 and albums.iloc[0]["items"] == 4


@pytest.mark.slow
def test_clear_selection_empties_the_selection_and_hides_the_actions(built):
    dash = EmbeddingMap(Library.open(built))
    dash.compute()
    dash.select([0, 2, 4])
    assert dash.actions.visible and len(dash.strip.objects) == 3
    dash.clear_selection()
    assert dash.selected_media() == [] and not dash.actions.visible and dash.strip.objects == []
    assert dash.bokeh_source.selected.indices == []


@pytest.mark.slow
def test_the_knobs_are_parameters_and_the_page_follows_them(built):
    dash = EmbeddingMap(Library.open(built))
    dash.compute()
    dash.selected_rows = [0, 2, 4]
    assert dash.actions.visible and len(dash.strip.objects) == 3
    assert "Selected: 3 pictures" in dash.selection_title.object
    dash.min_cluster_size = 2
    dash.compute()   # a new map: its summary says how it was made, and the selection starts over
    assert "smallest cluster 2)" in dash.summary.object and dash.selected_rows == [] and not dash.actions.visible
    # Choosing another source computes its map at once (an async dependency: run where no event loop runs,
    # as Panel runs it in a served page; the test thread may hold Playwright's loop)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(setattr, dash, "source", "faces").result()
    assert "No recognisable faces yet" in dash.summary.object and not dash.plot.visible and dash.data is None


def test_the_review_link_carries_the_selected_media_once_each():
    assert review_link(["a1b2", "c3d4", "a1b2"]) == "../duplicates?ids=a1b2,c3d4"


@pytest.mark.slow
def test_actions_without_a_selection_or_a_name_say_what_is_missing(built):
    dash = EmbeddingMap(Library.open(built))
    dash.compute()
    with pytest.raises(ValueError, match="Select some points"):
        dash.tag_selection("sunset")
    dash.select([0])
    with pytest.raises(ValueError, match="Type a tag name"):
        dash.tag_selection("  ")


@pytest.mark.slow
def test_a_library_without_vectors_says_what_to_run(tmp_path):
    dash = EmbeddingMap(Library.create(tmp_path / "empty"))
    assert dash.compute() is None
    assert "workbench process" in dash.summary.object and not dash.plot.visible


# -- faces (real photos from the shared corpus) -----------------------------------------------------------------

FR = "faces/face_recognition"
PEOPLE = {"obama": ["tests/test_images/obama.jpg", "tests/test_images/obama2.jpg", "examples/obama-720p.jpg"],
          "biden": ["examples/knn_examples/train/biden/biden.jpg", "examples/knn_examples/train/biden/biden2.jpg"],
          "rose": ["examples/knn_examples/train/rose_leslie/img1.jpg",
                   "examples/knn_examples/train/rose_leslie/img2.jpg"]}


@pytest.fixture(scope="module")
def faces_library(corpus, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """Seven portraits of three people; returns the library and each file name's person."""
    tmp = tmp_path_factory.mktemp("emap_faces")
    who = {}
    for person, rels in PEOPLE.items():
        for rel in rels:
            name = rel.replace("/", "_")
            (tmp / "in").mkdir(exist_ok=True)
            shutil.copy(corpus / FR / rel, tmp / "in" / name)
            who[name] = person
    lib = Library.create(tmp / "lib")
    lib.import_files([tmp / "in"], progress=False)
    lib.process(["thumbnails", "face_scans"], progress=False)
    return lib.root, who


@pytest.mark.slow
def test_the_face_map_has_one_point_per_face_and_each_face_sits_nearest_its_own_person(faces_library):
    root, who = faces_library
    dash = EmbeddingMap(Library.open(root), source="faces")
    data = dash.compute()
    pts = data.points
    assert len(pts) == len(who)
    truth = np.array([who[Path(p).name] for p in pts["path"]])
    xy = pts[["x", "y"]].to_numpy()
    d = np.linalg.norm(xy[:, None] - xy[None], axis=-1) + np.eye(len(xy)) * 1e9
    assert (truth[d.argmin(axis=1)] == truth).all()
    assert pts["name"].str.startswith("unnamed person").all()  # nobody is named yet


@pytest.mark.slow
def test_a_face_selection_acts_on_the_pictures_the_faces_are_in(faces_library):
    root, who = faces_library
    dash = EmbeddingMap(Library.open(root), source="faces")
    data = dash.compute()
    dash.select(range(len(data.points)))
    assert set(dash.selected_media()) == set(Library.open(root).media()["id"])
    assert 'href="../faces"' in dash.links.object


# -- in the browser -----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def served_copy(built, tmp_path_factory) -> tuple[str, Path]:
    """One server (map + duplicates review) on a copy of the library that the browser tests may change."""
    root = tmp_path_factory.mktemp("emap_served") / "lib"
    shutil.copytree(built, root, symlinks=True)
    with served(root, ["embedding_map", "duplicates"]) as base:
        yield base, root


POINTS_JS = """() => {
  const out = [];
  function walk(v) {
    if (v.model && v.model.type === 'GlyphRenderer') {
      const r = v.parent.canvas_view.el.getBoundingClientRect();
      for (let i = 0; i < v.glyph.sx.length; i++) out.push([r.left + v.glyph.sx[i], r.top + v.glyph.sy[i]]);
    }
    for (const c of (v.child_views || [])) walk(c);
    if (v.renderer_views) for (const c of v.renderer_views.values()) walk(c);
  }
  for (const v of Object.values(Bokeh.index)) walk(v);
  return out;
}"""


CLUSTERS_JS = POINTS_JS.replace(
    "for (let i = 0; i < v.glyph.sx.length; i++) out.push([r.left + v.glyph.sx[i], r.top + v.glyph.sy[i]]);",
    "out.push(...v.model.data_source.data.cluster_label);")


def open_map(browser, base: str, height_px: int = 900):
    """The map page, once the first map is drawn; with the screen position of every point (in map order)."""
    w = open_page(browser, f"{base}/embedding_map", height=height_px)
    expect(w.page.get_by_text(SUMMARY_DONE)).to_be_visible(timeout=WAIT_MS)
    settle(w.page)
    return w, [tuple(p) for p in w.page.evaluate(POINTS_JS)]


def recompute(page, min_cluster_size: int) -> None:
    """Type a smallest cluster size and press Compute map; returns once the new map is drawn."""
    field = page.get_by_label("Smallest cluster (HDBSCAN min_cluster_size)")
    field.fill(str(min_cluster_size))
    field.press("Enter")
    settle(page)  # typing and clicking are separate server events, handled on a pool of threads
    page.get_by_role("button", name="Compute map").click()
    expect(page.get_by_text(f"smallest cluster {min_cluster_size})")).to_be_visible(timeout=WAIT_MS)
    settle(page)


def left_half(points) -> tuple[float, float, float, float]:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs) - 10, min(ys) - 10, (min(xs) + max(xs)) / 2, max(ys) + 10


def inside(points, box) -> list[int]:
    x0, y0, x1, y1 = box
    return [i for i, (x, y) in enumerate(points) if x0 <= x <= x1 and y0 <= y <= y1]


def map_ids(root: Path) -> list[str]:
    """Media ids in the order the map draws them (the order of ``map_vectors``)."""
    return list(Library.open(root).map_vectors("clip").items["id"])


@pytest.mark.slow
def test_the_map_loads_with_a_point_per_picture_and_no_console_errors(browser, served_copy):
    base, _ = served_copy
    w, points = open_map(browser, base)
    assert len(points) == N_PHOTOS + 1
    expect(w.page.get_by_text(f"{N_PHOTOS + 1} pictures")).to_be_visible()
    assert not w.problems


@pytest.mark.slow
def test_hovering_a_point_shows_its_thumbnail_and_name(browser, served_copy):
    base, root = served_copy
    w, points = open_map(browser, base)
    first = Path(Library.open(root).map_vectors("clip").items["path"].iloc[0]).name
    w.page.mouse.move(*points[0])
    tip = w.page.locator(".bk-Tooltip", has_text=first)
    expect(tip).to_be_visible(timeout=WAIT_MS)
    expect(tip.locator("img[src^='data:image/webp;base64,']")).to_have_count(1)
    assert not w.problems


@pytest.mark.slow
def test_a_smaller_min_cluster_size_and_compute_map_redraws_the_clusters(browser, served_copy):
    base, root = served_copy
    w, _ = open_map(browser, base)
    page = w.page
    mv = Library.open(root).map_vectors("clip")
    expected = layout_points(mv.vectors, min_cluster_size=2, metric=mv.metric).n_clusters
    before = layout_points(mv.vectors, metric=mv.metric).n_clusters
    assert expected != before  # the data must let the control make a visible difference
    expect(page.get_by_text(re.compile(rf"\b{before} clusters? ·"))).to_be_visible()
    recompute(page, min_cluster_size=2)
    expect(page.get_by_text(re.compile(rf"\b{expected} clusters? ·"))).to_be_visible()
    drawn = page.evaluate(CLUSTERS_JS)
    assert len({c for c in drawn if c != "no cluster"}) == expected and len(drawn) == N_PHOTOS + 1
    assert not w.problems


@pytest.mark.slow
def test_switching_to_faces_on_a_library_without_faces_says_what_to_run(browser, served_copy):
    base, _ = served_copy
    w, _ = open_map(browser, base)
    w.page.get_by_role("button", name="Faces").click()
    expect(w.page.get_by_text("No recognisable faces yet")).to_be_visible(timeout=WAIT_MS)
    expect(w.page.locator("canvas")).to_have_count(0)
    assert not w.problems


@pytest.mark.slow
def test_a_box_selection_shows_its_thumbnails_and_add_tag_tags_exactly_those_pictures(browser, served_copy):
    base, root = served_copy
    w, points = open_map(browser, base, height_px=1150)  # tall enough for the selection strip in the screenshot
    page = w.page
    recompute(page, min_cluster_size=2)  # coloured clusters for the screenshot; the points stay where they are
    page.get_by_title("Box Select").first.click()
    box = left_half(points)
    chosen = inside(points, box)
    assert 0 < len(chosen) < len(points)
    page.mouse.move(box[0], box[1])
    page.mouse.down()
    page.mouse.move(box[2], box[3], steps=10)
    page.mouse.up()
    expect(page.get_by_text(f"Selected: {len(chosen)} pictures")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator(".wb-map-selected")).to_have_count(len(chosen), timeout=WAIT_MS)
    page.get_by_placeholder("tag name").fill("Picked On The Map")
    settle(page)
    page.get_by_role("button", name="Add tag").click()
    expect(page.get_by_text(f"Tagged {len(chosen)} pictures")).to_be_visible(timeout=WAIT_MS)
    page.mouse.move(*page.evaluate(POINTS_JS)[chosen[0]])  # the message above the map moved it down
    expect(page.locator(".bk-Tooltip img")).to_be_visible(timeout=WAIT_MS)
    screenshot(page, "dashboard_embedding_map")
    tags = Library.open(root).tags()
    ids = map_ids(root)
    assert set(tags.loc[tags["tag"] == "picked on the map", "media_id"]) == {ids[i] for i in chosen}
    assert not w.problems


@pytest.mark.slow
def test_a_lasso_selection_can_be_put_in_a_new_album(browser, served_copy):
    base, root = served_copy
    w, points = open_map(browser, base)
    page = w.page
    x0, y0, x1, y1 = box = left_half(points)
    chosen = inside(points, box)
    page.mouse.move(x0, y0)   # the lasso is the active drag tool: trace the box's outline
    page.mouse.down()
    for x, y in [(x1, y0), (x1, y1), (x0, y1), (x0, y0 + 1)]:
        page.mouse.move(x, y, steps=8)
    page.mouse.up()
    expect(page.get_by_text(f"Selected: {len(chosen)} pictures")).to_be_visible(timeout=WAIT_MS)
    page.get_by_placeholder("existing or new album").fill("From the map")
    settle(page)  # typing and clicking are separate server events, handled on a pool of threads
    page.get_by_role("button", name="Add to album").click()
    expect(page.get_by_text("to the new album")).to_be_visible(timeout=WAIT_MS)
    lib = Library.open(root)
    ids = map_ids(root)
    assert set(lib.album_media("From the map")["id"]) == {ids[i] for i in chosen}
    assert not w.problems


@pytest.mark.slow
def test_open_in_review_opens_the_duplicates_review_restricted_to_the_selection(browser, served_copy):
    base, _ = served_copy
    w, points = open_map(browser, base)
    page = w.page
    page.get_by_title("Box Select").first.click()
    box = left_half(points)
    chosen = inside(points, box)
    page.mouse.move(box[0], box[1])
    page.mouse.down()
    page.mouse.move(box[2], box[3], steps=10)
    page.mouse.up()
    link = page.get_by_role("link", name=re.compile(r"in the duplicates & quality review"))
    expect(link).to_be_visible(timeout=WAIT_MS)
    with page.context.expect_page() as opened:
        link.click()
    review = opened.value
    review.wait_for_load_state("networkidle")
    assert "/duplicates?ids=" in review.url
    expect(review.get_by_text(f"Showing only the {len(chosen)} media selected in the link")).to_be_visible(
        timeout=WAIT_MS)
    assert not w.problems
