"""Face clusters dashboard: suggestions for faces nobody has placed, and the page a curator uses to name, hide,
reject and accept, checked in a real browser against a library built from the corpus's labelled faces."""
from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import panel as pn
import pytest
from playwright.sync_api import expect

from browser import run_in_own_loop, open_page, screenshot, served, settle
from workbench import Library
from workbench.dashboards.faces import Faces

REPO = Path(__file__).resolve().parent.parent
OBAMA_NAME = "Barack Obama"
WAIT_MS = 60_000  # a round trip that redraws a page of face crops, on a busy shared test machine


def _faces_eval():
    spec = importlib.util.spec_from_file_location("faces_eval", REPO / "benchmarks" / "faces_eval.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def folder_of(path: str) -> str:
    """The labelled identity of a face: the folder its photo sits in (DIR/<person>/<image>)."""
    return Path(path).parent.name


def person_of_folder(lib: Library, folder: str) -> str:
    """The person holding most faces of a labelled identity."""
    f = lib.faces()
    f = f[f["path"].map(folder_of) == folder]
    return f["person_id"].dropna().value_counts().index[0]


def identity_of_person(lib: Library, person_id: str) -> str:
    f = lib.faces()
    return f.loc[f["person_id"] == person_id, "path"].map(folder_of).value_counts().index[0]


@pytest.fixture(scope="module")
def built(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One library of the benchmark's labelled faces (29 photos, 9 people, 6 of them with 2+ photos), processed
    up to faces and people, with the Obama person named."""
    root = tmp_path_factory.mktemp("faces_dashboard")
    _faces_eval().build_from_corpus(corpus, root / "people")
    lib = Library.create(root / "lib")
    lib.import_files([root / "people"], progress=False)
    lib.process(["thumbnails", "face_scans"], progress=False)
    lib.name_person(person_of_folder(lib, "obama"), OBAMA_NAME)
    return root / "lib"


@pytest.fixture
def lib(built: Path, tmp_path: Path) -> Library:
    """A private copy of the built library, for a test that changes it."""
    shutil.copytree(built, tmp_path / "lib", symlinks=True)
    return Library.open(tmp_path / "lib")


# -- suggestions --------------------------------------------------------------------------------------------

def test_suggestions_name_the_person_each_unassigned_face_belongs_to(built: Path):
    lib = Library.open(built)
    s = lib.face_suggestions()
    assert len(s) >= 2
    for row in s.to_dict("records"):
        assert folder_of(row["path"]) == identity_of_person(lib, row["person_id"]), row
    # The two corpus faces clustering left alone although their person exists (Kit Harington's test photo,
    # Alex Lacamoire's png) are both suggested, and nobody else's face is.
    assert sorted(s["path"].map(folder_of)) == ["alex_lacamoire", "kit_harington"]


def test_suggestions_are_faces_without_a_person_closest_first_within_max_distance(built: Path):
    lib = Library.open(built)
    loose = lib.face_suggestions(max_distance=0.7)
    assert loose["distance"].is_monotonic_increasing and (loose["distance"] <= 0.7).all()
    assert len(loose) > len(lib.face_suggestions())
    strict = lib.face_suggestions(max_distance=0.5)
    assert set(strict["face_id"]) < set(loose["face_id"]) and (strict["distance"] <= 0.5).all()
    assigned = set(lib.faces()["face_id"][lib.faces()["person_id"].notna()])
    assert not set(loose["face_id"]) & assigned


def test_faces_too_small_or_blurry_are_never_suggested(built: Path):
    lib = Library.open(built)
    f = lib.faces()
    skipped = set(f.loc[f["skipped"].notna(), "face_id"])
    usable_unassigned = set(f.loc[f["skipped"].isna() & f["person_id"].isna(), "face_id"])
    everything = set(lib.face_suggestions(max_distance=100.0)["face_id"])
    assert skipped and not skipped & everything
    assert everything == usable_unassigned


def test_accepting_a_suggestion_puts_the_face_with_that_person(lib: Library):
    row = lib.face_suggestions().iloc[0]
    lib.move_faces([row["face_id"]], row["person_id"])
    face = lib.faces().set_index("face_id").loc[row["face_id"]]
    assert (face["person_id"], face["source"]) == (row["person_id"], "confirmed")
    assert row["face_id"] not in set(lib.face_suggestions()["face_id"])


def test_a_rejected_suggestion_is_not_made_again(lib: Library):
    row = lib.face_suggestions().iloc[0]
    lib.reject_faces([row["face_id"]], person=row["person_id"])
    again = lib.face_suggestions(max_distance=100.0)
    again = again[again["face_id"] == row["face_id"]]
    assert len(again) == 1 and again.iloc[0]["person_id"] != row["person_id"]


def test_hidden_people_are_suggested_only_when_asked(lib: Library):
    row = lib.face_suggestions().iloc[0]
    lib.hide_person(row["person_id"])
    assert row["person_id"] not in set(lib.face_suggestions()["person_id"])
    assert row["person_id"] in set(lib.face_suggestions(include_hidden=True)["person_id"])


def test_faces_in_trashed_media_are_not_suggested(lib: Library):
    row = lib.face_suggestions().iloc[0]
    lib.trash([row["media_id"]])
    assert row["face_id"] not in set(lib.face_suggestions()["face_id"])


def test_max_distance_must_be_positive(built: Path):
    with pytest.raises(ValueError, match="max_distance"):
        Library.open(built).face_suggestions(max_distance=0)


def test_default_max_distance_reaches_past_automatic_grouping(built: Path):
    settings = Library.open(built).settings
    assert settings.face_suggest_max_distance > settings.face_match_distance


# -- the dashboard object -----------------------------------------------------------------------------------

def test_an_empty_library_says_how_to_get_people(tmp_path: Path):
    board = Faces(Library.create(tmp_path / "lib"))
    assert not board.messages.objects
    (alert,) = board.cards.objects
    assert "workbench process" in alert.object


def test_pages_and_cards_stay_bounded(built: Path):
    board = Faces(Library.open(built), people_per_page=2, faces_per_card=3)
    assert len(board.cards.objects) == 2
    assert board.page_label.object == "People 1–2 of 6"
    obama = board.cards.objects[0]
    strip, actions = obama.objects[1], obama.objects[2]
    assert len(strip.objects) == 3
    assert any(getattr(w, "label", "") == "More faces (9 not shown)" for w in actions.objects)
    board.next.clicks += 1
    assert board.page_label.object == "People 3–4 of 6"


def test_the_knobs_are_parameters_and_the_page_follows_them(built: Path):
    lib = Library.open(built)
    board = Faces(lib)
    default = len(lib.face_suggestions())
    assert board.max_distance == lib.settings.face_suggest_max_distance
    assert len(board.suggestion_grid.objects) == default and len(board.cards.objects) == 6
    board.max_distance = 0.7   # suggestions reach further: the tab shows the looser matches
    assert len(board.suggestion_grid.objects) == len(lib.face_suggestions(max_distance=0.7)) > default
    assert "within 0.70" in board.suggestion_summary.object
    board.search_text = "obama"
    assert len(board.cards.objects) == 1 and board.page_label.object == "People 1–1 of 1"
    board.search_text = "nobody at all"
    assert "Nobody's name contains “nobody at all”" in board.cards.objects[0].object


def test_a_name_clash_is_a_message_not_a_crash(lib: Library):
    board = Faces(lib)
    other = board.cards.objects[1]
    name_input, save = other.objects[0].objects[0], other.objects[0].objects[1]
    name_input.value_input = OBAMA_NAME.lower()
    save.clicks += 1
    assert board.messages.objects[0].alert_type == "danger"
    assert "merge" in board.messages.objects[0].object


def card_of(board: Faces, person_id: str):
    (card,) = [c for c in board.cards.objects if person_id in str(c.objects[0].objects[-1].object)]
    return card


def button(layout, label: str):
    (b,) = [b for b in layout.select(pn.widgets.Button) if b.label == label]
    return b


def tick_first(card, n: int = 1) -> None:
    for box in card.select(pn.widgets.Checkbox)[:n]:
        box.value = True


def test_merge_in_the_sidebar_joins_the_picked_people(lib: Library):
    board = Faces(lib)
    target, other = person_of_folder(lib, "kit_harington"), person_of_folder(lib, "rose_leslie")
    board.merge_from.value = [other]
    board.merge_into.value = target
    board.merge_button.clicks += 1
    assert board.messages.objects[0].alert_type == "success"
    fresh = Library.open(lib.root)
    assert other not in set(fresh.people()["person_id"])
    assert fresh.people().set_index("person_id").loc[target, "face_count"] == 4


def test_move_ticked_to_puts_the_faces_with_the_chosen_person(lib: Library):
    board = Faces(lib)
    source, target = person_of_folder(lib, "biden"), person_of_folder(lib, "alex_lacamoire")
    card = card_of(board, source)
    tick_first(card)
    (move_to,) = card.select(pn.widgets.Select)
    move_to.value = target
    button(card, "Move ticked to").clicks += 1
    counts = Library.open(lib.root).people().set_index("person_id")["face_count"]
    assert (counts[source], counts[target]) == (1, 3)


def test_split_ticked_makes_a_new_person_of_those_faces(lib: Library):
    board = Faces(lib)
    obama = lib.resolve_person(OBAMA_NAME)
    before = set(lib.people()["person_id"])
    tick_first(card_of(board, obama), 2)
    button(card_of(board, obama), "Split ticked into a new person").clicks += 1
    people = Library.open(lib.root).people().set_index("person_id")
    (new,) = set(people.index) - before
    assert (people.loc[new, "face_count"], people.loc[obama, "face_count"]) == (2, 10)


def test_an_action_with_nothing_ticked_asks_to_tick_faces(lib: Library):
    board = Faces(lib)
    button(card_of(board, lib.resolve_person(OBAMA_NAME)), "Not this person").clicks += 1
    assert "tick one or more faces" in board.messages.objects[0].object
    assert lib.people().set_index("person_id").loc[lib.resolve_person(OBAMA_NAME), "face_count"] == 12


def test_hide_person_takes_the_card_away_until_hidden_people_are_shown(lib: Library):
    board = Faces(lib)
    rose = person_of_folder(lib, "rose_leslie")
    button(card_of(board, rose), "Hide person").clicks += 1
    assert Library.open(lib.root).people(include_hidden=True).set_index("person_id").loc[rose, "hidden"]
    assert not [c for c in board.cards.objects if rose in str(c.objects[0].objects[-1].object)]
    board.show_hidden.value = True
    assert "hidden" in str(card_of(board, rose).objects[0].objects[-1].object)


def test_update_people_now_runs_the_grouping_and_reports_it(lib: Library):
    board = Faces(lib)
    run_in_own_loop(board._update_people())
    (alert,) = board.messages.objects
    assert alert.alert_type == "success" and "People updated" in alert.object


# -- in the browser -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def served_view(built: Path, tmp_path_factory: pytest.TempPathFactory):
    """A server on a copy of the library where one person (Biden) is hidden, for tests that only look."""
    root = tmp_path_factory.mktemp("faces_view") / "lib"
    shutil.copytree(built, root, symlinks=True)
    lib = Library.open(root)
    lib.hide_person(person_of_folder(lib, "biden"))
    with served(root, ["faces"]) as base:
        yield f"{base}/faces"


def cards(page):
    return page.locator(".wb-person")


def show_hidden(page):
    """The "Show hidden people" tick box (Panel's checkbox label is not tied to its input, so it has no
    accessible name; it is the sidebar's only one)."""
    return page.locator("#sidebar input[type=checkbox]")


def test_the_page_loads_without_errors_and_shows_a_card_per_person(browser, served_view):
    w = open_page(browser, served_view)
    settle(w.page)
    expect(cards(w.page)).to_have_count(5, timeout=WAIT_MS)  # six people, one hidden
    assert show_hidden(w.page).is_visible() and not show_hidden(w.page).is_checked()
    screenshot(w.page, "dashboard_faces")
    assert not w.problems


def test_the_name_filter_narrows_the_cards(browser, served_view):
    w = open_page(browser, served_view)
    box = w.page.get_by_role("textbox", name="Find a person")
    box.fill("obama")
    box.press("Enter")
    expect(cards(w.page)).to_have_count(1, timeout=WAIT_MS)
    expect(w.page.get_by_text("12 faces in 12 photos")).to_be_visible()
    assert not w.problems


def test_a_link_with_a_person_opens_the_page_filtered(browser, served_view):
    w = open_page(browser, f"{served_view}?person=obama")
    expect(cards(w.page)).to_have_count(1, timeout=WAIT_MS)
    expect(w.page.get_by_role("textbox", name="Find a person")).to_have_value("obama")
    assert not w.problems


def test_show_hidden_brings_hidden_people_back(browser, served_view):
    w = open_page(browser, served_view)
    expect(cards(w.page)).to_have_count(5, timeout=WAIT_MS)
    show_hidden(w.page).check()
    expect(cards(w.page)).to_have_count(6, timeout=WAIT_MS)
    expect(w.page.locator(".wb-person-hidden")).to_have_count(1)
    assert not w.problems


def test_a_name_saved_in_the_page_is_in_the_library(browser, lib):
    pid = person_of_folder(lib, "rose_leslie")
    with served(lib.root, ["faces"]) as base:
        w = open_page(browser, f"{base}/faces")
        card = cards(w.page).filter(has_text=pid)
        save = card.get_by_role("button", name="Save name")
        expect(save).to_be_disabled()               # nothing typed yet: nothing to save
        card.get_by_role("textbox").fill("Rose Leslie")
        expect(save).to_be_enabled(timeout=WAIT_MS)  # the server has the typed name
        save.click()
        expect(w.page.get_by_text("“Rose Leslie”")).to_be_visible(timeout=WAIT_MS)
        assert not w.problems
    people = Library.open(lib.root).people().set_index("person_id")
    assert people.loc[pid, "name"] == "Rose Leslie"


def test_not_this_person_in_the_page_takes_the_ticked_face_away(browser, lib):
    pid = lib.resolve_person(OBAMA_NAME)
    with served(lib.root, ["faces"]) as base:
        w = open_page(browser, f"{base}/faces")
        card = cards(w.page).filter(has_text=pid)
        card.get_by_role("checkbox").first.check()
        settle(w.page, 300)
        card.get_by_role("button", name="Not this person").click()
        expect(w.page.get_by_text("1 face taken from")).to_be_visible(timeout=WAIT_MS)
        assert not w.problems
    fresh = Library.open(lib.root)
    assert fresh.people().set_index("person_id").loc[pid, "face_count"] == 11
    f = fresh.faces()
    assert f["person_id"].eq(pid).sum() == 11


def test_accept_in_the_suggestions_tab_puts_the_face_with_the_person(browser, lib):
    first = lib.face_suggestions().iloc[0]
    with served(lib.root, ["faces"]) as base:
        w = open_page(browser, f"{base}/faces")
        w.page.locator(".bk-tab", has_text="Suggestions").click()
        expect(w.page.get_by_role("button", name="Accept")).to_have_count(2, timeout=WAIT_MS)
        screenshot(w.page, "dashboard_faces_suggestions")
        w.page.get_by_role("button", name="Accept").first.click()
        expect(w.page.get_by_text("Face put with")).to_be_visible(timeout=WAIT_MS)
        assert not w.problems
    face = Library.open(lib.root).faces().set_index("face_id").loc[first["face_id"]]
    assert (face["person_id"], face["source"]) == (first["person_id"], "confirmed")
