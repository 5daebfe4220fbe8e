"""rasa train's output read as phases and epoch progress; a failed run explained in one line."""

from __future__ import annotations

import io
from pathlib import Path

from training.console import ConsoleProgress
from training.progress import ProgressTracker, failure_reason, readable_lines, split_output

CONFIG = (Path(__file__).parent / "project" / "config.yml").read_text(encoding="utf-8")

# Real rasa train output (tests/training/project), trimmed: tqdm redraws its bar with carriage returns.
OUTPUT = (
    "2026-12-02 06:04:23 INFO     rasa.cli.train  - Started validating domain and training data...\n"
    "/venv/site-packages/pkg_resources/__init__.py:3117: DeprecationWarning: Deprecated call\n"
    "2026-12-02 06:04:26 INFO     rasa.engine.training.hooks  - Starting to train component 'JiebaTokenizer'.\n"
    "2026-12-02 06:04:26 INFO     rasa.engine.training.hooks  - Finished training component 'JiebaTokenizer'.\n"
    "2026-12-02 06:04:26 INFO     rasa.engine.training.hooks  - Starting to train component 'CountVectorsFeaturizer'.\n"
    "2026-12-02 06:04:26 INFO     rasa.engine.training.hooks  - Finished training component 'CountVectorsFeaturizer'.\n"
    "2026-12-02 06:04:26 INFO     rasa.engine.training.hooks  - Starting to train component 'DIETClassifier'.\n"
    "Epochs:   0%|          | 0/40 [00:00<?, ?it/s]\r"
    "Epochs:   2%|▎         | 1/40 [00:03<02:11,  3.36s/it, t_loss=5.46, i_acc=0.5]\r"
    "Epochs:  38%|███▊      | 15/40 [00:03<00:03,  6.35it/s, t_loss=3.38, i_acc=1]    \r"
    "Epochs: 100%|██████████| 40/40 [00:05<00:00,  7.58it/s, t_loss=1.08, i_acc=1]\n"
    "2026-12-02 06:04:32 INFO     rasa.engine.training.hooks  - Finished training component 'DIETClassifier'.\n"
    "2026-12-02 06:04:32 INFO     rasa.engine.training.hooks  - Starting to train component 'RulePolicy'.\n"
    "2026-12-02 06:04:32 INFO     rasa.engine.training.hooks  - Finished training component 'RulePolicy'.\n"
    "\x1b[92mYour Rasa model is trained and saved at '/tmp/m.tar.gz'.\x1b[0m\n"
)


def feed_all(tracker: ProgressTracker, output: str) -> list[tuple[str, float, int | None, int | None]]:
    seen = []
    for line in split_output(output):
        if tracker.feed(line):
            p = tracker.progress
            seen.append((p.phase, p.percent, p.epoch, p.epochs))
    return seen


def test_the_tracker_reports_phases_components_and_epochs_in_order() -> None:
    tracker = ProgressTracker.for_config_text(CONFIG)
    assert tracker.components == [
        "JiebaTokenizer",
        "CountVectorsFeaturizer",
        "DIETClassifier",
        "RulePolicy",
        "MemoizationPolicy",
    ]
    seen = feed_all(tracker, OUTPUT)
    phases = [phase for phase, *_ in seen]
    assert phases[0] == "validating"
    assert "training" in phases
    assert phases[-1] == "saving"
    epochs = [(epoch, total) for _, _, epoch, total in seen if total]
    assert epochs == [(0, 40), (1, 40), (15, 40), (40, 40)]
    percents = [percent for _, percent, *_ in seen]
    assert percents == sorted(percents), "the overall percent never goes back"
    assert 10 < percents[phases.index("training") + 3] < 88


def test_epoch_progress_moves_the_percent_within_the_diet_component() -> None:
    tracker = ProgressTracker.for_config_text(CONFIG)
    feed_all(tracker, OUTPUT.split("Epochs:   2%")[0])
    before = tracker.progress.percent
    tracker.feed("Epochs:  50%|█████     | 20/40 [00:04<00:01, 11.76it/s, t_loss=2.7, i_acc=0.933]")
    assert tracker.progress.component == "DIETClassifier"
    assert (tracker.progress.epoch, tracker.progress.epochs) == (20, 40)
    assert tracker.progress.percent > before


def test_repeated_bar_redraws_of_the_same_epoch_are_not_a_change() -> None:
    tracker = ProgressTracker.for_config_text(CONFIG)
    assert tracker.feed("Epochs:  10%|█         | 4/40 [00:03<00:24,  1.48it/s, t_loss=4.71]")
    assert not tracker.feed("Epochs:  10%|█         | 4/40 [00:03<00:24,  1.48it/s, t_loss=4.51, i_acc=0.533]")


def test_readable_lines_drop_warnings_bars_and_colour_codes() -> None:
    lines = readable_lines(split_output(OUTPUT))
    assert not any("Warning" in line or "Epochs:" in line or "\x1b" in line for line in lines)
    assert lines[-1] == "Your Rasa model is trained and saved at '/tmp/m.tar.gz'."


def test_a_yaml_error_is_explained_with_its_file_and_line() -> None:
    output = [
        "2026-12-02 06:20:01 INFO     rasa.cli.train  - Started validating domain and training data...",
        "/venv/lib/python3.10/site-packages/rasa/shared/utils/io.py:99: UserWarning: something",
        "YamlSyntaxException: Failed to read '/work/job-3/project/data/nlu.yml'. while parsing a block mapping",
        '  in "<unicode string>", line 4, column 5',
        "expected <block end>, but found '<block sequence start>'",
        '  in "<unicode string>", line 6, column 5',
    ]
    reason = failure_reason(output)
    assert reason.startswith("YamlSyntaxException: Failed to read '/work/job-3/project/data/nlu.yml'")
    assert "line 4" in reason


def test_a_run_without_an_error_line_reports_its_last_words() -> None:
    assert failure_reason(["INFO starting", "Killed"]) == "Killed"
    assert failure_reason([]) == "rasa train stopped without saying why"


def test_the_console_prints_a_line_per_phase_and_an_epoch_bar() -> None:
    stream = io.StringIO()
    console = ConsoleProgress(stream)
    tracker = ProgressTracker.for_config_text(CONFIG)
    for line in split_output(OUTPUT):
        if tracker.feed(line):
            console(tracker.progress)
    text = stream.getvalue()
    assert "[train] validating the domain and the training data" in text
    assert "[train] training DIETClassifier (3/5)" in text
    assert "[####" in text and "40/40 epochs" in text
    assert "Warning" not in text and "t_loss" not in text


def test_a_component_listed_twice_counts_twice() -> None:
    config = "pipeline:\n  - name: CountVectorsFeaturizer\n  - name: CountVectorsFeaturizer\n  - name: DIETClassifier\n"
    tracker = ProgressTracker.for_config_text(config)
    for _ in range(2):
        tracker.feed("INFO hooks - Starting to train component 'CountVectorsFeaturizer'.")
        tracker.feed("INFO hooks - Finished training component 'CountVectorsFeaturizer'.")
    assert tracker.progress.components_done == 2
    tracker.feed("INFO hooks - Finished training component 'CountVectorsFeaturizer'.")
    assert tracker.progress.components_done == 2
