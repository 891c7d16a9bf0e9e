"""Tiny offline images built from Debian's static busybox (no registry needed)."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import io
import struct
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from .compose import CommandFailed, docker_binary, docker_env, run_docker

BUSYBOX_PATH = Path("/bin/busybox")
IMAGE_REPOSITORY = "stackmedic-test/busybox"
IMPORT_CHANGES = ('ENTRYPOINT ["/bin/sh","-c"]',)
_LAYOUT_VERSION = "1"
_LOCK_PATH = Path(tempfile.gettempdir()) / "stackmedic-test-images.lock"
_PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
_GROUP = "root:x:0:\nnogroup:x:65534:\n"


def _is_static_elf(data: bytes) -> bool:
    """True when `data` is a 64-bit little-endian ELF without a PT_INTERP segment."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return False
    phoff = struct.unpack_from("<Q", data, 0x20)[0]
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    pt_interp = 3
    return all(
        struct.unpack_from("<I", data, phoff + i * phentsize)[0] != pt_interp for i in range(phnum)
    )


@functools.cache
def _busybox_bytes() -> bytes:
    if not BUSYBOX_PATH.is_file():
        raise RuntimeError(f"{BUSYBOX_PATH} is missing: run scripts/ensure-system-deps")
    data = BUSYBOX_PATH.read_bytes()
    if not _is_static_elf(data):
        raise RuntimeError(f"{BUSYBOX_PATH} is not statically linked: install busybox-static")
    return data


@functools.cache
def busybox_applets() -> tuple[str, ...]:
    """Names of the applets the host's static busybox provides."""
    out = subprocess.run(
        [str(BUSYBOX_PATH), "--list"], capture_output=True, text=True, check=True, timeout=10
    ).stdout
    return tuple(sorted({name for name in out.split() if name and "/" not in name} - {"busybox"}))


@functools.cache
def busybox_image_name() -> str:
    """Content-addressed NAME:TAG of the busybox test image (changes when busybox changes)."""
    digest = hashlib.sha256()
    digest.update(_LAYOUT_VERSION.encode())
    digest.update(_busybox_bytes())
    digest.update("\n".join(busybox_applets()).encode())
    digest.update("\n".join(IMPORT_CHANGES).encode())
    return f"{IMAGE_REPOSITORY}:{digest.hexdigest()[:12]}"


def _tar_add(tar: tarfile.TarFile, name: str, kind: bytes, mode: int, **extra: object) -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = 0
    data = extra.pop("data", None)
    for key, value in extra.items():
        setattr(info, key, value)
    if isinstance(data, bytes):
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    else:
        tar.addfile(info)


def busybox_rootfs_tar() -> bytes:
    """A root filesystem tar: /bin/busybox, one symlink per applet, minimal /etc and /tmp."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for folder, mode in (("bin", 0o755), ("etc", 0o755), ("root", 0o700), ("tmp", 0o1777)):
            _tar_add(tar, folder, tarfile.DIRTYPE, mode)
        _tar_add(tar, "bin/busybox", tarfile.REGTYPE, 0o755, data=_busybox_bytes())
        for applet in busybox_applets():
            _tar_add(tar, f"bin/{applet}", tarfile.SYMTYPE, 0o777, linkname="busybox")
        _tar_add(tar, "etc/passwd", tarfile.REGTYPE, 0o644, data=_PASSWD.encode())
        _tar_add(tar, "etc/group", tarfile.REGTYPE, 0o644, data=_GROUP.encode())
    return buf.getvalue()


@contextlib.contextmanager
def _image_lock() -> Iterator[None]:
    """Serialise image creation across concurrently running test processes."""
    with open(_LOCK_PATH, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def image_exists(name: str, docker_host: str | None = None) -> bool:
    """True when the daemon at `docker_host` has an image called `name`."""
    result = run_docker(
        "image", "inspect", "--format", "{{.Id}}", name, docker_host=docker_host, check=False
    )
    return result.returncode == 0


def ensure_busybox_image(docker_host: str | None = None) -> str:
    """Import the busybox image into the daemon unless it is already there; return its name."""
    name = busybox_image_name()
    if image_exists(name, docker_host):
        return name
    with _image_lock():
        if not image_exists(name, docker_host):
            changes = [arg for change in IMPORT_CHANGES for arg in ("--change", change)]
            run_docker(
                "import",
                *changes,
                "-",
                name,
                docker_host=docker_host,
                input_bytes=busybox_rootfs_tar(),
                timeout=120,
            )
    return name


def write_build_context(
    folder: Path,
    instructions: Sequence[str] | str = (),
    *,
    base: str,
    files: Mapping[str, str | bytes] | None = None,
) -> Path:
    """Write a Dockerfile `FROM base` plus `instructions` and extra `files` into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [instructions] if isinstance(instructions, str) else list(instructions)
    (folder / "Dockerfile").write_text("\n".join([f"FROM {base}", *lines]) + "\n")
    for rel, content in (files or {}).items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
    return folder


def build_image(
    name: str,
    instructions: Sequence[str] | str = (),
    *,
    base: str | None = None,
    files: Mapping[str, str | bytes] | None = None,
    docker_host: str | None = None,
    timeout: float = 180.0,
) -> str:
    """Build `name` with `docker build` from a Dockerfile based on the busybox image."""
    base = base or ensure_busybox_image(docker_host)
    with tempfile.TemporaryDirectory(prefix="smt-build-") as tmp:
        context = write_build_context(Path(tmp), instructions, base=base, files=files)
        run_docker(
            "build",
            "--quiet",
            "--tag",
            name,
            str(context),
            docker_host=docker_host,
            timeout=timeout,
        )
    return name


def copy_image(
    name: str, *, to_host: str, from_host: str | None = None, timeout: float = 120.0
) -> None:
    """Copy image `name` between daemons with `docker save | docker load`."""
    save_cmd = [docker_binary(), "save", name]
    load_cmd = [docker_binary(), "load", "--quiet"]
    with subprocess.Popen(
        save_cmd, env=docker_env(from_host), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as save:
        assert save.stdout is not None
        load = subprocess.run(
            load_cmd,
            env=docker_env(to_host),
            stdin=save.stdout,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        save.stdout.close()
        save_err = save.stderr.read().decode(errors="replace") if save.stderr else ""
        save_rc = save.wait(timeout=timeout)
    if save_rc != 0:
        raise CommandFailed(save_cmd, save_rc, "", save_err)
    if load.returncode != 0:
        raise CommandFailed(
            load_cmd,
            load.returncode,
            load.stdout.decode(errors="replace"),
            load.stderr.decode(errors="replace"),
        )


def remove_image(name: str, docker_host: str | None = None) -> None:
    """Remove image `name` if present (no error when it is absent)."""
    run_docker("image", "rm", "--force", name, docker_host=docker_host, check=False)
