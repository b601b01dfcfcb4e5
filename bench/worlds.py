"""Benchmark data: one generated world per scale factor and format, cached and reused.

Scale factor 1 is 100 000 customers over two years. The generator is not prefix-stable (a
window one day longer redraws the whole world: acquisition, seasonality and manager departures
are spread over the window), so "the next day" cannot come from a second, longer run. Instead
the world is generated for the history *plus one day*; a build lands every file but the last
day's, and the increment then lands that day — exactly what the sources would deliver next.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from ingestion.contract import ENTITIES
from ingestion.demo.generator import generate

CUSTOMERS_PER_SF = 100_000
HISTORY_DAYS = 730
INCREMENT_DAY = date(2026, 10, 31)  # the history ends the day before
SEED = 42
CHUNK_SIZE = 50_000
MARKER = "bench_world.json"


def parameters(sf: float, orders_format: str = "parquet") -> dict:
    return {
        "customers": max(1, round(sf * CUSTOMERS_PER_SF)),
        "days": HISTORY_DAYS + 1,
        "end_date": INCREMENT_DAY.isoformat(),
        "seed": SEED,
        "locale": "en",
        "orders_format": orders_format,
        "tickets_format": "jsonl",
        "chunk_size": CHUNK_SIZE,
    }


@dataclass(frozen=True)
class World:
    landing: Path
    parameters: dict
    rows: dict[str, int]
    generation_seconds: float
    cached: bool

    @property
    def increment_day(self) -> str:
        return self.parameters["end_date"]

    @property
    def history(self) -> tuple[str, str]:
        end = date.fromisoformat(self.increment_day)
        return (end - timedelta(days=HISTORY_DAYS)).isoformat(), (end - timedelta(1)).isoformat()

    def files(self, *, increment: bool, sources: tuple[str, ...] | None = None) -> list[Path]:
        """The history's files (increment=False) or the increment day's (True)."""
        suffix = f"_{self.increment_day}"
        return [
            path
            for entity in ENTITIES
            if sources is None or entity.source in sources
            for path in sorted((self.landing / entity.source / entity.name).glob("*.*"))
            if path.stem.endswith(suffix) == increment
        ]

    def read_through(self, sources=None) -> int:
        """Read the history's files once, into the page cache, as a warm-up would; bytes read."""
        read = 0
        for path in self.files(increment=False, sources=sources):
            with open(path, "rb") as handle:
                while chunk := handle.read(1 << 24):
                    read += len(chunk)
        return read

    def land(self, target: Path, *, increment: bool, sources=None) -> int:
        """Hard-link (or copy) files into a landing folder; the cache is never loaded in place,
        since the loader moves a rejected file away."""
        paths = self.files(increment=increment, sources=sources)
        for path in paths:
            dest = target / path.relative_to(self.landing)
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, dest)
            except OSError:
                shutil.copy2(path, dest)
        return len(paths)


def load(folder: Path) -> World:
    """A world generated earlier into `folder` (by `ensure`)."""
    saved = json.loads((folder / MARKER).read_text())
    return World(folder / "landing", saved["parameters"], saved["rows"], saved["seconds"], True)


def _folder(cache_root: Path, sf: float, orders_format: str) -> Path:
    return cache_root / f"sf{sf:g}" / ("main" if orders_format == "parquet" else "orders-csv")


def cached(cache_root: Path, sf: float, orders_format: str = "parquet") -> World | None:
    """The world for these parameters if it was generated before, else None."""
    folder = _folder(cache_root, sf, orders_format)
    if (folder / MARKER).exists():
        world = load(folder)
        if world.parameters == parameters(sf, orders_format):
            return world
    return None


def ensure(cache_root: Path, sf: float, orders_format: str = "parquet", echo=print) -> World:
    """The cached world for these parameters, generated first when missing or different."""
    world = cached(cache_root, sf, orders_format)
    if world is not None:
        return world
    params = parameters(sf, orders_format)
    folder = _folder(cache_root, sf, orders_format)
    shutil.rmtree(folder, ignore_errors=True)
    echo(f"generating SF {sf:g} ({params['customers']:,} customers, {orders_format}) in {folder}")
    started = time.perf_counter()
    rows = generate(
        folder / "landing",
        customers=params["customers"],
        days=params["days"],
        end_date=INCREMENT_DAY,
        seed=params["seed"],
        locale=params["locale"],
        orders_format=orders_format,
        tickets_format=params["tickets_format"],
        chunk_size=params["chunk_size"],
    )
    seconds = time.perf_counter() - started
    (folder / MARKER).write_text(
        json.dumps({"parameters": params, "rows": rows, "seconds": seconds}, indent=2) + "\n"
    )
    return World(folder / "landing", params, rows, seconds, False)
