"""Offline reverse geocoding: coordinates to city/region/country, batched, silent on stdout."""
from __future__ import annotations

from workbench.metadata.places import Place, lookup_places


def stdout_of_a_fresh_process(code: str) -> str:
    """What ``code`` prints in a new Python process (the place table is loaded once per process)."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_known_coordinates_map_to_their_city_and_country():
    paris, sf, tokyo = lookup_places([(48.8566, 2.3522), (37.7749, -122.4194), (35.6762, 139.6503)])
    assert (paris.city, paris.country, paris.country_code) == ("Paris", "France", "FR")
    assert sf.country == "United States" and sf.region == "California"
    assert tokyo.country_code == "JP"


def test_label_reads_city_region_country():
    (place,) = lookup_places([(48.8566, 2.3522)])
    assert place.label == "Paris, Ile-de-France, France"
    assert Place("X", None, "Y", "YY").label == "X, Y"


def test_null_island_missing_and_out_of_range_give_none_in_place():
    out = lookup_places([(0.0, 0.0), None, (91.0, 0.0), (48.8566, 2.3522)])
    assert out[:3] == [None, None, None]
    assert out[3] is not None and out[3].city == "Paris"


def test_empty_input_gives_empty_output():
    assert lookup_places([]) == []


def test_nothing_is_printed_to_stdout(capfd):
    lookup_places([(51.5074, -0.1278)])
    out, _err = capfd.readouterr()
    assert out == ""


def test_first_load_in_a_fresh_process_prints_nothing_to_stdout():
    """The geocoder loads lazily once per process; that first load must not print (the CLI's --json)."""
    code = "from workbench.metadata.places import lookup_places; print(repr(lookup_places([(51.5074, -0.1278)])[0].city), end='')"
    assert stdout_of_a_fresh_process(code) == "'London'"


def test_namibia_keeps_its_country_code_na_which_csv_readers_like_to_read_as_missing():
    (windhoek,) = lookup_places([(-22.5609, 17.0658)])
    assert windhoek.country_code == "NA" and windhoek.country == "Namibia"


def test_the_fast_loader_gives_reverse_geocoders_own_answer_for_every_position():
    """We read reverse_geocoder's cities file ourselves (a fifth of its loader's time); its RGeocoder must agree
    everywhere: 20,000 random positions between the polar circles, name, region and country code alike."""
    import numpy as np
    import reverse_geocoder as rg

    rng = np.random.default_rng(11)
    points = [(float(a), float(b)) for a, b in zip(rng.uniform(-66, 66, 20000), rng.uniform(-180, 180, 20000))]
    theirs = rg.RGeocoder(mode=1, verbose=False).query(points)
    ours = lookup_places(points)
    mismatched = [(p, o, t) for p, o, t in zip(points, ours, theirs)
                  if (o.city or "", o.region or "", o.country_code or "") != (t["name"].strip(), t["admin1"].strip(),
                                                                                t["cc"].strip())]
    assert mismatched == []


def test_warming_in_the_background_loads_the_table_once_and_a_lookup_meanwhile_waits_for_it():
    """The importer starts the load as soon as a probed file has GPS; a lookup racing it gets the same answer."""
    code = (
        "import threading\n"
        "from workbench.metadata import places\n"
        "places.warm_in_background(); places.warm_in_background()\n"
        "assert places._warming is not None and places._warming.name == 'places-warm'\n"
        "first = places.lookup_places([(48.8566, 2.3522)])[0].city\n"
        "places._warming.join(30)\n"
        "assert not places._warming.is_alive() and places._cities is not None\n"
        "assert sum(t.name == 'places-warm' for t in threading.enumerate()) == 0\n"
        "print(first, end='')\n")
    assert stdout_of_a_fresh_process(code) == "Paris"


def test_an_import_starts_loading_places_once_a_probed_photo_has_gps(tmp_path, monkeypatch):
    from PIL import Image

    from factory import jpeg
    from workbench import Library
    from workbench.metadata import places

    src = jpeg(tmp_path / "in" / "paris.jpg")
    with Image.open(src) as im:
        exif = im.getexif()
        gps = exif.get_ifd(0x8825)
        gps[1], gps[2], gps[3], gps[4] = "N", (48.0, 51.0, 24.0), "E", (2.0, 21.0, 8.0)
        im.save(src, "JPEG", exif=exif.tobytes())
    jpeg(tmp_path / "in" / "nowhere.jpg", seed=3)
    monkeypatch.setattr(places, "_cities", None)     # as in a fresh process
    monkeypatch.setattr(places, "_warming", None)
    lib = Library.create(tmp_path / "lib")
    report = lib.import_files([tmp_path / "in"], progress=False)
    assert places._warming is not None, "the importer did not start the load when it saw a GPS position"
    paris = [lib.media.get(m) for m in report.media_ids if lib.media.get(m)["gps_lat"] is not None]
    assert len(paris) == 1 and paris[0]["place_city"] == "Paris"


def test_warming_neither_redirects_stdout_nor_makes_the_importer_wait_for_the_load():
    """The load runs beside the importer's main thread: that thread's prints (the CLI's --json lines) must still
    reach stdout meanwhile, and its next call to warm_in_background must return at once, not wait for the load."""
    code = (
        "import sys, threading\n"
        "from workbench.metadata import places\n"
        "original = sys.stdout\n"
        "places._lock.acquire()   # as while a load holds it\n"
        "starter = threading.Thread(target=places.warm_in_background); starter.start(); starter.join(10)\n"
        "returned = not starter.is_alive()\n"
        "places._lock.release(); starter.join()\n"
        "seen_other = False\n"
        "while places._warming.is_alive():\n"
        "    seen_other |= sys.stdout is not original\n"
        "places._warming.join()\n"
        "assert places._cities is not None\n"
        "print(seen_other, returned, end='')\n")
    assert stdout_of_a_fresh_process(code) == "False True"
