"""The one guarded reader of outside addresses (engagement.openreferral.fetch, issue 25): what it
refuses and the limits it keeps, each said in one line.

Traffic goes to 127.0.0.1 only. The refusal of private, link-local and metadata addresses is tested
on the reader's decision with a stubbed DNS answer: the connection is refused before it is made,
so no request is ever sent to such an address. No test reads the real clock or sleeps to measure
time: the client's clock and sleep are the test's own."""

from __future__ import annotations

import json
import socket
import threading

import pytest
from sqlalchemy import select

from engagement import openreferral as oruk
from engagement import store as db
from engagement.openreferral import fetch
from tests import oruk_feed
from tests.cli_inprocess import run_cli

feed_server = oruk_feed.feed_server  # the local feed (a fixture), its host allowed


class FakeClock:
    """A clock that moves only when slept on, or by ``tick`` each time it is read."""

    def __init__(self, tick: float = 0.0):
        self.now, self.tick, self.slept = 1000.0, tick, []

    def __call__(self) -> float:
        self.now += self.tick
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def client(clock: FakeClock | None = None, **options) -> oruk.FeedClient:
    clock = clock or FakeClock()
    options = {"timeout": 2.0, "retries": 0, "interval": 0.0, **options}
    return oruk.FeedClient(clock=clock, sleep=clock.sleep, **options)


def add_school(store, school_id="S1"):
    with store.write("test") as conn:
        conn.execute(
            db.schools.insert().values(
                school_id=school_id, name="Hollybrook", postcode="B30 2AA", latitude=52.42, longitude=-1.93
            )
        )


def stub(answer: dict[str, list[str]]):
    """A DNS that answers from ``answer`` and remembers what it was asked."""
    asked: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return answer[host.lower()]

    resolve.asked = asked  # type: ignore[attr-defined]
    return resolve


# ---------------------------------------------------------------- the decision, with a stubbed DNS


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("10.1.2.3", "a private network"),
        ("172.16.0.9", "a private network"),
        ("192.168.1.1", "a private network"),
        ("100.64.0.1", "a private network"),
        ("fd12:3456::1", "a private network"),
        ("::ffff:10.0.0.7", "a private network"),
        ("169.254.10.10", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("169.254.169.254", "a cloud metadata address"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("100.100.100.200", "a cloud metadata address"),
        ("127.0.0.1", "this server itself (loopback)"),
        ("::1", "this server itself (loopback)"),
        ("0.0.0.0", "an address that is not public"),
    ],
)
def test_private_link_local_metadata_and_loopback_addresses_are_refused_after_dns(address, words):
    dns = stub({"directory.example.gov.uk": ["93.184.215.14", address]})
    with pytest.raises(fetch.Refused) as refused:
        fetch.checked_addresses("directory.example.gov.uk", 443, [], dns)
    assert words in str(refused.value) and "[open_referral] allow_hosts" in str(refused.value)
    # In the allow-list, the same answer is read (a local authority's test feed on its own network).
    assert fetch.checked_addresses("Directory.Example.gov.uk", 443, ["directory.example.gov.uk"], dns) == [
        "93.184.215.14",
        address,
    ]


def test_a_public_address_is_read():
    assert fetch.checked_addresses("la.example", 443, [], stub({"la.example": ["93.184.215.14"]})) == ["93.184.215.14"]


def test_a_feed_whose_name_points_inside_is_refused_before_any_connection(store):
    add_school(store)
    dns = stub({"directory.example.gov.uk": ["169.254.169.254"]})
    report = oruk.import_oruk(store, ["https://directory.example.gov.uk/api"], "S1", client=client(resolver=dns))
    assert not report.ok and not report.written
    assert report.failures == [
        "https://directory.example.gov.uk/api/services?page=1&per_page=200: not read: its host "
        "directory.example.gov.uk is a cloud metadata address; a feed there is read only when its host is in "
        "the setting [open_referral] allow_hosts"
    ]
    assert dns.asked == ["directory.example.gov.uk"]  # asked once, refused, nothing sent


