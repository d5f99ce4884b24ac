"""How many CPUs this process may actually use: what render processes and activity slots are sized from.

`os.cpu_count()` counts the machine's CPUs. A container limited to two CPUs on a 64-core host, or a process pinned
with `taskset`, may use far fewer, and a worker sized from the machine would run 64 render processes on two CPUs'
worth of time. The usable count is the lower of:

- the CPUs in the process's affinity mask (`os.sched_getaffinity(0)`);
- its cgroup v2 CPU quota: `cpu.max` holds "max 100000" (no limit) or "QUOTA PERIOD" (QUOTA/PERIOD CPUs), and
  the tightest quota on the way from the process's own cgroup up to the root counts; a fraction is rounded up,
  as the JVM and Go do (half a CPU is one process that gets throttled, not none);

and at least 1. Reading a few small files, no call to anything: cheap enough for every start.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")
DEFAULT_PERIOD = 100_000
"""The kernel's period when `cpu.max` gives only a quota."""


def quota_cpus(cpu_max: str) -> float | None:
    """The CPUs one cgroup v2 `cpu.max` allows: None for "max" (no limit) or anything that is not a quota."""
    parts = cpu_max.split()
    if not parts or parts[0] == "max":
        return None
    try:
        quota = int(parts[0])
        period = int(parts[1]) if len(parts) > 1 else DEFAULT_PERIOD
    except ValueError:
        return None
    if quota <= 0 or period <= 0:
        return None
    return quota / period


def _own_cgroup(proc_cgroup: Path) -> str:
    """This process's cgroup v2 path ("0::/system.slice/offerdesk.service" gives that path); "/" when unknown."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return "/"
    for line in lines:
        if line.startswith("0::"):
            return line[3:].strip() or "/"
    return "/"


def cgroup_cpus(cgroup_root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> float | None:
    """The tightest CPU quota from this process's cgroup up to the root of the cgroup mount; None if there is none.

    Inside a container with its own cgroup namespace the process's path is "/" and the mount's own `cpu.max` is
    the container's limit; where the path names folders the mount does not have, those are skipped.
    """
    parts = [p for p in _own_cgroup(proc_cgroup).split("/") if p and p not in (".", "..")]
    limits: list[float] = []
    for depth in range(len(parts), -1, -1):
        try:
            text = (cgroup_root.joinpath(*parts[:depth]) / "cpu.max").read_text()
        except OSError:  # no such cgroup under this mount, no cpu controller, or cgroup v1
            continue
        quota = quota_cpus(text)
        if quota is not None:
            limits.append(quota)
    return min(limits, default=None)


def affinity_cpus() -> int:
    """The CPUs the scheduler may run this process on (all of the machine's where the system cannot say)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def usable_cpus(affinity: int | None = None, cgroup_root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> int:
    """The lower of the affinity mask's CPUs and the cgroup quota (rounded up), at least 1."""
    allowed = affinity_cpus() if affinity is None else affinity
    quota = cgroup_cpus(cgroup_root, proc_cgroup)
    if quota is not None:
        allowed = min(allowed, math.ceil(quota))
    return max(1, allowed)
