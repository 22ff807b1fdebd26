"""A partner adapter as a process of its own (``ccpor-hub adapter KIND CONFIG``), with its JSON log."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

from hub.runner import cli_path


class AdapterProcess:
    def __init__(self, kind: str, config: Path, log: Path) -> None:
        self.kind, self.config, self.log = kind, config, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> AdapterProcess:
        with open(self.log, "ab") as out:
            argv = [cli_path(), "adapter", self.kind, str(self.config)]
            self.process = subprocess.Popen(argv, stdout=out, stderr=out)
        return self

    def stop(self) -> int:
        """SIGTERM, and the exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=30)

    def events(self, name: str | None = None) -> list[dict[str, object]]:
        lines = self.log.read_text(encoding="utf-8").splitlines() if self.log.exists() else []
        return [e for e in (json.loads(x) for x in lines if x.startswith("{")) if name is None or e["event"] == name]

    def status(self) -> str:
        done = subprocess.run(
            [cli_path(), "adapter", self.kind, str(self.config), "status"], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout
