"""Console sign-in, sessions, CSRF, lock-out and roles, through the app over httpx."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from edge.console.auth import ADDRESS_FAILURES, USER_FAILURES
from edge.events import EventType, Reason
from tests.console_support import (
    ADMIN,
    GUARD,
    ConsoleGate,
    console_gate,
    csrf_of,
    events_of,
    sign_in,
)


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[ConsoleGate]:
    g = console_gate(tmp_path)
    yield g
    g.close()


def _try(gate: ConsoleGate, name: str, secret: str) -> int:
    page = gate.client.get("/login")
    return gate.client.post(
        "/login", data={"csrf": csrf_of(page.text), "name": name, "secret": secret}
    ).status_code


def _mode_events(gate: ConsoleGate) -> list[dict[str, object]]:
    return events_of(gate.daemon, EventType.MODE)


def test_pages_send_a_stranger_to_sign_in(gate: ConsoleGate) -> None:
    for path in ("/", "/visitors", "/check", "/rollcall", "/control", "/repairs"):
        answer = gate.client.get(path)
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/login?next={path}"
    assert gate.client.get("/live/stream").status_code == 401
    assert gate.client.get("/live/pending").status_code == 401


def test_sign_in_gives_a_strict_http_only_cookie_stored_only_as_a_hash(gate: ConsoleGate) -> None:
    page = gate.client.get("/login")
    answer = gate.client.post(
        "/login", data={"csrf": csrf_of(page.text), "name": GUARD[0], "secret": GUARD[1]}
    )
    assert answer.status_code == 303
    cookie = next(
        v for k, v in answer.headers.multi_items() if k == "set-cookie" and "kg_session=" in v
    )
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    assert len(token) >= 40
    with gate.daemon.store.transaction() as db:
        rows = db.execute("SELECT id_hash, user FROM console_sessions").fetchall()
    assert len(rows) == 1
    assert rows[0][1] == GUARD[0]
    assert token not in rows[0][0]
    assert gate.client.get("/").status_code == 200


def test_pins_are_stored_as_argon2id_hashes(gate: ConsoleGate) -> None:
    with gate.daemon.store.transaction() as db:
        hashes = [r[0] for r in db.execute("SELECT hash FROM console_users")]
    assert len(hashes) == 2
    for digest in hashes:
        assert digest.startswith("$argon2id$")
        assert GUARD[1] not in digest and ADMIN[1] not in digest


def test_a_wrong_pin_gets_a_message_and_no_session(gate: ConsoleGate) -> None:
    page = gate.client.get("/login")
    answer = gate.client.post(
        "/login", data={"csrf": csrf_of(page.text), "name": GUARD[0], "secret": "000000"}
    )
    assert answer.status_code == 401
    assert "Wrong name or PIN" in answer.text
    assert "kg_session" not in answer.headers.get("set-cookie", "")
    assert gate.client.get("/").status_code == 303


def test_the_sign_in_form_needs_its_own_token(gate: ConsoleGate) -> None:
    gate.client.get("/login")
    missing = gate.client.post("/login", data={"name": GUARD[0], "secret": GUARD[1]})
    wrong = gate.client.post(
        "/login", data={"csrf": "forged", "name": GUARD[0], "secret": GUARD[1]}
    )
    assert missing.status_code == 403
    assert wrong.status_code == 403
    assert gate.client.get("/").status_code == 303


def test_a_post_without_a_session_is_refused_and_changes_nothing(gate: ConsoleGate) -> None:
    answer = gate.client.post(
        "/control/confirm", data={"action": "lockdown", "confirmed": "yes", "csrf": "x"}
    )
    assert answer.status_code == 403
    assert "Please sign in" in answer.text
    assert str(gate.daemon.gate.mode) == "normal"
    assert _mode_events(gate) == []


def test_a_post_with_a_bad_csrf_token_is_refused_and_changes_nothing(gate: ConsoleGate) -> None:
    good = sign_in(gate.client)
    for token in ("", "not-the-token", good[:-1]):
        answer = gate.client.post(
            "/control/confirm", data={"action": "lockdown", "confirmed": "yes", "csrf": token}
        )
        assert answer.status_code == 403
    assert str(gate.daemon.gate.mode) == "normal"
    answer = gate.client.post(
        "/control/confirm", data={"action": "lockdown", "confirmed": "yes", "csrf": good}
    )
    assert answer.status_code == 303
    assert [e.by for e in _mode_events(gate)] == [GUARD[0]]


def test_another_sessions_token_does_not_work(gate: ConsoleGate, tmp_path: Path) -> None:
    other = sign_in(gate.client, ADMIN)
    gate.client.cookies.clear()
    sign_in(gate.client, GUARD)
    answer = gate.client.post(
        "/control/confirm", data={"action": "evacuate", "confirmed": "yes", "csrf": other}
    )
    assert answer.status_code == 403
    assert _mode_events(gate) == []


def test_a_post_from_another_origin_is_refused_even_with_the_token(gate: ConsoleGate) -> None:
    token = sign_in(gate.client)
    answer = gate.client.post(
        "/control/confirm",
        data={"action": "lockdown", "confirmed": "yes", "csrf": token},
        headers={"Origin": "http://evil.example"},
    )
    assert answer.status_code == 403
    assert _mode_events(gate) == []


def test_repeated_failures_lock_the_account(gate: ConsoleGate) -> None:
    codes = [_try(gate, GUARD[0], f"wrong{i:03d}") for i in range(USER_FAILURES)]
    assert codes == [401] * (USER_FAILURES - 1) + [429]
    assert _try(gate, GUARD[0], GUARD[1]) == 429  # the right PIN waits too
    locked = [
        e
        for e in events_of(gate.daemon, EventType.SYSTEM, Reason.REFUSED)
        if e.detail["why"] == "locked out"
    ]
    assert len(locked) == 1
    assert locked[0].detail["user"] == GUARD[0]
    assert _try(gate, ADMIN[0], ADMIN[1]) == 303  # other accounts are not locked
    gate.client.cookies.clear()
    gate.clock.set(gate.clock.now() + timedelta(minutes=16))
    assert _try(gate, GUARD[0], GUARD[1]) == 303


def test_repeated_failures_from_one_address_lock_the_address(gate: ConsoleGate) -> None:
    names = [f"nobody{i}" for i in range(ADDRESS_FAILURES)]
    codes = [_try(gate, name, "123456") for name in names]
    assert codes[-1] == 429
    assert set(codes[:-1]) == {401}
    assert _try(gate, GUARD[0], GUARD[1]) == 429
    locked = events_of(gate.daemon, EventType.SYSTEM, Reason.REFUSED)
    assert [e.detail["user"] for e in locked] == ["(unknown name)"]


def test_a_session_expires(gate: ConsoleGate) -> None:
    sign_in(gate.client)
    assert gate.client.get("/").status_code == 200
    gate.clock.set(gate.clock.now() + timedelta(minutes=61))  # session_minutes = 60
    assert gate.client.get("/").status_code == 303
    with gate.daemon.store.transaction() as db:
        assert db.execute("SELECT count(*) FROM console_sessions").fetchone()[0] == 0


def test_sign_out_ends_the_session_on_the_server(gate: ConsoleGate) -> None:
    token = sign_in(gate.client)
    cookie = gate.client.cookies["kg_session"]
    assert gate.client.post("/logout", data={"csrf": token}).status_code == 303
    gate.client.cookies.set("kg_session", cookie)  # a copy of the old cookie
    assert gate.client.get("/").status_code == 303


def test_guards_cannot_manage_accounts(gate: ConsoleGate) -> None:
    token = sign_in(gate.client)
    assert gate.client.get("/users").status_code == 403
    answer = gate.client.post(
        "/users", data={"csrf": token, "name": "mallory", "role": "admin", "secret": "12345678"}
    )
    assert answer.status_code == 403
    assert [u.name for u in gate.console.users.all()] == [ADMIN[0], GUARD[0]]


def test_an_admin_adds_an_account_and_bad_input_changes_nothing(gate: ConsoleGate) -> None:
    token = sign_in(gate.client, ADMIN)
    short = gate.client.post(
        "/users", data={"csrf": token, "name": "li", "role": "guard", "secret": "123"}
    )
    assert short.status_code == 400
    assert "PIN or password" in short.text
    assert len(gate.console.users.all()) == 2
    good = gate.client.post(
        "/users", data={"csrf": token, "name": "li", "role": "guard", "secret": "135790"}
    )
    assert good.status_code == 303
    gate.client.cookies.clear()
    assert _try(gate, "li", "135790") == 303


def test_disabling_an_account_ends_its_sessions(gate: ConsoleGate, tmp_path: Path) -> None:
    sign_in(gate.client)
    guard_cookie = gate.client.cookies["kg_session"]
    gate.client.cookies.clear()
    token = sign_in(gate.client, ADMIN)
    assert gate.client.post(f"/users/{GUARD[0]}/disable", data={"csrf": token}).status_code == 303
    gate.client.cookies.clear()
    gate.client.cookies.set("kg_session", guard_cookie)
    assert gate.client.get("/").status_code == 303
    assert _try(gate, GUARD[0], GUARD[1]) == 401


def test_pages_carry_security_headers(gate: ConsoleGate) -> None:
    sign_in(gate.client)
    answer = gate.client.get("/")
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["cache-control"] == "no-store"
    assert "<script>" not in answer.text  # no inline script: the policy forbids it


def test_bodies_must_say_their_length_and_stay_small(gate: ConsoleGate) -> None:
    token = sign_in(gate.client)
    chunked = gate.client.post(
        "/visitors", content=iter([b"csrf=" + token.encode()]), headers={"Content-Type": "x"}
    )
    assert chunked.status_code == 411
    huge = gate.client.post(
        "/visitors", content=b"x", headers={"Content-Length": str(7 * 1024 * 1024)}
    )
    assert huge.status_code == 413


def test_sign_in_never_sends_the_guard_to_another_site(gate: ConsoleGate) -> None:
    page = gate.client.get("/login?next=//evil.example/x")
    answer = gate.client.post(
        "/login",
        data={
            "csrf": csrf_of(page.text),
            "name": GUARD[0],
            "secret": GUARD[1],
            "next": "//evil.example/x",
        },
    )
    assert answer.headers["location"] == "/"


def test_the_language_switch_is_a_checked_post(gate: ConsoleGate) -> None:
    token = sign_in(gate.client)
    assert "Live" in gate.client.get("/").text  # the test config says English
    assert gate.client.post("/lang", data={"csrf": "bad", "next": "/"}).status_code == 403
    assert gate.client.post("/lang", data={"csrf": token, "next": "/"}).status_code == 303
    page = gate.client.get("/").text
    assert "实时" in page and "等待确认的提前接走" in page


def test_an_old_weaker_hash_is_upgraded_at_sign_in(gate: ConsoleGate) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("975310")
    gate.console.users.save("old", "guard", weak)
    assert _try(gate, "old", "975310") == 303
    with gate.daemon.store.transaction() as db:
        (digest,) = db.execute("SELECT hash FROM console_users WHERE name = 'old'").fetchone()
    assert digest != weak and "m=19456,t=2,p=1" in digest
