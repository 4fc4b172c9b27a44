"""Issue 13: officers keep logging contacts while a data lead imports a large file. The import reads
and checks outside the write transaction and writes in one short one, so on SQLite (one writer at a
time, a 10 s busy timeout) and on PostgreSQL every contact logged during the import lands; before,
the import held SQLite's write lock for its whole run and the officers' saves failed."""

from __future__ import annotations

import multiprocessing
import os
import queue
import time

from sqlalchemy import func, select

from engagement import store as db
from engagement.contacts import log_interaction
from engagement.interchange import import_files
from engagement.store import open_store

ROWS = 20_000
OFFICERS = 3
FAMILIES = 50


BEFORE, DURING, AFTER = 0, 1, 2  # the import's phase, as the officers see it when a save starts and ends


def officer(url: str, n: int, ready, start, stop, phase, first, after, results) -> None:
    """One officer's process: log a contact, pause a moment, again, until the import is over. Each
    save is noted with the import's phase when it began and when it ended (no clock is read)."""
    store = open_store(url)
    ready.put((n, True))
    start.wait(CEILING_S)  # set once every officer is ready
    logged = []
    while True:
        began = phase.value
        try:
            log_interaction(
                store,
                f"flo{n}",
                school_id="S1",
                family_id=f"F{len(logged) % FAMILIES}",
                date="2026-11-20",
                activity="phone call",
                notes=f"contact {len(logged)}",
                today="2026-11-23",
            )
            logged.append((began, phase.value, None))
        except Exception as exc:  # every failure is reported to the test
            logged.append((began, phase.value, f"{type(exc).__name__}: {exc}"[:300]))
        first.set()
        if began == AFTER:
            after.set()
        if stop.is_set():
            break
        time.sleep(0.1)  # an officer's pace, not a measurement
    results.put((n, logged))
    store.dispose()


# How long the test waits for the officers' processes at most. It waits on conditions (a process
# ready, a save made, a result put) and goes on the moment one holds; this is only the ceiling for a
# process that is alive but stuck. Spawned interpreters are slow to start while other test runs
# share the cores (a fixed 120 s wait once ran out there), and a process that died fails the test
# at once, with its exit code, instead of after the ceiling.
CEILING_S = 900
POLL_S = 0.5


def _check_alive(workers, what: str, done=()) -> None:
    """Fail at once if an officer's process has ended before it did its part (those in ``done`` did)."""
    dead = [(n, w.exitcode) for n, w in enumerate(workers) if w.exitcode is not None and n not in done]
    assert not dead, f"officer process(es) ended before {what}: (officer, exit code) {dead}"


def wait_until(condition, workers, what: str, done=()) -> None:
    """Wait until ``condition()`` holds (each call waits up to POLL_S on a multiprocessing event or
    queue), while every officer's process is alive; no clock is read."""
    for _ in range(int(CEILING_S / POLL_S)):
        if condition():
            return
        _check_alive(workers, what, done)
    raise AssertionError(f"gave up waiting for {what} after {CEILING_S} s although every officer is alive")


def take(q, workers, what: str) -> dict:
    """One (officer, value) pair from the queue ``q`` per officer, waiting while they are alive."""
    items: dict = {}

    def got_all() -> bool:
        try:
            n, value = q.get(timeout=POLL_S)
            items[n] = value
        except queue.Empty:
            pass
        return len(items) == len(workers)

    wait_until(got_all, workers, what, done=items)
    return items


def big_file() -> bytes:
    lines = ["interaction_id,date,family_id,activity,staff,notes"]
    lines += [f"X{i:06d},2026-10-{1 + i % 28:02d},F{i % FAMILIES},phone call,FLO,imported {i}" for i in range(ROWS)]
    return ("\n".join(lines) + "\n").encode()


def test_contacts_logged_during_a_large_import_all_land(store):
    families = ("family_id\n" + "".join(f"F{i}\n" for i in range(FAMILIES))).encode()
    seed = import_files(
        store,
        [("schools.csv", b"school_id,name,postcode\nS1,Hollybrook,B30 2AA\n"), ("families.csv", families)],
        actor="setup",
    )
    assert seed.ok, seed.format()
    data = big_file()
    # A fresh interpreter for the officers, no engine of this process shared across a fork: the
    # fork server is one, started once per test process with what an officer imports already
    # imported, and each officer is a fork of it, not an interpreter importing pandas and
    # SQLAlchemy again. (Python 3.11's fork server does not take this process's sys.path: the
    # modules it preloads are ones the project's folder holds, not this test module.)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["engagement.contacts", "engagement.store"])
    ready, results = context.Queue(), context.Queue()
    start, stop = context.Event(), context.Event()
    phase = context.Value("i", BEFORE)
    firsts = [context.Event() for _ in range(OFFICERS)]
    afters = [context.Event() for _ in range(OFFICERS)]
    workers = [
        context.Process(target=officer, args=(store.url, n, ready, start, stop, phase, firsts[n], afters[n], results))
        for n in range(OFFICERS)
    ]
    for worker in workers:
        worker.start()
    try:
        take(ready, workers, "every officer was ready")
        start.set()
        # Every officer is logging before the import starts ...
        for n, first in enumerate(firsts):
            wait_until(lambda e=first: e.wait(POLL_S), workers, f"officer {n}'s first save")
        phase.value = DURING
        report = import_files(store, [("interactions.csv", data)], actor="data lead")
        phase.value = AFTER
        # ... and goes on logging after it.
        for n, after in enumerate(afters):
            wait_until(lambda e=after: e.wait(POLL_S), workers, f"officer {n}'s first save after the import")
        stop.set()
        # Results are read before the processes are joined (a process ends only once its queue is read).
        logged = take(results, workers, "every officer's saves")
    finally:
        stop.set()
        for worker in workers:
            worker.join(30)
            if worker.is_alive():
                os.kill(worker.pid, 9)
    assert report.ok, report.format()
    assert report.counts["interactions"]["inserted"] == ROWS
    failures = [(n, error) for n, entries in logged.items() for _, _, error in entries if error]
    assert failures == [], failures
    # The import held the write lock for its short write only: every officer saved a contact that
    # began and ended while the import ran (with the lock held throughout, none could have ended).
    for n, entries in logged.items():
        assert (DURING, DURING, None) in entries, f"officer {n} saved nothing while the import ran: {entries}"
    with store.read() as conn:
        total = conn.execute(select(func.count()).select_from(db.interactions)).scalar_one()
    assert total == ROWS + sum(len(entries) for entries in logged.values())
