"""The Outreach planner in headless Chromium as a family liaison officer uses it (issue 15):
at 1440x900 and 1280x720 each family's full reasons and needs show without horizontal
scrolling and the family panel with its log form is on the first screen; a row is chosen from the
keyboard; logging a contact confirms it beside the form, keeps the logged family on screen with
the keyboard focus on "Next family", and a two-way contact takes the family off the worklist."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engagement import outreach
from engagement import store as engagement_store
from engagement.contacts import interaction_history

from . import harness as h

pytestmark = pytest.mark.browser
SIZES = h.WORKING_SIZES

PANEL = ".st-key-outreach_family_panel"


def panel_family(page) -> str:
    heading = page.locator(PANEL).locator("h3").first.inner_text()
    found = re.match(r"Family\s+(\S+)", heading)
    assert found, heading
    return found.group(1)


def active(page) -> str:
    """What has the keyboard focus: a button's text, or a field's label."""
    return page.evaluate(
        """() => { const el = document.activeElement; if (!el) return '';
        if (el.tagName === 'BUTTON') { const c = el.cloneNode(true);
          c.querySelectorAll('[data-testid=stIconMaterial]').forEach(i => i.remove());
          return 'button: ' + c.innerText.trim(); }
        const box = el.closest('[data-testid^="st"]'); const label = box && box.parentElement.querySelector('label');
        return el.tagName.toLowerCase() + ': ' + (label ? label.innerText.trim() : ''); }"""
    )


@pytest.mark.parametrize("viewport", SIZES, ids=lambda v: f"{v[0]}x{v[1]}")
def test_the_worklist_shows_the_why_in_full_beside_the_family(open_app_page, viewport):
    with open_app_page("/outreach", viewport) as (record, page):
        rows = page.locator('[class*="st-key-outreach_row_"]')
        assert rows.count() == 10
        for i in range(rows.count()):
            row = rows.nth(i)
            # Nothing cut: no row is wider than its box, and its reasons and needs are all shown.
            assert row.evaluate("el => el.scrollWidth <= el.clientWidth + 1"), row.inner_text()
            text = row.inner_text()
            assert "Why now:" in text and "+" in text and "None" not in text and ";" not in text
        # The panel beside the list, the log form in it, on the first screen at 1440x900.
        panel, form = page.locator(PANEL), page.locator(PANEL).locator('[data-testid="stForm"]')
        assert panel.bounding_box()["x"] > rows.first.bounding_box()["x"] + 300
        if viewport == (1440, 900):
            assert form.bounding_box()["y"] < viewport[1], form.bounding_box()
        page.screenshot(path=str(h.SCREENSHOTS / f"outreach-first-screen-{viewport[0]}x{viewport[1]}.png"))
        h.screenshot(page, h.SCREENSHOTS / f"outreach-worklist-{viewport[0]}x{viewport[1]}.png", viewport)
    assert not record.problems(), "\n".join(record.problems())
    assert not record.markup, record.markup


def test_a_row_is_chosen_from_the_keyboard(open_app_page):
    with open_app_page("/outreach", SIZES[0]) as (record, page):
        buttons = page.get_by_role("button", name=re.compile(r"\d+\. Family "))
        assert buttons.count() == 10
        second = buttons.nth(1).inner_text().strip()
        family = re.search(r"Family (\S+)", second).group(1)
        buttons.nth(0).focus()
        for _ in range(6):
            page.keyboard.press("Tab")
            if active(page) == f"button: {second}":
                break
        assert active(page) == f"button: {second}", active(page)
        page.keyboard.press("Enter")
        page.locator(PANEL).locator("h3").filter(has_text=family).wait_for(timeout=h.READY_TIMEOUT_MS)
        h.wait_ready(page)
        assert panel_family(page) == family
    assert not record.problems(), "\n".join(record.problems())


@pytest.mark.parametrize("viewport", SIZES, ids=lambda v: f"{v[0]}x{v[1]}")
def test_logging_a_contact_is_seen_and_the_next_family_is_a_choice(open_app_page, app_database, viewport):
    with open_app_page("/outreach", viewport) as (record, page):
        # The second family of the list, chosen with its button.
        row = page.locator('[class*="st-key-outreach_row_"]').nth(1)
        family = re.search(r"Family (\S+)", row.get_by_role("button").inner_text()).group(1)
        row.get_by_role("button").click()
        page.locator(PANEL).locator("h3").filter(has_text=family).wait_for(timeout=h.READY_TIMEOUT_MS)
        h.wait_ready(page)
        form = page.locator(PANEL).locator('[data-testid="stForm"]')
        form.locator('[data-testid="stRadio"]').get_by_text("Yes", exact=True).click()
        form.locator("textarea").fill(f"Spoke about <img src=x onerror=alert(1)> clubs {viewport}")
        form.get_by_role("button", name="Log contact").click()
        # The confirmation is what the rerun after the click draws: wait for it, not for a time.
        done = page.locator(PANEL).locator('[data-testid="stAlert"]').filter(has_text="Logged a")
        done.wait_for(timeout=h.READY_TIMEOUT_MS)
        h.wait_ready(page)
        page.wait_for_function("() => document.activeElement && document.activeElement.tagName === 'BUTTON'")

        message = done.inner_text()
        # A referral without reply or a coming move keeps a family on the list whatever its contacts.
        assert f"with family {family}" in message
        kept = "stays on the worklist for its other reasons" in message
        assert kept or "has left the worklist" in message, message
        # Seen where the user is: the confirmation and "Next family" on screen, the focus on it,
        # the logged family still in the panel and no form to log the next call against it.
        box = done.bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= viewport[1], box
        assert active(page) == "button: Next family"
        assert panel_family(page) == family and form.count() == 0
        page.screenshot(path=str(h.SCREENSHOTS / f"outreach-after-logging-screen-{viewport[0]}x{viewport[1]}.png"))
        h.screenshot(page, h.SCREENSHOTS / f"outreach-after-logging-{viewport[0]}x{viewport[1]}.png", viewport)
        if viewport == SIZES[0]:
            serious = h.describe_violations(h.axe_violations(page))
            assert not serious, "\n".join(serious)

        page.keyboard.press("Enter")
        page.locator(PANEL).locator('[data-testid="stForm"]').wait_for(timeout=h.READY_TIMEOUT_MS)
        h.wait_ready(page)
        assert panel_family(page) != family
        assert page.locator(PANEL).locator("textarea").input_value() == "", "a clean form for the next family"
        page.wait_for_function("() => document.activeElement && document.activeElement.tagName === 'INPUT'")
        # On the new form's first field, the date.
        assert page.evaluate(
            "() => !!document.activeElement.closest('.st-key-outreach_family_panel [data-testid=stDateInput]')"
        ), active(page)

    assert not record.problems(), "\n".join(record.problems())
    assert not record.markup, record.markup
    store = engagement_store.open_store(app_database)
    try:
        school = engagement_store.school_ids(store)[0]
        assert (family in outreach.worklist(store, school)["family_id"].tolist()) == kept
        history = interaction_history(store, family_id=family, role="flo").to_dict("records")
        logged = [r for r in history if isinstance(r["notes"], str) and f"clubs {viewport}" in r["notes"]]
        assert len(logged) == 1 and logged[0]["two_way"]
    finally:
        store.dispose()


def downloaded(page, label: str) -> str:
    """The text of the file the download button ``label`` gives, as the browser saves it."""
    with page.expect_download(timeout=h.READY_TIMEOUT_MS) as info:
        page.get_by_role("button", name=label).click()
    return info.value.path().read_text(encoding="utf-8")


def drawn_again(page, label: str) -> None:
    """Wait until this run has drawn the button ``label`` (its previous run's copy is marked stale
    until then), and no longer: what a user sees as soon as the list is redrawn."""
    page.wait_for_function(
        """label => [...document.querySelectorAll('[data-testid="stElementContainer"]')].some(el =>
            el.dataset.stale !== 'true' && [...el.querySelectorAll('button')].some(b => b.innerText.includes(label)))""",
        arg=label,
        timeout=h.READY_TIMEOUT_MS,
    )


def test_the_printed_sheet_agrees_with_the_csv_after_a_contact_is_logged(open_app_page, app_database):
    """Issue 27, item 2: a family reached by phone leaves the printable sheet when it leaves the
    CSV, at once, and the sheet's count of families on the list drops with it (the sheet was
    drawn seconds after the CSV, and until then, or for good after "Next family" was pressed
    meanwhile, the button gave the sheet from before the call)."""
    store = engagement_store.open_store(app_database)
    try:
        listed = outreach.worklist(store, engagement_store.school_ids(store)[0])
    finally:
        store.dispose()
    reasons = dict(zip(listed["family_id"], listed["reasons"], strict=True))
    with open_app_page("/outreach", SIZES[0]) as (record, page):
        sheet = downloaded(page, "Printable visit and call sheet")
        before = int(re.search(r"The first \d+ of (\d+) families", sheet).group(1))
        # A family that leaves the list once reached (no referral or move keeps it on).
        buttons = page.get_by_role("button", name=re.compile(r"\d+\. Family "))
        family = next(
            f
            for f in (re.search(r"Family (\S+)", buttons.nth(i).inner_text()).group(1) for i in range(buttons.count()))
            if "move" not in reasons[f] and "referral" not in reasons[f]
        )
        assert family in sheet
        page.get_by_role("button", name=re.compile(rf"\d+\. Family {family} ")).click()
        page.locator(PANEL).locator("h3").filter(has_text=family).wait_for(timeout=h.READY_TIMEOUT_MS)
        h.wait_ready(page)
        form = page.locator(PANEL).locator('[data-testid="stForm"]')
        form.locator('[data-testid="stRadio"]').get_by_text("Yes", exact=True).click()
        form.get_by_role("button", name="Log contact").click()
        page.locator(PANEL).locator('[data-testid="stAlert"]').filter(has_text="has left the worklist").wait_for(
            timeout=h.READY_TIMEOUT_MS
        )
        for moment in ("after logging", "after Next family"):
            drawn_again(page, "Worklist as CSV")
            csv = downloaded(page, "Worklist as CSV")
            sheet = downloaded(page, "Printable visit and call sheet")
            assert family not in csv, moment
            assert family not in sheet, moment
            assert f"The first 25 of {before - 1} families" in sheet, moment
            if moment == "after logging":
                page.get_by_role("button", name="Next family").click()
                page.locator(PANEL).locator('[data-testid="stForm"]').wait_for(timeout=h.READY_TIMEOUT_MS)
        h.wait_ready(page)
    assert not record.problems(), "\n".join(record.problems())


def test_the_keyboard_reaches_the_pages_controls_before_clear_demo_data(open_app_page):
    """Issue 27, item 10: pressing Tab from the top of the page reaches the worklist, the log form
    and the list to take out before "Clear demo data" (in the sidebar it came within the first
    few presses, before any of them)."""
    with open_app_page("/outreach", (1280, 800)) as (record, page):
        page.locator("body").focus()
        reached: list[str] = []
        for _ in range(400):
            page.keyboard.press("Tab")
            reached.append(active(page))
            if reached[-1] == "button: Clear demo data":
                break
        assert reached[-1] == "button: Clear demo data", reached[-20:]
        before = reached[:-1]
        for control in (
            "input: Year group",
            "button: Log contact",
            "button: Worklist as CSV",
            "button: Printable visit and call sheet",
        ):
            assert control in before, control + " not among: " + " | ".join(before)
        assert any(re.match(r"button: 1\. Family ", r) for r in before), before
    assert not record.problems(), "\n".join(record.problems())


PANEL_TABLES = ("outreach_history_table", "outreach_suggestions_table", "outreach_uses_table")
_TABLE_FIT_JS = """key => { const t = document.querySelector('.st-key-' + key + ' .dvn-scroller');
    return t && {scroll: t.scrollWidth, client: t.clientWidth}; }"""


def panel_tables_fit(page) -> dict[str, dict]:
    """Each of the family panel's tables on the page, with its scrolled and its visible width."""
    widths = {}
    for key in PANEL_TABLES:
        table = page.locator(f".st-key-{key}")
        if table.count():
            table.scroll_into_view_if_needed()
            page.locator(f".st-key-{key} .dvn-scroller").wait_for(timeout=h.READY_TIMEOUT_MS)
            widths[key] = page.evaluate(_TABLE_FIT_JS, key)
    return widths


