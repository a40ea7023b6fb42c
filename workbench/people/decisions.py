"""What a user says about people: name, merge, move a face, split, "not this person", hide.

Each decision is written as ``confirmed`` or ``rejected`` assignments, which automatic clustering never changes,
so a re-run or a threshold change cannot undo it. Only ``Library`` calls these (it resolves ids and checks
permissions first).
"""
from __future__ import annotations

from workbench.catalog.filters import Eq, In, IsNull, LowerEq
from workbench.catalog.store import Catalog
from workbench.errors import NotFoundError, WorkbenchError
from workbench.people.assign import LIVE, assignment_row, insert_persons, load_assignments, new_person_id, now


def person_row(catalog: Catalog, person_id: str) -> dict:
    rows = catalog.read("persons", None, Eq("person_id", person_id)).to_pylist()
    if not rows:
        raise NotFoundError(f"no person with id {person_id!r}: see `workbench people`")
    row = rows[0]
    while row["merged_into"]:  # a merged person's id keeps working: it leads to the person it joined
        row = person_row(catalog, row["merged_into"])
    return row


def _live_rows(catalog: Catalog, face_ids: list[str]) -> list[dict]:
    a = load_assignments(catalog)
    a = a[a["face_id"].isin(set(face_ids)) & a["source"].isin(LIVE)]
    return a.to_dict("records")


def _reassign(catalog: Catalog, face_ids: list[str], person_id: str, user: str | None,
              reject_previous: bool) -> None:
    """Confirm faces as ``person_id``; their previous live rows go (and become rejections when asked)."""
    old = _live_rows(catalog, face_ids)
    if old:
        catalog.delete("face_assignments", In("key", [r["key"] for r in old]))
    rows = [assignment_row(f, person_id, "confirmed", user) for f in face_ids]
    if reject_previous:
        rows += [assignment_row(r["face_id"], r["person_id"], "rejected", user)
                 for r in old if r["person_id"] != person_id]
    catalog.upsert("face_assignments", rows, "key")


def name_person(catalog: Catalog, person_id: str, name: str | None) -> None:
    name = " ".join((name or "").split()) or None
    p = person_row(catalog, person_id)
    if name:
        same = catalog.read("persons", ["person_id"], Eq("model_id", p["model_id"]) & IsNull("merged_into")
                                                       & LowerEq("name", name.lower()))
        others = [x for x in same.column("person_id").to_pylist() if x != p["person_id"]]
        if others:
            raise WorkbenchError(f"{name!r} is already the name of person {others[0]}; if they are the same "
                                 f"person, merge them: `workbench people merge {others[0]} {p['person_id']}`")
    catalog.update("persons", Eq("person_id", p["person_id"]),
                   {"name": name, "updated_at": now()})


def merge_people(catalog: Catalog, target_id: str, other_ids: list[str], user: str | None) -> str:
    """Every face of the others becomes a confirmed face of the target; the others point to it from now on."""
    target = person_row(catalog, target_id)
    tid = target["person_id"]
    others = [person_row(catalog, o)["person_id"] for o in other_ids]
    others = [o for o in dict.fromkeys(others) if o != tid]
    if not others:
        raise WorkbenchError("nothing to merge: give two different people")
    a = load_assignments(catalog)
    moved = a[a["person_id"].isin(set(others)) & a["source"].isin(LIVE)]["face_id"].tolist()
    rejected = a[a["person_id"].isin(set(others)) & (a["source"] == "rejected")]["face_id"].tolist()
    if moved:
        _reassign(catalog, moved, tid, user, reject_previous=False)
    if rejected:  # "not this person" said about a merged person holds for the person it joined
        catalog.upsert("face_assignments", [assignment_row(f, tid, "rejected", user) for f in rejected], "key")
    name = target["name"]
    if not name:
        name = next((person_row(catalog, o)["name"] for o in others if person_row(catalog, o)["name"]), None)
    for o in others:
        catalog.update("persons", Eq("person_id", o), {"merged_into": tid, "updated_at": now()})
    if name != target["name"]:
        catalog.update("persons", Eq("person_id", tid), {"name": name, "updated_at": now()})
    return tid


def move_faces(catalog: Catalog, face_ids: list[str], person_id: str, user: str | None) -> None:
    """These faces are ``person_id`` (and not whoever they were before)."""
    _check_faces(catalog, face_ids)
    pid = person_row(catalog, person_id)["person_id"]
    _reassign(catalog, face_ids, pid, user, reject_previous=True)


def split_person(catalog: Catalog, person_id: str, face_ids: list[str], user: str | None,
                 name: str | None = None) -> str:
    """These faces of a person are someone else: a new person, confirmed, and rejected for the old one."""
    p = person_row(catalog, person_id)
    live = {r["face_id"] for r in _live_rows(catalog, face_ids) if r["person_id"] == p["person_id"]}
    missing = [f for f in face_ids if f not in live]
    if missing:
        raise WorkbenchError(f"face {missing[0]} is not a face of person {p['person_id']}: see "
                             f"`workbench faces --person {p['person_id']}`")
    pid = new_person_id(p["model_id"], "split|" + "|".join(sorted(face_ids)))
    insert_persons(catalog, [{"person_id": pid, "model_id": p["model_id"], "name": None, "hidden": False,
                              "merged_into": None, "created_at": now()}])
    _reassign(catalog, face_ids, pid, user, reject_previous=True)
    if name:
        name_person(catalog, pid, name)
    return pid


def reject_faces(catalog: Catalog, face_ids: list[str], user: str | None, person_id: str | None = None) -> None:
    """"Not this person": the face leaves its person (or ``person_id``) and is never put back there."""
    _check_faces(catalog, face_ids)
    live = {r["face_id"]: r for r in _live_rows(catalog, face_ids)}
    rows, drop = [], []
    for f in face_ids:
        pid = person_row(catalog, person_id)["person_id"] if person_id else (live[f]["person_id"] if f in live
                                                                              else None)
        if pid is None:
            raise WorkbenchError(f"face {f} has no person to reject; pass the person it is not")
        rows.append(assignment_row(f, pid, "rejected", user))
        if f in live and live[f]["person_id"] == pid:
            drop.append(live[f]["key"])
    if drop:
        catalog.delete("face_assignments", In("key", drop))
    catalog.upsert("face_assignments", rows, "key")


def hide_person(catalog: Catalog, person_id: str, hidden: bool = True) -> None:
    p = person_row(catalog, person_id)
    catalog.update("persons", Eq("person_id", p["person_id"]), {"hidden": hidden, "updated_at": now()})


def _check_faces(catalog: Catalog, face_ids: list[str]) -> None:
    if not face_ids:
        raise WorkbenchError("no face given")
    found = catalog.existing_keys("faces", "face_id", face_ids) if catalog.has("faces") else set()
    missing = [f for f in face_ids if f not in found]
    if missing:
        raise NotFoundError(f"no face with id {missing[0]!r}: see `workbench faces`")
