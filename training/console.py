"""What `make run` prints while it trains: a line per phase and a progress bar for the epochs."""

from __future__ import annotations

import sys
from typing import TextIO

from training.progress import Progress

BAR_WIDTH = 30
PHASE_LINES = {
    "validating": "validating the domain and the training data",
    "saving": "saving the model",
    "evaluating": "evaluating the model",
    "done": "done",
}


class ConsoleProgress:
    """A progress callback for training.rasa_cli.train that writes to a terminal (or a plain log)."""

    def __init__(self, stream: TextIO | None = None, prefix: str = "[train]") -> None:
        self.stream = stream or sys.stdout
        self.prefix = prefix
        self.tty = self.stream.isatty()
        self._last_phase: str | None = None
        self._last_component: str | None = None
        self._last_quarter = -1
        self._bar_open = False

    def _line(self, text: str) -> None:
        if self._bar_open:
            self.stream.write("\n")
            self._bar_open = False
        self.stream.write(f"{self.prefix} {text}\n")
        self.stream.flush()

    def __call__(self, progress: Progress, log_tail: str = "") -> None:
        if progress.phase != self._last_phase and progress.phase in PHASE_LINES:
            self._line(PHASE_LINES[progress.phase])
        self._last_phase = progress.phase
        if progress.component and progress.component != self._last_component:
            self._last_component = progress.component
            self._last_quarter = -1
            done, total = progress.components_done, progress.components_total
            self._line(
                f"training {progress.component} ({done + 1}/{total})" if total else f"training {progress.component}"
            )
        if progress.epochs:
            self._bar(progress)

    def _bar(self, progress: Progress) -> None:
        epoch, epochs = progress.epoch or 0, progress.epochs or 1
        filled = BAR_WIDTH * epoch // epochs
        bar = f"{self.prefix}   [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {epoch}/{epochs} epochs"
        if self.tty:
            self.stream.write(f"\r{bar}")
            self._bar_open = True
            self.stream.flush()
            return
        quarter = 4 * epoch // epochs  # a plain log gets a line at 0, 25, 50, 75 and 100 %
        if quarter != self._last_quarter:
            self._last_quarter = quarter
            self._line(bar.removeprefix(f"{self.prefix} ").strip())

    def finish(self, text: str) -> None:
        self._line(text)
