"""Boot the cgroup v2 test VM once and collect what its guest run left in the ``out`` share.

The image comes from ``scripts/vm-image`` (built once, cached by recipe). qemu runs with
KVM when a short probe boots under it, else with TCG (software emulation); the checkout is
shared read-only over virtio-9p as ``src``, a fresh folder as ``out``. The guest's unit runs
``tests/vm/guest/run`` and powers off; the guest has no network.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KVM_PROBE_SECONDS = 15
BOOT_LIMIT_SECONDS = 3600


@dataclass(frozen=True)
class GuestRun:
    """What one boot left: the out folder, the accelerator used and how long each part took."""

    out: Path
    accel: str
    image_seconds: float
    boot_seconds: float
    exit_code: int

    def console(self, last: int = 80) -> str:
        """The last lines of the guest's console."""
        path = self.out / "console.log"
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        return "\n".join(lines[-last:])


def unavailable() -> str | None:
    """Why the VM tier cannot run on this host, or None."""
    if shutil.which("qemu-system-x86_64") is None:
        return "qemu-system-x86_64 is not installed (Debian package qemu-system-x86)"
    if os.geteuid() != 0:
        return "building the VM image needs root (debootstrap, chroot)"
    if shutil.which("debootstrap") is None:
        return "debootstrap is not installed"
    return None


def build_image() -> tuple[Path, float]:
    """The folder holding vmlinuz, initrd.img and rootfs.img; seconds it took."""
    started = time.monotonic()
    done = subprocess.run([str(REPO / "scripts/vm-image")], capture_output=True, text=True,
                          timeout=3600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"scripts/vm-image failed: {done.stderr.strip()[-3000:]}")
    return Path(done.stdout.strip().splitlines()[-1]), time.monotonic() - started


def kvm_works(image: Path) -> bool:
    """True when a kernel boots under KVM here (on some hosts /dev/kvm opens but hangs)."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    argv = ["qemu-system-x86_64", "-accel", "kvm", "-m", "256", "-display", "none",
            "-no-reboot", "-serial", "stdio", "-monitor", "none", "-nic", "none",
            "-kernel", str(image / "vmlinuz"), "-append", "console=ttyS0 panic=-1"]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=KVM_PROBE_SECONDS,
                              stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired as hung:
        return b"Linux version" in (hung.stdout or b"")
    return b"Linux version" in done.stdout


def boot(image: Path, out: Path, accel: str, *, cpus: int = 2, memory_mb: int = 3072) -> int:
    """Boot the guest with ``out`` shared; wait for its power-off; qemu's exit code."""
    argv = [
        "qemu-system-x86_64", "-accel", accel, "-smp", str(cpus), "-m", str(memory_mb),
        "-display", "none", "-monitor", "none", "-no-reboot", "-nic", "none",
        "-serial", f"file:{out / 'console.log'}",
        "-kernel", str(image / "vmlinuz"), "-initrd", str(image / "initrd.img"),
        "-drive", f"file={image / 'rootfs.img'},format=raw,if=virtio,snapshot=on",
        "-virtfs", f"local,path={REPO},mount_tag=src,security_model=none,readonly=on",
        "-virtfs", f"local,path={out},mount_tag=out,security_model=none",
        "-append", "console=ttyS0 root=/dev/vda rw apparmor=0 stackmedic.run "
                   "systemd.show_status=0 quiet",
    ]
    if accel == "kvm":
        argv += ["-cpu", "host"]
    finished = out / "finished"
    with (out / "qemu.err").open("wb") as errors:
        qemu = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=errors, stderr=errors)
        deadline = time.monotonic() + BOOT_LIMIT_SECONDS
        # The guest's disk is a throw-away snapshot: once its results are written there is
        # nothing to wait for in a clean power-off.
        while qemu.poll() is None and not finished.exists() and time.monotonic() < deadline:
            with contextlib.suppress(subprocess.TimeoutExpired):
                qemu.wait(timeout=1)  # a guest that powers off ends the wait at once
        if qemu.poll() is None:
            qemu.kill()
        code = qemu.wait()  # reaped in every case: a killed guest is no zombie
        return 0 if finished.exists() else code


def run_guest(setups: list[str], *, record: bool = True, pytest_args: str = "",
              out: Path | None = None) -> GuestRun:
    """Build or find the image, boot it once running ``setups`` in turn, return the run."""
    image, image_seconds = build_image()
    folder = out or Path(tempfile.mkdtemp(prefix="stackmedic-vm-"))
    folder.chmod(0o755)
    (folder / "request.env").write_text(
        f"SETUPS='{' '.join(setups)}'\nRECORD='{'1' if record else ''}'\n"
        f"PYTEST_ARGS='{pytest_args}'\n")
    accel = os.environ.get("STACKMEDIC_VM_ACCEL") or ("kvm" if kvm_works(image) else "tcg")
    started = time.monotonic()
    code = boot(image, folder, accel)
    return GuestRun(folder, accel, image_seconds, time.monotonic() - started, code)
