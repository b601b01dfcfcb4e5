"""Peak resident memory of a whole process tree (this process and every descendant, e.g. the
dbt subprocess), sampled from /proc by a background thread.

The sum counts pages shared between processes once per process, so it errs on the high side.
Where /proc is missing the fallback is the largest single process (getrusage), and `method`
says so."""

from __future__ import annotations

import os
import resource
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PROC = Path("/proc")
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def tree_rss(root: int) -> tuple[int, int]:
    """Resident bytes of `root` and all its descendants, and of `root` alone, right now."""
    parent_of: dict[int, int] = {}
    rss_of: dict[int, int] = {}
    for entry in os.scandir(PROC):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:  # the process ended meanwhile
            continue
        # Fields after the command name, which may itself hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        pid = int(entry.name)
        parent_of[pid], rss_of[pid] = int(fields[1]), int(fields[21]) * PAGE
    children: dict[int, list[int]] = {}
    for pid, parent in parent_of.items():
        children.setdefault(parent, []).append(pid)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss_of.get(pid, 0)
        todo.extend(children.get(pid, ()))
    return total, rss_of.get(root, 0)


class Peak:
    """The largest sample seen while a `TreeMemory.track()` block was open, and how much of
    it the root process itself held then (the rest: its children, e.g. dbt)."""

    bytes: int = 0
    root_bytes: int = 0


class TreeMemory:
    """Samples the tree every `interval` seconds while used as a context manager."""

    def __init__(self, root: int | None = None, interval: float = 0.05):
        self.root = root or os.getpid()
        self.interval = interval
        self.method = "proc tree sum" if PROC.joinpath("self", "stat").exists() else "getrusage"
        self.peak = Peak()
        self._open: list[Peak] = [self.peak]
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tree-rss", daemon=True)

    def sample(self) -> int:
        if self.method == "getrusage":
            own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            value, root = max(own, kids) * 1024, own * 1024
        else:
            value, root = tree_rss(self.root)
        with self._lock:
            for peak in self._open:
                if value > peak.bytes:
                    peak.bytes, peak.root_bytes = value, root
        return value

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> TreeMemory:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    @contextmanager
    def track(self) -> Iterator[Peak]:
        peak = Peak()
        with self._lock:
            self._open.append(peak)
        self.sample()
        try:
            yield peak
        finally:
            self.sample()
            with self._lock:
                self._open.remove(peak)
