"""The tests' guard against reaching outside this machine: in a test's process, a connection to any
address but loopback, or a name looked up other than loopback's, is refused and recorded, and the
test fails for it (tests/conftest.py), even when the code under test swallowed the refusal (an
online geocoder that could not be reached only says so, and a test of a page would pass). Servers
and command lines the tests start get a settings file with online geocoding off instead
(:func:`offline_settings`); the browser keeps its own lock (tests/browser/harness.py).

>>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("localhost"), is_loopback("10.0.0.1")
(True, True, True, False)
>>> is_loopback("nominatim.openstreetmap.org"), is_loopback("169.254.169.254"), is_loopback("0.0.0.0")
(False, False, True)
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import threading
import tomllib
from pathlib import Path

ATTEMPTS: list[str] = []
_lock = threading.Lock()
_installed = False


class OutsideConnection(ConnectionRefusedError):
    """A test's code tried to reach beyond this machine."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine's own: loopback, or the unspecified
    address (``""``, ``0.0.0.0``, ``::``) a server binds to and Linux connects to itself by."""
    host = host.strip("[]").split("%")[0]
    if host in ("", "localhost") or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _refuse(what: str) -> OutsideConnection:
    with _lock:
        ATTEMPTS.append(what)
    return OutsideConnection(f"the tests never reach outside this machine: refused {what}")


def install() -> None:
    """Guard this process's sockets (once)."""
    global _installed
    if _installed:
        return
    _installed = True
    real_connect, real_connect_ex, real_getaddrinfo = (
        socket.socket.connect,
        socket.socket.connect_ex,
        socket.getaddrinfo,
    )
    internet = (socket.AF_INET, socket.AF_INET6)

    def connect(self, address):
        if self.family in internet and not is_loopback(str(address[0])):
            raise _refuse(f"a connection to {address[0]}:{address[1]}")
        return real_connect(self, address)

    def connect_ex(self, address):
        if self.family in internet and not is_loopback(str(address[0])):
            raise _refuse(f"a connection to {address[0]}:{address[1]}")
        return real_connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if host is not None and not is_loopback(host.decode() if isinstance(host, bytes) else str(host)):
            raise _refuse(f"a lookup of {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo


def take_attempts() -> list[str]:
    """The refusals since the last call (and forget them)."""
    with _lock:
        taken = list(ATTEMPTS)
        ATTEMPTS.clear()
    return taken


def offline_settings(path: Path, source: Path, tiles_url: str | None = None) -> Path:
    """``source`` (the school's settings file) written to ``path`` with online geocoding off, and
    the map's ``tiles_url`` replaced when given ("" for no tiles); checked by reading it back."""
    text, count = re.subn(r"(?m)^online\s*=.*$", "online = false", source.read_text(encoding="utf-8"))
    assert count == 1, f"{source} should say [geocoding] online once"
    if tiles_url is not None:
        text = re.sub(r"(?m)^tiles_url\s*=.*$", lambda _: f"tiles_url = {json.dumps(tiles_url)}", text)
    settings = tomllib.loads(text)
    assert settings["geocoding"]["online"] is False, f"could not switch online geocoding off in {source}"
    assert tiles_url is None or settings["map"]["tiles_url"] == tiles_url, f"could not set the tiles in {source}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