@pytest.mark.parametrize(
    "viewport", [(1280, 800), (1440, 900), (1280, 720), (390, 844)], ids=lambda v: f"{v[0]}x{v[1]}"
)
def test_the_family_panels_tables_fit_without_scrolling_sideways(open_app_page, app_database, viewport):
    """Issue 27, item 10: at 1280x800 the family panel is half the page (362 px of table) and its
    contact history and partners that fit scrolled sideways (1,310 px of columns); a phone too.
    The first family of the worklist linked to partners shows that table: it fits as well."""
    store = engagement_store.open_store(app_database)
    try:
        listed = outreach.worklist(store, engagement_store.school_ids(store)[0])["family_id"].tolist()
        with store.read() as conn:
            linked = set(conn.execute(select(engagement_store.family_partners.c.family_id)).scalars())
    finally:
        store.dispose()
    at, family = next((n, f) for n, f in enumerate(listed) if f in linked)
    with open_app_page("/outreach", viewport) as (record, page):
        first = panel_tables_fit(page)
        assert {"outreach_history_table", "outreach_suggestions_table"} <= set(first), first
        if at >= 10:  # on a later page of the worklist
            page.get_by_label(re.compile("Page of the worklist")).fill(str(at // 10 + 1))
            page.keyboard.press("Enter")
            h.wait_ready(page)
        page.get_by_role("button", name=re.compile(rf"^{at + 1}\. Family {family} ")).click()
        page.locator(PANEL).locator(".st-key-outreach_uses_table").wait_for(timeout=h.READY_TIMEOUT_MS)
        h.wait_ready(page)
        second = panel_tables_fit(page)
        h.screenshot(page, h.SCREENSHOTS / f"outreach-panel-tables-{viewport[0]}x{viewport[1]}.png", viewport)
        assert "outreach_uses_table" in second, second
        for key, width in (first | {"outreach_uses_table": second["outreach_uses_table"]}).items():
            assert width["scroll"] <= width["client"] + 1, (key, width)
    assert not record.problems(), "\n".join(record.problems())


FORM_ON_SCREEN = """() => {
  const form = document.querySelector('.st-key-outreach_family_panel [data-testid="stForm"]');
  if (!form) return false;
  const r = form.getBoundingClientRect();
  return r.top >= 0 && r.top + 80 <= window.innerHeight;
}"""


@pytest.mark.parametrize("viewport", [(390, 844), *SIZES], ids=lambda v: f"{v[0]}x{v[1]}")
def test_choosing_a_family_brings_its_log_form_into_view(open_app_page, viewport):
    """Issue 27, item 6: on a phone the panel is under the whole list (2,800 px below the family
    tapped); choosing a family far down the list brings the log form on screen at every width."""
    with open_app_page("/outreach", viewport) as (record, page):
        row = page.locator('[class*="st-key-outreach_row_"]').nth(7)
        family = re.search(r"Family (\S+)", row.get_by_role("button").inner_text()).group(1)
        row.get_by_role("button").scroll_into_view_if_needed()
        row.get_by_role("button").click()
        page.locator(PANEL).locator("h3").filter(has_text=family).wait_for(timeout=h.READY_TIMEOUT_MS)
        h.wait_ready(page)
        page.wait_for_function(FORM_ON_SCREEN, timeout=10_000)
        assert panel_family(page) == family
        # Still there once everything has settled (nothing scrolled it away again).
        h.wait_ready(page)
        assert page.evaluate(FORM_ON_SCREEN)
        page.screenshot(path=str(h.SCREENSHOTS / f"outreach-chosen-screen-{viewport[0]}x{viewport[1]}.png"))
    assert not record.problems(), "\n".join(record.problems())
