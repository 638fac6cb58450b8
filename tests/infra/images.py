"""Run a built image's entrypoint without a container runtime: `podman image mount` + chroot.

`podman run` is refused on our machines (crun cannot set rlimits), but an image is only files:
mount it, give it /proc, /dev and a private /tmp in a mount namespace of its own (so nothing is
written into the image), and start its command under chroot as the image's user, with the
image's environment and working directory. Network is the host's: the service binds loopback."""

from __future__ import annotations

import json
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.procs import Proc

PODMAN = ["podman", "--storage-driver", "vfs"]


@dataclass(frozen=True)
class ImageConfig:
    env: dict[str, str]
    workdir: str
    command: list[str]
    user: str


def image_exists(image: str) -> bool:
    return subprocess.run([*PODMAN, "image", "exists", image], check=False).returncode == 0


def image_config(image: str) -> ImageConfig:
    out = subprocess.run([*PODMAN, "image", "inspect", image], capture_output=True, text=True, check=True)
    config = json.loads(out.stdout)[0]["Config"]
    env = dict(item.split("=", 1) for item in config.get("Env") or [])
    command = [*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])]
    return ImageConfig(env, config.get("WorkingDir") or "/", command, config.get("User") or "0")


def mount_image(image: str) -> Path:
    out = subprocess.run([*PODMAN, "image", "mount", image], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def unmount_image(image: str) -> None:
    subprocess.run([*PODMAN, "image", "unmount", image], capture_output=True, check=False)


def chroot_proc(name: str, root: Path, config: ImageConfig, env: dict[str, str], log_dir: Path) -> Proc:
    """The image's command under chroot, as its user, with its env plus `env` (not started)."""
    user = config.user if ":" in config.user else f"{config.user}:{config.user}"
    assignments = [f"{k}={v}" for k, v in {**config.env, **env}.items()]
    inner = (
        f"cd {shlex.quote(config.workdir)} && exec /usr/bin/env -i {shlex.join(assignments)} "
        f"{shlex.join(config.command)}"
    )
    r = shlex.quote(str(root))
    script = (
        f"mount --make-rprivate / && mount -t proc proc {r}/proc && mount --rbind /dev {r}/dev "
        f"&& mount -t tmpfs tmpfs {r}/tmp "
        f"&& exec chroot --userspec={user} {r} /bin/sh -c {shlex.quote(inner)}"
    )
    return Proc(name, ["unshare", "--mount", "--pid", "--fork", "sh", "-c", script], log_dir=log_dir, env={})
