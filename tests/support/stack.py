"""The local stack (scripts/stack.sh) in a directory of the test's own, never the developer's .run/."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from voicebot_stack import supervisord
from voicebot_stack.paths import REPO_ROOT

STACK_SH = REPO_ROOT / "scripts" / "stack.sh"


class LocalStack:
    def __init__(self, base: Path, *, factory: str | None = None, timeout: float = 240.0) -> None:
        self.dir = Path(base) / "stack"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("VOICEBOT_STACK_")},
            "VOICEBOT_STACK_DIR": str(self.dir),
            "VOICEBOT_CERTS_DIR": str(Path(base) / "certs"),
            "VOICEBOT_STACK_TIMEOUT": str(timeout),
        }
        if factory:
            self.env["VOICEBOT_STACK_ORCHESTRATOR_FACTORY"] = factory
        self.timeout = timeout

    def run(self, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(STACK_SH), command], env=self.env, capture_output=True, text=True, timeout=self.timeout + 60
        )

    def up(self) -> subprocess.CompletedProcess[str]:
        return self.run("up")

    def down(self) -> subprocess.CompletedProcess[str]:
        return self.run("down")

    def values(self) -> dict[str, str]:
        """The stack's env file (ports, URLs)."""
        lines = (self.dir / "env").read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line)

    def supervisor(self) -> Any:
        return supervisord.rpc(self.dir / "supervisor.sock")

    def processes(self) -> dict[str, dict[str, Any]]:
        return {p["name"]: p for p in self.supervisor().getAllProcessInfo()}

    def supervisord_pid(self) -> int | None:
        path = self.dir / "supervisord.pid"
        return int(path.read_text()) if path.exists() else None
