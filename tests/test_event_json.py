"""``Event.from_json``: a good event read back exactly; anything else an ``EventError`` saying
what is wrong (never a KeyError or TypeError from deep inside)."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

import pytest

from edge.events import (
    GENESIS,
    Decision,
    Draft,
    Event,
    EventError,
    EventType,
    Person,
    Reason,
    seal,
)

TS = datetime.fromisoformat("2026-11-24T16:05:00.123+08:00")


def good() -> dict[str, Any]:
    draft = Draft(
        type=EventType.ACCESS,
        reason=Reason.DELEGATE,
        ts=TS,
        decision=Decision.GRANTED,
        credential="qr:KG1.abc",
        person=Person("p1", "delegate", "Li Na"),
        children=("C1", "C2"),
        reader="entrance",
        approved_by="S001",
        detail={"pass_id": "p1", "nested": {"a": [1, 2]}},
    )
    return seal(draft, site="sunflower", gate="main", seq=7, prev_hash=GENESIS)


def test_a_sealed_event_reads_back_with_typed_fields_and_its_exact_json() -> None:
    obj = good()
    event = Event.from_json(obj)
    assert (event.type, event.reason, event.decision) == (
        EventType.ACCESS,
        Reason.DELEGATE,
        Decision.GRANTED,
    )
    assert event.ts == TS and event.seq == 7 and event.granted
    assert event.person == Person("p1", "delegate", "Li Na")
    assert event.children == ("C1", "C2")
    assert event.detail["nested"] == {"a": [1, 2]}
    assert event.to_json() == obj
    assert json.loads(event.dumps()) == obj
    assert Event.loads(event.dumps()) == event


def test_an_event_cannot_be_changed() -> None:
    event = Event.from_json(good())
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.reason = Reason.PICKUP  # type: ignore[misc]
    with pytest.raises(TypeError):
        event.detail["pass_id"] = "p2"  # type: ignore[index]
    with pytest.raises(TypeError):
        event.json["reason"] = "pickup"  # type: ignore[index]
    copy = event.to_json()
    copy["reason"] = "pickup"
    assert event.reason is Reason.DELEGATE and event.to_json()["reason"] == "delegate"


def test_optional_fields_may_be_absent() -> None:
    obj = {k: v for k, v in good().items() if k in ("id", "ts", "site", "gate", "type", "reason")}
    event = Event.from_json(obj)
    assert (event.decision, event.person, event.children, dict(event.detail)) == (
        None,
        None,
        (),
        {},
    )
    assert (event.seq, event.hash, event.credential) == (None, None, None)


def bad(**changes: Any) -> dict[str, Any]:
    obj = good()
    for key, value in changes.items():
        if value is DROP:
            del obj[key]
        else:
            obj[key] = value
    return obj


DROP = object()


@pytest.mark.parametrize(
    ("obj", "says"),
    [
        # not an object at all
        ([1, 2], "not a JSON object"),
        ("access", "not a JSON object"),
        (None, "not a JSON object"),
        # missing fields
        (bad(id=DROP), "id:"),
        (bad(ts=DROP), "ts:"),
        (bad(site=DROP), "site:"),
        (bad(gate=DROP), "gate:"),
        (bad(type=DROP), "type:"),
        (bad(reason=DROP), "reason:"),
        # wrong types
        (bad(id=17), "id:"),
        (bad(id=""), "id:"),
        (bad(ts=1764000000), "ts:"),
        (bad(ts="yesterday"), "ts: not an ISO 8601 time"),
        (bad(ts="2026-11-24T16:05:00"), "ts: no UTC offset"),
        (bad(seq="7"), "seq:"),
        (bad(seq=True), "seq:"),
        (bad(seq=0), "seq:"),
        (bad(seq=-3), "seq:"),
        (bad(type=["access"]), "type: missing or not a string"),
        (bad(reason=3), "reason: missing or not a string"),
        (bad(decision=True), "decision:"),
        (bad(credential=["card:1"]), "credential:"),
        (bad(credential="q" * 4097), "credential:"),
        (bad(reader=5), "reader:"),
        (bad(by={"name": "x"}), "by:"),
        # unknown values
        (bad(type="parade"), "type: unknown value 'parade'"),
        (bad(reason="because"), "reason: unknown value 'because'"),
        (bad(decision="maybe"), "decision: unknown value 'maybe'"),
        # non-object person, detail; children not a list of ids
        (bad(person="Li Na"), "person: not an object"),
        (bad(person=["p1", "delegate"]), "person: not an object"),
        (bad(person={"kind": "delegate"}), "id:"),
        (bad(person={"id": "p1", "kind": 3}), "kind:"),
        (bad(person={"id": "p1", "kind": "delegate", "name": "n" * 501}), "name:"),
        (bad(detail=["pass_id"]), "detail: not an object"),
        (bad(detail="p1"), "detail: not an object"),
        (bad(children="C1"), "children: not a list of ids"),
        (bad(children={"C1": True}), "children: not a list of ids"),
        (bad(children=[1, 2]), "children: not a list of ids"),
        (bad(children=["C1", ""]), "children: not a list of ids"),
        (bad(children=["C1", None]), "children: not a list of ids"),
    ],
)
def test_bad_input_is_an_event_error_naming_the_field(obj: Any, says: str) -> None:
    with pytest.raises(EventError) as err:
        Event.from_json(obj)
    assert says in str(err.value)


def test_an_unknown_value_is_cut_short_in_the_message() -> None:
    with pytest.raises(EventError) as err:
        Event.from_json(bad(reason="x" * 10_000))
    assert len(str(err.value)) < 120


@pytest.mark.parametrize("text", ["{not json", b"\xff\xfe", "", "[]", '"event"'])
def test_loads_refuses_what_is_not_a_json_object(text: str | bytes) -> None:
    with pytest.raises(EventError):
        Event.loads(text)


def test_an_event_error_is_a_value_error() -> None:
    assert issubclass(EventError, ValueError)
