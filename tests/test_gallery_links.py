"""Signed media links: the only way the browser reaches an original, so they must not be forgeable or widened."""
from __future__ import annotations

import pytest

from workbench.gallery import links
from workbench.gallery.media_handler import content_disposition


def test_a_signed_link_names_its_media_and_mode():
    secret = links.new_secret()
    t = links.verify(secret, links.sign(secret, "abcdef0123456789", download=True))
    assert (t.media_id, t.download) == ("abcdef0123456789", True)


def test_a_link_signed_with_another_secret_is_refused():
    ticket = links.sign(links.new_secret(), "abcdef0123456789")
    with pytest.raises(links.LinkError, match="not valid"):
        links.verify(links.new_secret(), ticket)


def test_changing_any_field_of_a_link_breaks_its_signature():
    secret = links.new_secret()
    payload, mac = links.sign(secret, "abcdef0123456789").split(".")
    other_payload = links.sign(secret, "ffffffffffffffff").split(".")[0]
    for forged in (f"{other_payload}.{mac}", f"{payload}.{mac[:-2]}xx", payload, f".{mac}", "", "a.b.c"):
        with pytest.raises(links.LinkError):
            links.verify(secret, forged)


def test_a_link_stops_working_when_it_expires():
    secret = links.new_secret()
    ticket = links.sign(secret, "abcdef0123456789", ttl_s=60, now=1_000_000)
    assert links.verify(secret, ticket, now=1_000_059).media_id == "abcdef0123456789"
    with pytest.raises(links.LinkError, match="expired"):
        links.verify(secret, ticket, now=1_000_061)


def test_without_a_secret_nothing_is_signed_or_accepted():
    with pytest.raises(links.LinkError):
        links.sign("", "abcdef0123456789")
    with pytest.raises(links.LinkError):
        links.verify("", "x.y")


def test_download_names_cannot_break_out_of_the_header():
    h = content_disposition('a"b;c\\d\r\nSet-Cookie: x=1 été.jpg', download=True)
    assert h.startswith('attachment; filename="a_b_c_d__Set-Cookie: x=1 _t_.jpg"')
    assert "\r" not in h and "\n" not in h
    assert "filename*=UTF-8''a%22b%3Bc%5Cd%0D%0ASet-Cookie%3A%20x%3D1%20%C3%A9t%C3%A9.jpg" in h
    assert content_disposition("x.mp4", download=False).startswith("inline;")