# ---------------------------------------------------------------- on loopback


def test_the_loopback_feed_is_refused_without_the_allow_list(feed_server, store):
    add_school(store)
    report = oruk.import_oruk(store, [feed_server.url], "S1", client=client(allow_hosts=[]))
    assert not report.ok and "is this server itself (loopback)" in report.failures[0]
    assert feed_server.seen == []  # never asked


def test_a_redirect_is_checked_again(feed_server, sqlite_store):
    add_school(sqlite_store)
    port = feed_server.url.split(":")[2].split("/")[0]
    # To a host the allow-list does not name (localhost is loopback too): refused at the redirect.
    feed_server.trouble["/api/services?page=1"] = [
        (302, {"Location": f"http://localhost:{port}/api/services?page=1"}, b"", 0)
    ]
    report = oruk.import_oruk(sqlite_store, [feed_server.url], "S1", client=client())
    assert "its host localhost is this server itself (loopback)" in report.failures[0]
    assert feed_server.seen == ["/api/services?page=1"]
    # To a file of the server: not http(s), not followed.
    feed_server.trouble["/api/services?page=1"] = [(302, {"Location": "file:///etc/hostname"}, b"", 0)]
    report = oruk.import_oruk(sqlite_store, [feed_server.url], "S1", client=client())
    assert report.failures[0].endswith("redirected to an address that is not http(s); not followed")
    # A redirect inside the allowed host is followed.
    feed_server.trouble["/api/services?page=1"] = [(301, {"Location": "/api/services?page=1&again=1"}, b"", 0)]
    assert oruk.import_oruk(sqlite_store, [feed_server.url], "S1", client=client(), dry_run=True).ok


def test_a_closed_port_one_that_hangs_up_and_one_that_stays_silent_say_the_same():
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    hangs_up, silent = socket.socket(), socket.socket()
    held: list[socket.socket] = []
    for listener, keep in ((hangs_up, False), (silent, True)):
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def serve(listener=listener, keep=keep):
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                held.append(conn) if keep else conn.close()

        threading.Thread(target=serve, daemon=True).start()
    try:
        messages = []
        for port in (closed_port, hangs_up.getsockname()[1], silent.getsockname()[1]):
            url = f"http://127.0.0.1:{port}/api"
            with pytest.raises(oruk.FeedError) as error:
                oruk.fetch_feed(url, client(allow_hosts=["127.0.0.1"], timeout=0.3))
            messages.append(str(error.value).replace(str(port), "PORT"))
    finally:
        for s in (hangs_up, silent, *held):
            s.close()
    assert set(messages) == {
        "http://127.0.0.1:PORT/api/services?page=1&per_page=200: cannot be reached as a feed (no answer within "
        "0.3 s, or the connection failed), 1 tries; try again later"
    }


# ---------------------------------------------------------------- limits, each in one line


def test_a_server_dripping_one_byte_every_2_s_is_refused_at_the_request_deadline(feed_server, store):
    add_school(store)
    feed_server.drip = (100_000, 0.01)  # it would take 1,000 s of real time to send the page
    clock = FakeClock(tick=2.0)  # as seen by the client: every byte two seconds after the last
    report = oruk.import_oruk(store, [feed_server.url], "S1", client=client(clock, request_seconds=30))
    assert report.failures == [
        f"{feed_server.url}/services?page=1&per_page=200: no complete answer within 30 s, the limit for one "
        "request ([open_referral] request_seconds)"
    ]
    assert feed_server.dripped < 100  # given up after a few bytes, not after the page


def test_a_feed_that_never_ends_stops_at_the_page_limit(feed_server, store):
    add_school(store)
    feed_server.endless = True
    report = oruk.import_oruk(store, [feed_server.url], "S1", client=client(max_pages=5))
    assert report.failures == [
        f"{feed_server.url}/services: still more pages after 5, the limit for one import "
        "([open_referral] max_pages); nothing was imported"
    ]
    assert len(feed_server.seen) == 5
    with store.read() as conn:
        assert conn.execute(select(db.partners)).first() is None


