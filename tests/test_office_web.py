"""The office page in a real headless Chromium, served by uvicorn on a free port."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from edge.config import load_office_config
from edge.events import dumps
from office.ingest import Ingestor, Message
from office.store import CollectorStore, open_store
from office.web import Office, WebServer
from tests.collector_support import gate_events, topic_of, write_config
from tests.conftest import free_port
from tests.test_reports import Day, rows

CHROMIUM = "/usr/bin/chromium"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # 20:00 at the site
ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-gpu",
]


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Day:
    d = Day(tmp_path_factory.mktemp("day"))
    d.run()
    return d


@pytest.fixture
def store(tmp_path: Path, day: Day) -> Iterator[CollectorStore]:
    s = open_store(str(tmp_path / "office.db"))
    ingest(s, [Message(topic_of(e), dumps(e).encode()) for e in day.events])
    state = {"mode": "normal", "outbox": 2, "roster_version": 3}
    ingest(
        s,
        [
            Message("kindergate/sunflower/main/status", b"online"),
            Message("kindergate/sunflower/main/state", json.dumps(state).encode()),
            Message("kindergate/sunflower/side/status", b"offline"),
        ],
    )
    yield s
    s.close()


def ingest(store: CollectorStore, messages: list[Message]) -> None:
    Ingestor(store, "kindergate", offline_after=timedelta(minutes=2), clock=lambda: NOW).write(
        messages
    )


@pytest.fixture
def site(tmp_path: Path, store: CollectorStore, day: Day) -> Iterator[str]:
    cfg = load_office_config(
        write_config(
            tmp_path / "office",
            1883,
            str(tmp_path / "office.db"),
            roster=day.roster,
            web_refresh_seconds=1,
        )
    )
    port = free_port()
    office = Office(cfg, store, clock=lambda: NOW)
    server = WebServer(cfg, "127.0.0.1", port, office=office)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail("chromium is not installed: apt-get install chromium (make test does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()


def cells(page: Any, gate: str) -> dict[str, str]:
    row = page.locator("#gates tbody tr", has_text=gate).first
    tds = row.locator("td")
    return {
        tds.nth(i).get_attribute("data-col"): tds.nth(i).inner_text() for i in range(tds.count())
    }


def test_the_page_shows_every_gate_and_follows_changes(
    page: Any, site: str, store: CollectorStore
) -> None:
    from playwright.sync_api import expect

    page.goto(site + "/")
    expect(page.locator("h1")).to_have_text("Gates")
    main = cells(page, "main")
    assert (main["online"], main["outbox"], main["roster_version"]) == ("yes", "2", "3")
    assert main["device_check"] == "done 07:00:00"
    side = cells(page, "side")
    assert (side["online"], side["device_check"]) == ("no", "missing")
    expect(page.locator('[data-figure="pickups.collected"]')).to_have_text("8")
    expect(page.locator('[data-figure="visitors.on_site"]')).to_have_text("1")

    # The side gate comes back and sends an event.
    visitor = gate_events(1, gate="side")[0]
    ingest(
        store,
        [
            Message("kindergate/sunflower/side/status", b"online"),
            Message(topic_of(visitor), dumps(visitor).encode()),
        ],
    )
    row = page.locator("#gates tbody tr", has_text="side").locator('[data-col="online"]')
    expect(row).to_have_text("yes", timeout=15_000)  # the page reloaded itself


def test_a_report_page_with_masked_phones_and_downloads(page: Any, site: str, day: Day) -> None:
    from playwright.sync_api import expect

    page.goto(site + "/report/late?date=2026-11-24")
    table = page.locator('table[data-report="late"] tbody tr')
    expect(table).to_have_count(3)
    expect(page.locator('[data-figure="still_waiting"]')).to_have_text("2")
    html = page.content()
    for g in rows(day.roster, "guardians.csv"):
        assert g["phone"] not in html
    csv = page.request.get(site + "/report/late.csv?date=2026-11-24")
    assert csv.ok and csv.headers["content-type"].startswith("text/csv")
    assert len(csv.text().strip().splitlines()) == 4
    assert page.request.get(site + "/report/nothing").status == 404
    assert page.request.get(site + "/report/late?date=yesterday").status == 400


def test_names_from_events_are_shown_as_text(page: Any, site: str, store: CollectorStore) -> None:
    from edge.events import GENESIS, Draft, EventType, Person, Reason, seal

    name = '<img src=x onerror="document.title=1">Eve'
    draft = Draft(
        type=EventType.VISITOR,
        reason=Reason.VISITOR_IN,
        ts=datetime.fromisoformat("2026-11-24T15:00:00+08:00"),
        person=Person("V1", "visitor", name),
        detail={"host": "office", "purpose": "<b>x</b>"},
    )
    event = seal(draft, site="sunflower", gate="side", seq=1, prev_hash=GENESIS)
    ingest(store, [Message(topic_of(event), dumps(event).encode())])
    page.goto(site + "/report/visitors?date=2026-11-24")
    assert page.get_by_text(name).count() == 1
    assert page.locator("table img, table b").count() == 0
    assert page.title() != "1"


def test_a_stored_row_that_is_not_an_event_is_named_not_a_500(
    page: Any, site: str, store: CollectorStore, day: Day
) -> None:
    from playwright.sync_api import expect

    pickup = next(e for e in day.events if e.get("reason") == "pickup")
    forged = dict(pickup, id="BAD1", children=[{"id": c} for c in pickup["children"]])
    ts_ms = int(datetime.fromisoformat(pickup["ts"]).timestamp() * 1000)
    row = ("BAD1", "sunflower", "main", None, pickup["ts"], ts_ms, "access", "pickup")
    with store.transaction():
        store.insert_events([(*row, None, None, dumps(forged), pickup["ts"])])
    for path in ("/", "/report/pickups?date=2026-11-24", "/report/day?date=2026-11-24"):
        assert page.goto(site + path).status == 200, path
        note = page.locator("#notes li")
        expect(note).to_have_count(1)
        expect(note).to_contain_text("stored event BAD1 (sunflower/main")
        expect(note).to_contain_text("children: not a list of ids")
    page.goto(site + "/")
    expect(page.locator('[data-figure="events.unreadable"]')).to_have_text("1")
    expect(page.locator('[data-figure="pickups.collected"]')).to_have_text("8")  # as before
    assert page.request.get(site + "/report/pickups.json?date=2026-11-24").json()["notes"]
