"""A run against the previous result at the same scale factor: which stages got slower.

The results folder keeps the newest result per SF and day, so a run is compared with the last
one recorded before it. Only results from the same machine (CPU, usable cores, RAM) are
compared: elsewhere every stage differs and none of it is the code's doing."""

from __future__ import annotations

from typing import Any

# A stage is called slower when it took this much longer, relative and absolute: this
# machine's speed drifts by up to a quarter within a session, and sub-second stages jitter.
SLOWER_SHARE = 0.25
SLOWER_SECONDS = 1.0
MACHINE_KEYS = ("cpu_model", "cores_usable", "ram_bytes")


def machine_class(machine: dict[str, Any]) -> tuple:
    """What makes two results comparable: CPU, usable cores and RAM in whole GiB (the memory
    a kernel reports differs by a few KiB between boots of one machine: 25,276,502,016 and
    25,276,514,304 bytes on two days here)."""
    ram = machine.get("ram_bytes")
    return tuple(
        round(ram / 1024**3) if k == "ram_bytes" and ram else machine.get(k) for k in MACHINE_KEYS
    )


def compare(
    previous: dict[str, Any] | None,
    current: dict[str, Any],
    *,
    share: float = SLOWER_SHARE,
    seconds: float = SLOWER_SECONDS,
) -> dict[str, Any] | None:
    """None without a previous result; else what it was (file, date, commit), whether it ran
    on this machine, and when it did, per stage: before, now, change, and whether it is slower
    beyond the noise (``share`` and ``seconds`` both exceeded)."""
    if previous is None:
        return None
    against = {
        "file": previous.get("file"),
        "date": previous["date"],
        "commit": previous["git"]["commit"],
    }
    same_machine = machine_class(previous["machine"]) == machine_class(current["machine"])
    if not same_machine:
        return {"against": against, "same_machine": False, "stages": [], "slower": []}
    rows = []
    # The whole builds first, then every stage in the order the run recorded them.
    for name in dict.fromkeys(["full", "increment", *current["stages"]]):
        before = previous["stages"].get(name, {}).get("median_seconds")
        now = current["stages"].get(name, {}).get("median_seconds")
        if before is None or now is None:
            continue
        change = (now - before) / before if before > 0 else None
        slower = now - before > seconds and (change is None or change > share)
        rows.append(
            {"stage": name, "before": before, "now": now, "change": change, "slower": slower}
        )
    return {
        "against": against,
        "same_machine": True,
        "threshold": {"share": share, "seconds": seconds},
        # A single run is one draw of this machine's drift: at SF 10 a stage came out 28 %
        # slower than the result before, and 13 % in the next run on the same code.
        "single_run": any(r.get("parameters", {}).get("repeats") == 1 for r in (previous, current)),
        "stages": rows,
        "slower": [r["stage"] for r in rows if r["slower"]],
    }