def test_the_import_deadline_and_its_bytes_are_limits_too(feed_server, sqlite_store):
    add_school(sqlite_store)
    feed_server.endless = True
    report = oruk.import_oruk(
        sqlite_store, [feed_server.url], "S1", client=client(FakeClock(tick=1.0), interval=0.0, import_seconds=20)
    )
    assert len(report.failures) == 1 and report.failures[0].endswith(
        "the import took longer than 20 s, the limit for one import ([open_referral] import_seconds); "
        "nothing was imported"
    )
    report = oruk.import_oruk(sqlite_store, [feed_server.url], "S1", client=client(max_import_mb=0.0005))
    assert len(report.failures) == 1 and report.failures[0].endswith(
        "the import read over 0.0005 MB, the limit for one import ([open_referral] max_import_mb); nothing was imported"
    )


def test_a_deeply_nested_document_is_refused_in_one_line(feed_server, sqlite_store, tmp_path):
    add_school(sqlite_store)
    deep = b'{"contents": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}"
    feed_server.trouble["/api/services?page=1"] = [(200, {}, deep, 0)]
    report = oruk.import_oruk(sqlite_store, [feed_server.url], "S1", client=client())
    assert report.failures == [
        f"{feed_server.url}/services?page=1&per_page=200: the answer is nested deeper than 40 levels, "
        "the limit for a document ([open_referral] max_depth)"
    ]
    path = tmp_path / "deep.json"
    path.write_bytes(deep)
    report = oruk.import_oruk(sqlite_store, [path], "S1")
    assert report.failures == [
        "deep.json: is nested deeper than 40 levels, the limit for a document ([open_referral] max_depth)"
    ]
    # Brackets inside text are not nesting.
    assert fetch.nesting_depth(json.dumps({"name": "[" * 1000}).encode()) == 1


def test_requests_are_spaced_by_the_rate_limit(feed_server):
    clock = FakeClock()
    records = oruk.fetch_feed(feed_server.url, client(clock, interval=0.2))
    assert len(records) == 11 and len(feed_server.seen) == 2
    assert clock.slept == [0.2]  # the second page waited the interval, on the client's clock


# ---------------------------------------------------------------- no credentials kept or shown


def test_a_feed_address_is_kept_logged_and_printed_without_its_secrets(feed_server, tmp_path):
    db_url = f"sqlite:///{tmp_path / 'cli.db'}"
    store = db.open_store(db_url)
    add_school(store)
    secret = feed_server.url.replace("http://", "http://ann:hunter2@") + "?api_key=s3cr3tk3y"
    report = oruk.import_oruk(store, [secret], "S1", client=client())
    assert report.ok and report.written, report.format()
    with store.read() as conn:
        stored = [str(v) for table in (db.partners, db.audit_log) for r in conn.execute(select(table)) for v in r]
    store.dispose()
    dry = run_cli("import-oruk", secret, "--dry-run", "--db", db_url)
    # Retry-After: 0, so the command's own client (three retries, one second's backoff doubling)
    # tries again at once instead of sleeping seven seconds of real time.
    feed_server.trouble["/api/services?page=1"] = [(500, {"Retry-After": "0"}, b"", 0)] * 4
    failed = run_cli("import-oruk", secret, "--db", db_url)
    assert failed.returncode == 1 and "HTTP 500" in failed.stderr
    shown = "\n".join([*stored, report.format(), dry.stdout, dry.stderr, failed.stdout, failed.stderr])
    assert feed_server.url in shown  # the address itself is kept ...
    for secret_part in ("ann", "hunter2", "s3cr3tk3y"):
        assert secret_part not in shown  # ... never who, nor the password, nor the key
