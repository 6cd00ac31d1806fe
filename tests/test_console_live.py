"""The live view's pieces: fan-out to streams, events in words, both languages, the component."""

from __future__ import annotations

import asyncio
import re
import socket
from pathlib import Path

import pytest

from edge.console import i18n
from edge.console.i18n import Words
from edge.console.live import Live, describe, shown
from edge.console.server import ConsoleComponent, socket_path
from edge.events import Event, Reason
from edge.host import GateHost
from tests.console_support import make_config, open_daemon, school_guardian

TEMPLATES = Path(i18n.__file__).parent / "templates"


def event(**fields: object) -> Event:
    """An event as the store would give it back, read from its JSON."""
    ts = "2026-11-24T10:00:05.000+08:00"
    return Event.from_json(
        {"id": "01X", "ts": ts, "site": "sunflower", "gate": "main", "type": "access", **fields}
    )


def test_every_word_the_pages_use_exists_in_both_languages() -> None:
    used: set[str] = set()
    for page in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"\bt\('([a-z_]+)'[,)]", page.read_text(encoding="utf-8")))
    assert len(used) > 80
    assert sorted(used - set(i18n.WORDS)) == []
    for key, (zh, en) in i18n.WORDS.items():
        assert zh.strip() and en.strip(), key


def test_every_reason_code_has_words() -> None:
    assert [r.value for r in Reason if r.value not in i18n.REASONS] == []
    assert Words("zh").of("reason", "blocked_person") == "禁止接送人员！"
    assert Words("en").of("reason", "early_pickup") == "Early pickup: needs a guard's approval"
    assert Words("xx").lang == "zh"  # an unknown language falls back to the default


def test_shown_leaves_out_chatter() -> None:
    assert shown(event(reason="pickup", decision="granted"))
    assert shown(event(type="door", reason="forced_open"))
    assert not shown(event(type="door", reason="opened"))
    assert not shown(event(type="system", reason="started"))
    assert not shown(event(type="alarm", reason="blocked_person"))  # the banner shows it


def test_an_event_in_words(tmp_path: Path) -> None:
    daemon = open_daemon(make_config(tmp_path))
    try:
        roster = daemon.roster
        guardian = school_guardian(roster)
        child = roster.children[guardian.children[0]]
        view = describe(
            event(
                reason="early_pickup",
                decision="needs_approval",
                person={"id": guardian.guardian_id, "kind": "guardian", "name": guardian.name},
                children=[child.child_id],
                reader="entrance",
            ),
            roster,
            Words("en"),
            daemon.cfg.site.tz,
        )
        assert (view.time, view.who, view.kind, view.tone) == (
            "10:00:05",
            guardian.name,
            "guardian",
            "needs_approval",
        )
        assert [(c.name, c.class_name) for c in view.children] == [
            (child.name, roster.classes[child.class_id].name)
        ]
        assert view.decision == "NEEDS APPROVAL"
        unknown = describe(
            event(reason="unknown_credential", decision="denied", credential="card:0004567890"),
            roster,
            Words("zh"),
            daemon.cfg.site.tz,
        )
        assert unknown.who == "未知 (卡 …7890)" and unknown.reason == "未登记的卡"
        assert unknown.tone == "denied"
    finally:
        daemon.store.close()


def test_streams_get_every_batch_and_a_slow_one_is_told_to_reload(tmp_path: Path) -> None:
    daemon = open_daemon(make_config(tmp_path))
    try:

        async def scenario() -> None:
            live = Live(daemon)
            fast, slow = live.connect(), live.connect()
            for i in range(250):
                live.on_events([event(reason="pickup", n=i)])
                if not fast.queue.empty():
                    fast.queue.get_nowait()
            assert not fast.overflowed
            assert slow.overflowed and slow.queue.full()
            live.close()
            assert fast.queue.get_nowait() is None
            batches = [slow.queue.get_nowait() for _ in range(slow.queue.qsize())]
            assert batches[-1] is None  # the end marker gets in even when the queue is full
            live.disconnect(fast)
            assert live.clients == {slow}

        asyncio.run(scenario())
    finally:
        daemon.store.close()


def test_the_gate_runs_on_when_the_console_port_is_taken(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        daemon = open_daemon(make_config(tmp_path, port=port, enabled=True))
        host: GateHost = daemon
        try:

            async def scenario() -> None:
                component = ConsoleComponent(host)
                component.start()
                assert component.console is None and component.servers == []
                assert not socket_path(daemon.cfg.store.path).exists()
                assert daemon.listeners == []  # nothing left listening to the gate
                component.stop()

            asyncio.run(scenario())
        finally:
            daemon.store.close()
    assert "console: cannot listen on 127.0.0.1" in caplog.text


def test_the_component_stops_cleanly(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    daemon = open_daemon(make_config(tmp_path, port=port, enabled=True))
    try:

        async def scenario() -> None:
            component = ConsoleComponent(daemon)
            component.start()
            assert component.port == port
            assert socket_path(daemon.cfg.store.path).exists()
            assert len(daemon.listeners) == 3
            assert "device_check" in daemon.status()
            component.stop()
            assert daemon.listeners == []
            assert "device_check" not in daemon.status()
            assert not socket_path(daemon.cfg.store.path).exists()

        asyncio.run(scenario())
    finally:
        daemon.store.close()
