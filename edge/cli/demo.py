"""demo: a day at the example kindergarten, on simulated hardware, in seconds."""

from __future__ import annotations

import argparse
from typing import Any

from edge.cli.common import config_or_exit, roster_or_exit


def register(sub: Any) -> None:
    p = sub.add_parser(
        "demo", help="replay a day at the example kindergarten and tell it as a timeline"
    )
    p.add_argument("-c", "--config", required=True)
    p.set_defaults(func=demo)


def demo(args: argparse.Namespace) -> int:
    from edge.sim.demo import DEMO_DAY, run_demo, summary
    from edge.sim.timeline import print_summary, print_timeline

    cfg = config_or_exit(args.config)
    cfg = cfg.model_copy(update={"store": cfg.store.model_copy(update={"path": ":memory:"})})
    roster = roster_or_exit(cfg.roster.path, prefix="roster: ")
    print(
        f"KinderGate demo: {cfg.site.name or cfg.site.id}, gate {cfg.gate.id} (channel {cfg.gate.channel}), {DEMO_DAY:%A %Y-%m-%d}, simulated hardware"
    )
    print(
        f"roster: {len(roster.classes)} classes, {len(roster.children)} children, {len(roster.guardians)} guardians, {len(roster.staff)} staff\n"
    )
    events = run_demo(cfg, roster)
    print_timeline(events, roster)
    print_summary(summary(events, roster), roster)
    print(f"\n{len(events)} events; replay any scenario with `kindergate simulate FILE`.")
    return 0
