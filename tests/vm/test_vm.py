"""The cgroup v2 tier: a real v2 kernel booted in qemu runs each engine set-up's live tests.

One boot runs the chosen set-ups in turn (``tests/vm/guest/run``); each host test here passes
when its set-up's guest tests passed, and says which failed and why. Each set-up's cgroup
files are recorded again at every run and must match the layout of the checked-in fixture.
Where qemu cannot run here, every test skips naming why.
"""

from __future__ import annotations

import json
import os
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from .guest.setups import SETUPS
from .machine import REPO, GuestRun, run_guest, unavailable

FIXTURES = REPO / "tests/resources/fixtures"
pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(3600)]
# The set-ups run by default: those whose whole live test has passed in the VM. The others
# run when named (STACKMEDIC_VM_SETUPS="all" or a list); until then they skip, saying why.
DEFAULT = ("docker-systemd", "docker-cgroupfs", "docker-rootless", "podman-systemd",
           "podman-rootless")
NOT_YET = ("its live test has not yet passed in the VM (run it with "
           "STACKMEDIC_VM_SETUPS=all)")


def chosen() -> list[str]:
    """The set-ups this run boots the VM for."""
    asked = os.environ.get("STACKMEDIC_VM_SETUPS", " ".join(DEFAULT)).split()
    return list(SETUPS) if asked == ["all"] else [n for n in asked if n in SETUPS]


def skip_unless_chosen(name: str) -> None:
    if name not in chosen():
        pytest.skip(f"{name}: {NOT_YET if name not in DEFAULT else 'not asked for'}")


@pytest.fixture(scope="module")
def guest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GuestRun]:
    """One boot of the VM running every set-up; skipped with the reason where it cannot run."""
    why = unavailable()
    if why is not None:
        pytest.skip(f"VM tier not run: {why}")
    out = tmp_path_factory.mktemp("vm-out")
    run = run_guest(chosen(), out=out)
    print(f"vm: accel {run.accel}, image {run.image_seconds:.0f} s, "
          f"boot and guest {run.boot_seconds:.0f} s")
    keep = os.environ.get("STACKMEDIC_VM_KEEP")
    if keep:
        shutil.copytree(out, keep, dirs_exist_ok=True)
    yield run


def _cases(report: Path) -> list[ET.Element]:
    return list(ET.parse(report).getroot().iter("testcase"))


@pytest.mark.parametrize("name", list(SETUPS))
def test_setup_passes_its_live_tests(name: str, request: pytest.FixtureRequest) -> None:
    skip_unless_chosen(name)
    guest: GuestRun = request.getfixturevalue("guest")
    report = guest.out / "results" / "guest.xml"
    assert report.exists(), f"no test report from the guest (qemu exit {guest.exit_code})\n" \
                            f"{guest.console()}"
    cases = [c for c in _cases(report) if (c.get("name") or "").endswith(f"[{name}]")]
    failed = [(c.get("name"), (bad.get("message") or "") + "\n" + (bad.text or "")[-3000:])
              for c in cases for bad in (*c.iter("failure"), *c.iter("error"))]
    skipped = [c.get("name") for c in cases if c.find("skipped") is not None]
    assert cases and not failed and not skipped, (failed, skipped)


@pytest.mark.parametrize("name", list(SETUPS))
def test_recording_matches_the_checked_in_fixture(
    name: str, request: pytest.FixtureRequest
) -> None:
    """The layout a real v2 host gives today is the one the fixture tests read (and, for a
    recorded fixture, the same files)."""
    skip_unless_chosen(name)
    guest: GuestRun = request.getfixturevalue("guest")
    setup = SETUPS[name]
    recorded = guest.out / "fixtures" / setup.fixture
    assert (recorded / "metadata.json").exists(), guest.console()
    fresh = json.loads((recorded / "metadata.json").read_text())
    kept = json.loads((FIXTURES / setup.fixture / "metadata.json").read_text())

    def shape(meta: dict[str, object], folder: Path) -> tuple[object, ...]:
        container = meta["container"]
        assert isinstance(container, dict)
        cid = str(container["id"])
        files = sorted(str(p.relative_to(folder / "tree")).replace(cid, "<id>")
                       for p in (folder / "tree").rglob("*") if p.is_file())
        engine = meta["engine"]
        assert isinstance(engine, dict)
        return (str(container["cgroup"]).replace(cid, "<id>"), engine["cgroup_driver"],
                engine["rootless"], files)

    now, then = shape(fresh, recorded), shape(kept, FIXTURES / setup.fixture)
    if kept["how"] == "recorded":
        assert now == then
    else:  # a constructed tree: the same place, driver and mode
        assert now[:3] == then[:3]
