"""Capacity from the CPUs a worker may actually use: affinity and the cgroup v2 quota, with fake cgroup files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from activities.capacity import cgroup_cpus, quota_cpus, usable_cpus
from offerdesk.config import DRAIN_S, Settings


def cgroups(tmp_path: Path, own: str, limits: dict[str, str]) -> tuple[Path, Path]:
    """A fake cgroup v2 mount (a cpu.max in each folder of `limits`, "" for the root) and /proc/self/cgroup."""
    root = tmp_path / "cgroup"
    root.mkdir()
    for folder, cpu_max in limits.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "cpu.max").write_text(cpu_max + "\n")
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text(f"0::{own}\n")
    return root, proc


@pytest.mark.parametrize(
    ("cpu_max", "cpus"),
    [
        ("max 100000", None),
        ("max", None),
        ("200000 100000", 2.0),
        ("150000 100000", 1.5),
        ("50000 100000", 0.5),
        ("300000", 3.0),  # the quota alone: the kernel's period of 100 ms
        ("", None),
        ("garbage here", None),
        ("-1 100000", None),
    ],
)
def test_a_cpu_max_line_reads_as_cpus(cpu_max: str, cpus: float | None) -> None:
    assert quota_cpus(cpu_max) == cpus


@pytest.mark.parametrize(
    ("cpu_max", "affinity", "usable"),
    [
        ("max 100000", 6, 6),  # no quota leaves the affinity
        ("150000 100000", 8, 2),  # a quota below the affinity wins, rounded up
        ("400000 100000", 1, 1),  # an affinity below the quota wins
        ("50000 100000", 4, 1),  # half a CPU is still one process
    ],
)
def test_the_lower_of_quota_and_affinity_counts(tmp_path: Path, cpu_max: str, affinity: int, usable: int) -> None:
    root, proc = cgroups(tmp_path, "/", {"": cpu_max})
    assert usable_cpus(affinity=affinity, cgroup_root=root, proc_cgroup=proc) == usable


def test_the_tightest_quota_on_the_way_to_the_root_counts(tmp_path: Path) -> None:
    # A service in a slice: the slice allows 3 CPUs, the service itself 6, the root no limit.
    root, proc = cgroups(
        tmp_path,
        "/system.slice/offerdesk.service",
        {"": "max 100000", "system.slice": "300000 100000", "system.slice/offerdesk.service": "600000 100000"},
    )
    assert cgroup_cpus(root, proc) == 3.0
    assert usable_cpus(affinity=16, cgroup_root=root, proc_cgroup=proc) == 3


def test_a_path_the_mount_does_not_have_falls_back_to_the_mount_s_own_limit(tmp_path: Path) -> None:
    # A container without a cgroup namespace: /proc/self/cgroup names the host's path, the mount is the container's.
    root, proc = cgroups(tmp_path, "/docker/0123abcd", {"": "200000 100000"})
    assert usable_cpus(affinity=32, cgroup_root=root, proc_cgroup=proc) == 2


def test_no_cgroup_files_at_all_leave_the_affinity(tmp_path: Path) -> None:
    # cgroup v1, or no /sys/fs/cgroup: nothing to read is no limit.
    assert cgroup_cpus(tmp_path / "absent", tmp_path / "absent-too") is None
    assert usable_cpus(affinity=3, cgroup_root=tmp_path / "absent", proc_cgroup=tmp_path / "absent-too") == 3


def test_never_less_than_one(tmp_path: Path) -> None:
    root, proc = cgroups(tmp_path, "/", {"": "1000 100000"})
    assert usable_cpus(affinity=0, cgroup_root=root, proc_cgroup=proc) == 1


def test_this_process_is_sized_by_its_affinity_at_most() -> None:
    assert 1 <= usable_cpus() <= len(os.sched_getaffinity(0))


# ---- the settings ------------------------------------------------------------------------------


def test_capacity_settings_default_from_the_usable_cpus(tmp_path: Path) -> None:
    settings = Settings.from_env({"OFFERDESK_HOME": str(tmp_path)})
    cpus = usable_cpus()
    assert settings.render_processes == cpus
    assert settings.activity_slots is None  # as many as render processes
    assert settings.mail_slots == min(16, 4 * cpus)
    assert settings.worker_drain_s == DRAIN_S == 60


def test_capacity_settings_are_read_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "OFFERDESK_HOME": str(tmp_path),
            "OFFERDESK_RENDER_PROCESSES": "3",
            "OFFERDESK_ACTIVITY_SLOTS": "5",
            "OFFERDESK_MAIL_SLOTS": "2",
            "OFFERDESK_WORKER_DRAIN_S": "0",
        }
    )
    assert (settings.render_processes, settings.activity_slots, settings.mail_slots) == (3, 5, 2)
    assert settings.worker_drain_s == 0


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("OFFERDESK_RENDER_PROCESSES", "two", "OFFERDESK_RENDER_PROCESSES is a whole number"),
        ("OFFERDESK_RENDER_PROCESSES", "0", "between 1 and 256"),
        ("OFFERDESK_ACTIVITY_SLOTS", "-3", "between 1 and 1024"),
        ("OFFERDESK_MAIL_SLOTS", "1.5", "OFFERDESK_MAIL_SLOTS is a whole number"),
        ("OFFERDESK_WORKER_DRAIN_S", "soon", "OFFERDESK_WORKER_DRAIN_S is a number of seconds"),
        ("OFFERDESK_WORKER_DRAIN_S", "7200", "between 0 and 3600"),
        ("OFFERDESK_WORKER_DRAIN_S", "nan", "between 0 and 3600"),
    ],
)
def test_a_wrong_capacity_setting_is_a_sentence(tmp_path: Path, name: str, value: str, said: str) -> None:
    with pytest.raises(ValueError, match=said):
        Settings.from_env({"OFFERDESK_HOME": str(tmp_path), name: value})
