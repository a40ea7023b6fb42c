"""Duplicates and quality dashboard: groups side by side with the suggested keeper, keep / trash / "not
duplicates", quality flags filterable with a score histogram. Real demo library, real server, real Chromium."""
from __future__ import annotations

import contextlib
import io
import re
import shutil
from pathlib import Path

import panel as pn
import pytest
from browser import open_page, screenshot, served, settle
from PIL import Image
from playwright.sync_api import expect

from workbench import Library
from workbench.dashboards.duplicates import Duplicates, histogram, parse_ids
from workbench.demo import build

WAIT_MS = 30_000


#: Photos of the demo that get a smaller copy too, so that each action test has a "same picture" group of its own.
EXTRA_COPIES = ("chelsea.jpg", "rocket.png", "immunohistochemistry.jpg")
N_SAME = 1 + len(EXTRA_COPIES)   # "same picture" groups: the demo's coffee cup and the copies above


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The demo library (an exact copy of the astronaut, a smaller copy of the coffee cup, quality flags) plus
    smaller copies of three more photos: five groups, four of them "same picture"."""
    root = tmp_path_factory.mktemp("dupdash")
    with contextlib.redirect_stdout(io.StringIO()):
        build(root / "lib", root / "media")
    extra = root / "media" / "smaller"
    extra.mkdir()
    for name in EXTRA_COPIES:
        im = Image.open(root / "media" / "photos" / name).convert("RGB")
        im.resize((im.width // 3, im.height // 3)).save(extra / f"{Path(name).stem}-small.jpg", quality=60)
    lib = Library.open(root / "lib")
    lib.import_files([extra])
    lib.process()
    assert len(lib.duplicates("same")) == N_SAME
    return root / "lib"


@pytest.fixture(scope="module")
def server(built) -> str:
    """A server on the untouched library, for tests that only look."""
    with served(built, ["duplicates"]) as base:
        yield base


@pytest.fixture(scope="module")
def acting_server(built, tmp_path_factory) -> tuple[str, Path]:
    """A server on a copy of the library for the tests that change it. Starting a server takes tens of seconds
    on a busy machine, so they share this one; each acts on a group (or flag) of its own and asserts only about
    its own media, so their order does not matter."""
    dst = tmp_path_factory.mktemp("dupdash-acting") / "lib"
    shutil.copytree(built, dst, symlinks=True)
    with served(dst, ["duplicates"]) as base:
        yield base, dst


def media_id(root: Path, name: str) -> str:
    df = Library.open(root).media(include_trashed=True)
    return df[df["path"].str.endswith("/" + name)]["id"].iloc[0]


def group_with(page, name: str):
    return page.locator(".wb-dup-group", has_text=name)


# -- the page ---------------------------------------------------------------------------------------------------

def test_page_loads_without_errors_and_shows_each_group_side_by_side_with_its_keeper(browser, server):
    w = open_page(browser, f"{server}/duplicates")
    settle(w.page)
    page = w.page
    expect(page.locator(".wb-dup-group")).to_have_count(1 + N_SAME, timeout=WAIT_MS)
    coffee = group_with(page, "coffee-small.jpg")
    expect(coffee.locator(".wb-dup-card")).to_have_count(2)
    keeper = coffee.locator(".wb-dup-keeper")
    expect(keeper).to_have_count(1)
    expect(keeper).to_contain_text("coffee.jpg")
    expect(keeper).to_contain_text("600×400 px")
    expect(coffee).to_contain_text("higher resolution (600x400 vs 200x133)")
    expect(coffee.locator(".wb-dup-card", has_text="coffee-small.jpg")).to_contain_text("200×133 px")
    screenshot(page, "dashboard_duplicates")
    assert not w.problems


def test_exact_copies_are_shown_without_trash_actions(browser, server):
    w = open_page(browser, f"{server}/duplicates")
    page = w.page
    exact = group_with(page, "astronaut-copy.jpg")
    expect(exact.locator(".wb-dup-card")).to_have_count(2, timeout=WAIT_MS)
    expect(exact).to_contain_text("the library stores one copy")
    expect(exact.get_by_role("button", name="Keep suggested, trash the others")).to_have_count(0)
    expect(exact.get_by_role("button", name="Keep this one")).to_have_count(0)
    assert not w.problems


def test_kind_filter_shows_only_groups_of_that_kind(browser, server):
    w = open_page(browser, f"{server}/duplicates")
    page = w.page
    expect(page.locator(".wb-dup-group")).to_have_count(1 + N_SAME, timeout=WAIT_MS)
    page.get_by_role("button", name=re.compile(r"^Same picture")).click()
    expect(page.locator(".wb-dup-group")).to_have_count(N_SAME, timeout=WAIT_MS)
    expect(group_with(page, "astronaut-copy.jpg")).to_have_count(0)
    page.get_by_role("button", name=re.compile(r"^Exact copies")).click()
    expect(page.locator(".wb-dup-group")).to_have_count(1, timeout=WAIT_MS)
    expect(page.locator(".wb-dup-group")).to_contain_text("astronaut-copy.jpg")
    page.get_by_role("button", name=re.compile(r"^Similar shots")).click()
    expect(page.locator(".wb-dup-group")).to_have_count(0, timeout=WAIT_MS)
    expect(page.get_by_text("No groups of kind")).to_be_visible()
    assert not w.problems


def test_link_with_ids_restricts_both_tabs_to_those_media(browser, server, built):
    small = media_id(built, "coffee-small.jpg")
    w = open_page(browser, f"{server}/duplicates?ids={small}")
    page = w.page
    expect(page.locator(".wb-dup-group")).to_have_count(1, timeout=WAIT_MS)
    expect(page.locator(".wb-dup-group")).to_contain_text("coffee-small.jpg")
    expect(page.get_by_text("Showing only the 1 media selected in the link")).to_be_visible()
    page.locator(".bk-tab", has_text="Quality").click()
    expect(page.locator(".wb-quality-card")).to_have_count(1, timeout=WAIT_MS)
    expect(page.locator(".wb-quality-card")).to_contain_text("coffee-small.jpg")
    assert not w.problems


def test_quality_flag_filter_changes_the_grid(browser, server, built):
    flagged = Library.open(built).quality()
    n_flagged = int(flagged["flags"].map(bool).sum())
    blurry = flagged[flagged["flags"].map(lambda f: "blurry" in f)]
    assert len(blurry) == 1  # the demo's colour wheel; the test needs a flag that narrows the grid
    w = open_page(browser, f"{server}/duplicates")
    page = w.page
    page.locator(".bk-tab", has_text="Quality").click()
    expect(page.locator(".wb-quality-card")).to_have_count(n_flagged, timeout=WAIT_MS)
    settle(page)
    screenshot(page, "dashboard_quality")
    page.get_by_role("checkbox", name=re.compile(r"^blurry")).check()
    expect(page.locator(".wb-quality-card")).to_have_count(1, timeout=WAIT_MS)
    expect(page.locator(".wb-quality-card")).to_contain_text(Path(blurry["path"].iloc[0]).name)
    expect(page.get_by_text(f"1 of {len(flagged)} measured media shown")).to_be_visible()
    assert not w.problems


# -- actions (on the shared copy; each test on its own group) ------------------------------------------------------

def trashed_ids(root: Path) -> set[str]:
    return set(Library.open(root).trashed()["id"])


def test_keep_suggested_trashes_the_other_members_with_a_reason(browser, acting_server):
    base, root = acting_server
    big, small = media_id(root, "coffee.jpg"), media_id(root, "coffee-small.jpg")
    w = open_page(browser, f"{base}/duplicates")
    page = w.page
    group_with(page, "coffee-small.jpg").get_by_role("button", name="Keep suggested, trash the others").click()
    expect(group_with(page, "coffee-small.jpg")).to_have_count(0, timeout=WAIT_MS)
    expect(page.get_by_text("moved 1 other to the trash")).to_be_visible()
    assert not w.problems
    trashed = Library.open(root).trashed().set_index("id")
    assert small in trashed.index and big not in trashed.index
    assert "duplicate (same) of coffee.jpg" in trashed.loc[small, "reason"]


def test_keep_this_one_keeps_the_chosen_card_and_trashes_the_rest(browser, acting_server):
    base, root = acting_server
    big, small = media_id(root, "chelsea.jpg"), media_id(root, "chelsea-small.jpg")
    w = open_page(browser, f"{base}/duplicates")
    page = w.page
    card = group_with(page, "chelsea-small.jpg").locator(".wb-dup-card", has_text="chelsea-small.jpg")
    card.get_by_role("button", name="Keep this one").click()
    expect(group_with(page, "chelsea-small.jpg")).to_have_count(0, timeout=WAIT_MS)
    assert not w.problems
    trashed = trashed_ids(root)
    assert big in trashed and small not in trashed


def test_undo_last_trash_puts_the_media_back(browser, acting_server):
    base, root = acting_server
    small = media_id(root, "immunohistochemistry-small.jpg")
    w = open_page(browser, f"{base}/duplicates")
    page = w.page
    group = group_with(page, "immunohistochemistry-small.jpg")
    group.get_by_role("button", name="Keep suggested, trash the others").click()
    expect(group).to_have_count(0, timeout=WAIT_MS)
    assert small in trashed_ids(root)
    page.get_by_role("button", name="Undo last trash").click()
    expect(group).to_have_count(1, timeout=WAIT_MS)
    assert not w.problems
    assert small not in trashed_ids(root)


def test_not_duplicates_removes_the_group_for_good(browser, acting_server):
    base, root = acting_server
    ids = {media_id(root, "rocket.png"), media_id(root, "rocket-small.jpg")}
    w = open_page(browser, f"{base}/duplicates")
    page = w.page
    group_with(page, "rocket-small.jpg").get_by_role("button", name="Not duplicates").click()
    expect(group_with(page, "rocket-small.jpg")).to_have_count(0, timeout=WAIT_MS)
    assert not w.problems
    lib = Library.open(root)
    assert not any(ids & {m["id"] for m in ms} for ms in lib.duplicates()["members"])
    assert not ids & trashed_ids(root)  # "not duplicates" trashes nothing


def test_trash_selected_moves_the_flagged_media_to_the_trash(browser, acting_server):
    base, root = acting_server
    grey = Library.open(root).quality(flag="grayscale")
    assert len(grey) >= 2
    w = open_page(browser, f"{base}/duplicates")
    page = w.page
    page.locator(".bk-tab", has_text="Quality").click()
    page.get_by_role("checkbox", name=re.compile(r"^grayscale")).check()
    expect(page.locator(".wb-quality-card")).to_have_count(len(grey), timeout=WAIT_MS)
    page.get_by_role("button", name="Select all shown").click()
    page.get_by_role("button", name=f"Trash selected ({len(grey)})").click()
    expect(page.get_by_text(f"Moved {len(grey)} media to the trash")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator(".wb-quality-card")).to_have_count(0, timeout=WAIT_MS)
    assert not w.problems
    trashed = Library.open(root).trashed().set_index("id")
    assert set(grey["id"]) <= set(trashed.index)
    assert trashed.loc[list(grey["id"]), "reason"].str.contains("grayscale").all()


# -- in-process behaviour ----------------------------------------------------------------------------------------

def test_groups_are_paginated(built):
    d = Duplicates(Library.open(built), groups_per_page=3)
    first = d.group_list.objects[0]
    assert len(d.group_list.objects) == 3 and d.group_page_label.object == "Page 1 of 2"
    d.group_next.clicks += 1
    assert len(d.group_list.objects) == 1 + N_SAME - 3 and first not in d.group_list.objects
    assert d.group_page_label.object == "Page 2 of 2" and d.group_next.disabled


def names_shown(layout) -> str:
    return " ".join(str(h.object) for h in layout.select(pn.pane.HTML))


def test_the_filters_are_parameters_and_both_tabs_follow_them(built):
    flagged = Library.open(built).quality()
    d = Duplicates(Library.open(built))
    assert len(d.group_list.objects) == 1 + N_SAME
    d.kind = "exact"
    assert len(d.group_list.objects) == 1 and "astronaut-copy.jpg" in names_shown(d.group_list)
    d.kind = "similar"
    assert d.group_list.objects == [] and "No groups of kind “Similar shots”" in d.group_summary.object
    assert len(d.quality_grid.objects) == int(flagged["flags"].map(bool).sum())
    d.flags = ["blurry"]
    blurry = flagged[flagged["flags"].map(lambda f: "blurry" in f)]
    assert len(d.quality_grid.objects) == 1 and Path(blurry["path"].iloc[0]).name in names_shown(d.quality_grid)
    d.score_range = (0, float(blurry["score"].iloc[0]) - 1)
    assert d.quality_grid.objects == [] and "No media matches" in d.quality_summary.object
    d.param.update(flags=["grayscale"], score_range=(0, 100))
    grey = list(flagged[flagged["flags"].map(lambda f: "grayscale" in f)]["id"])
    assert d.trash_selected.disabled and d.trash_selected.label == "Trash selected (0)"
    d.selected_ids = grey[:2]
    assert not d.trash_selected.disabled and d.trash_selected.label == "Trash selected (2)"
    ticked = [b.value for b in d.quality_grid.select(pn.widgets.Checkbox)]
    assert sorted(ticked) == [False] * (len(grey) - 2) + [True, True]


def test_ids_may_be_given_as_prefixes_in_a_notebook(built):
    small = media_id(built, "coffee-small.jpg")
    d = Duplicates(Library.open(built), ids=[small[:8]])
    assert d.only == {small}
    assert len(d.group_list.objects) == 1 and len(d.quality_grid.objects) == 1


def test_unknown_ids_in_a_link_are_reported_not_fatal(built):
    small = media_id(built, "coffee-small.jpg")
    d = Duplicates(Library.open(built), ids=[small, "ffffffffffff"])
    assert d.only == {small}
    assert "1 of the 2 media in the link is not in the library" in d.messages.objects[0].object


def test_empty_library_says_what_to_do(tmp_path):
    d = Duplicates(Library.create(tmp_path / "empty"))
    assert "workbench import" in d.messages.objects[0].object
    assert d.group_list.objects == [] and d.quality_grid.objects == []


def test_score_histogram_puts_a_perfect_score_in_the_last_bin():
    assert histogram([0, 4.9, 5, 99, 100], bin_points=5) == [2, 1] + [0] * 17 + [2]


def test_ids_from_a_link_are_split_trimmed_and_deduplicated():
    assert parse_ids(" ab12, CD34,,ab12 ") == ["ab12", "cd34"]
