"""Reads `rasa train`'s output as phases and epoch progress (what the ops page and `make run` show)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import yaml

# Phases in the order a job goes through them; the percent each starts at.
PHASE_START = {
    "queued": 0.0,
    "exporting": 2.0,
    "validating": 5.0,
    "training": 10.0,
    "saving": 88.0,
    "evaluating": 90.0,
    "done": 100.0,
}
TRAINING_SPAN = PHASE_START["saving"] - PHASE_START["training"]
# Components that train for epochs weigh this much more than a featurizer or a tokenizer.
EPOCH_COMPONENT_WEIGHT = 10

_VALIDATING = re.compile(r"Started validating domain and training data")
_COMPONENT_START = re.compile(r"Starting to train component '([^']+)'")
_COMPONENT_DONE = re.compile(r"Finished training component '([^']+)'")
# tqdm's bar, e.g. "Epochs:  37%|███▋      | 37/100 [00:01<00:02, 30.1it/s, t_loss=1.2]"
_EPOCHS = re.compile(r"Epochs:\s*(\d+)%\|[^|]*\|\s*(\d+)/(\d+)")
_SAVED = re.compile(r"Your Rasa model is trained and saved at|Nothing changed\. You can use the old model")
_NOISE = re.compile(
    r"Warning|warnings\.warn|^\s*(from|import) |declare_namespace|Implementing implicit namespace|"
    r"setParseAction|parseString|resetCache|raise_warning|^\s*Base: DeclarativeMeta|^\s*\)\.|"
    r"^\x1b\[0m$|Processed (rules|story blocks|trackers)|Epochs:|Building prefix dict|Loading model|"
    r"Prefix dict has been built|Processed actions"
)
_ERROR = re.compile(r"(Error|Exception|error:|ERROR)\b")


def split_output(chunk: str) -> list[str]:
    """tqdm redraws its bar with carriage returns: each redraw is a line of its own."""
    return [line for line in re.split(r"[\r\n]+", chunk) if line.strip()]


def component_names(config: Mapping[str, Any]) -> list[str]:
    """The components and policies a config trains, in order (pipeline first, as Rasa trains them)."""
    names: list[str] = []
    for section in ("pipeline", "policies"):
        for item in config.get(section) or []:
            if isinstance(item, Mapping) and isinstance(item.get("name"), str):
                names.append(item["name"])
    return names


EPOCH_TRAINED = {"DIETClassifier", "ResponseSelector", "TEDPolicy", "UnexpecTEDIntentPolicy"}


def epoch_components(config: Mapping[str, Any]) -> set[str]:
    """The components that train for epochs (they take most of the time)."""
    return {
        item["name"]
        for section in ("pipeline", "policies")
        for item in config.get(section) or []
        if isinstance(item, Mapping) and ("epochs" in item or item.get("name") in EPOCH_TRAINED)
    }


@dataclass
class Progress:
    """One snapshot: the phase, the component being trained, its epochs and the overall percent."""

    phase: str = "queued"
    percent: float = 0.0
    component: str | None = None
    epoch: int | None = None
    epochs: int | None = None
    components_done: int = 0
    components_total: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ProgressTracker:
    """Feed it rasa train's output line by line; `progress` is always the latest state."""

    components: list[str] = field(default_factory=list)
    epoch_weighted: set[str] = field(default_factory=set)
    progress: Progress = field(default_factory=Progress)
    _done: list[str] = field(default_factory=list)

    @classmethod
    def for_config_text(cls, config_text: str) -> ProgressTracker:
        config = yaml.safe_load(config_text) or {}
        if not isinstance(config, Mapping):
            config = {}
        tracker = cls(component_names(config), epoch_components(config))
        tracker.progress.components_total = len(tracker.components)
        return tracker

    def _weight(self, name: str) -> int:
        return EPOCH_COMPONENT_WEIGHT if name in self.epoch_weighted else 1

    def _training_percent(self) -> float:
        total = sum(self._weight(name) for name in self.components) or 1
        done: float = sum(self._weight(name) for name in self._done)
        current = self.progress.component
        if current is not None and self.progress.epochs:
            done += self._weight(current) * (self.progress.epoch or 0) / self.progress.epochs
        return PHASE_START["training"] + TRAINING_SPAN * min(done / total, 1.0)

    def set_phase(self, phase: str) -> Progress:
        self.progress.phase = phase
        self.progress.percent = max(self.progress.percent, PHASE_START.get(phase, self.progress.percent))
        if phase != "training":
            self.progress.component = self.progress.epoch = self.progress.epochs = None
        return self.progress

    def feed(self, line: str) -> bool:
        """Reads one line; True when the progress changed."""
        if _VALIDATING.search(line):
            self.set_phase("validating")
            return True
        if match := _COMPONENT_START.search(line):
            self.set_phase("training")
            self.progress.component = match.group(1)
            self.progress.epoch = self.progress.epochs = None
            self.progress.percent = max(self.progress.percent, self._training_percent())
            return True
        if match := _EPOCHS.search(line):
            epoch, epochs = int(match.group(2)), int(match.group(3))
            if (epoch, epochs) == (self.progress.epoch, self.progress.epochs):
                return False
            if self.progress.phase != "training":
                self.set_phase("training")
            self.progress.epoch, self.progress.epochs = epoch, epochs
            self.progress.percent = max(self.progress.percent, self._training_percent())
            return True
        if match := _COMPONENT_DONE.search(line):
            name = match.group(1)
            # A name may appear twice (two CountVectorsFeaturizers): count finishes, not names.
            if self._done.count(name) < self.components.count(name):
                self._done.append(name)
            self.progress.components_done = len(self._done)
            self.progress.epoch = self.progress.epochs = None
            self.progress.percent = max(self.progress.percent, self._training_percent())
            return True
        if _SAVED.search(line):
            self.set_phase("saving")
            return True
        return False


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def readable_lines(lines: Iterable[str]) -> list[str]:
    """The lines a person wants to read: no colour codes, progress-bar redraws or deprecation warnings."""
    cleaned = (_ANSI.sub("", line).rstrip() for line in lines)
    return [line for line in cleaned if line.strip() and not _NOISE.search(line)]


def failure_reason(lines: list[str]) -> str:
    """The last error line of a failed run, in plain words (e.g. a YAML error with its file and line)."""
    readable = readable_lines(lines)
    for index in range(len(readable) - 1, -1, -1):
        if _ERROR.search(readable[index]):
            reason = readable[index].strip()
            # Rasa's YAML errors put the file and line on the lines after the exception's first line.
            details = [line.strip() for line in readable[index + 1 : index + 4] if "line" in line or "in " in line]
            return " ".join([reason, *details])[:1000]
    return readable[-1].strip()[:1000] if readable else "rasa train stopped without saying why"
