"""Offline reverse geocoding: coordinates to city/region/country, batched, silent on stdout."""
from __future__ import annotations

from workbench.metadata.places import Place, lookup_places


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
    import subprocess
    import sys

    code = "from workbench.metadata.places import lookup_places; print(repr(lookup_places([(51.5074, -0.1278)])[0].city), end='')"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "'London'"
