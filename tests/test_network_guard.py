"""The tests' guard against reaching outside this machine (tests/network_guard.py): refused before
any packet is sent, recorded even when the code under test swallows the refusal, loopback left
alone; and the settings the app runs on in tests have online geocoding off."""

from __future__ import annotations

import contextlib
import os
import socket
import tomllib
import urllib.request
from pathlib import Path

import pytest

from engagement.settings import load_settings
from tests import network_guard


def test_a_connection_beyond_loopback_is_refused_and_recorded():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, pytest.raises(network_guard.OutsideConnection):
        sock.connect(("192.0.2.1", 80))  # TEST-NET-1: never routed, and never tried here
    with pytest.raises(network_guard.OutsideConnection):
        socket.getaddrinfo("nominatim.openstreetmap.org", 443)
    assert network_guard.take_attempts() == ["a connection to 192.0.2.1:80", "a lookup of nominatim.openstreetmap.org"]


def test_a_refusal_swallowed_by_the_code_is_still_recorded():
    with contextlib.suppress(OSError):  # what a careless caller does
        urllib.request.urlopen("http://example.com/", timeout=1)
    assert network_guard.take_attempts() == ["a lookup of example.com"]


def test_loopback_is_left_alone():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(("localhost", server.getsockname()[1]), timeout=2):
            pass
    assert network_guard.take_attempts() == []


def test_the_app_runs_in_the_tests_on_the_schools_settings_with_online_geocoding_off():
    """A partner saved on the Directory page with a postcode the gazetteer lacks asked
    nominatim.openstreetmap.org before (the guard failed that test)."""
    assert load_settings().geocoding.online is False
    path = Path(os.environ["ENGAGEMENT_CONFIG"])
    if path.parent.name.startswith("engagement-tests-"):  # not a file of the caller's own
        school = tomllib.loads((Path(__file__).resolve().parent.parent / "data" / "config.toml").read_text())
        assert school["geocoding"]["online"] is True
        assert tomllib.loads(path.read_text()) == school | {"geocoding": school["geocoding"] | {"online": False}}
