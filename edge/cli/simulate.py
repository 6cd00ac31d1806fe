"""simulate: replay a scenario in virtual time; print every event as a JSON line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from edge.cli.common import CliError
from edge.events import Event


def register(sub: Any) -> None:
    p = sub.add_parser(
        "simulate", help="replay a scenario in virtual time; print events as JSON lines"
    )
    p.add_argument("scenario")
    p.set_defaults(func=simulate)


def simulate(args: argparse.Namespace) -> int:
    from edge.sim.simulate import ScenarioError, run_scenario

    def emit(event: Event) -> None:
        sys.stdout.write(event.dumps() + "\n")

    try:
        sim = run_scenario(Path(args.scenario), emit)
    except ScenarioError as err:
        raise CliError("\n".join(err.problems)) from None
    sim.close()
    sys.stdout.flush()
    return 0
