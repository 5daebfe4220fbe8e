"""bench.run.prepare_model: (a) is the run's own training, installed as the project model when missing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench import edits, run
from stack.model import model_path_for


@pytest.fixture
def trained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Replaces `rasa train` with a fake model file; the project copy is real. Returns the models dir."""

    def fake_full_training(workdir: Path) -> tuple[dict[str, Any], Path, Path]:
        project = edits.copy_project_inputs(workdir / "project")
        model = workdir / "models" / "full.tar.gz"
        model.parent.mkdir(parents=True)
        model.write_bytes(b"model trained in this run")
        return {"seconds": 12.5}, project, model

    models_dir = tmp_path / "models"
    monkeypatch.setattr(run.edits, "full_training", fake_full_training)
    monkeypatch.setattr(run, "model_path_for", lambda fingerprint: model_path_for(fingerprint, models_dir))
    return models_dir


def test_a_fresh_clone_gets_the_runs_model_installed(trained: Path, tmp_path: Path) -> None:
    results: dict[str, Any] = {}
    model, project = run.prepare_model(run.parse_args([]), tmp_path / "work", results)
    assert model.read_bytes() == b"model trained in this run"
    assert project is not None and (project / "config.yml").exists()
    installed = list(trained.glob("model-*.tar.gz"))
    assert [p.name for p in installed] == [results["model"]["installed_as"]]
    assert installed[0].read_bytes() == b"model trained in this run"
    assert results["training"]["full"]["seconds"] == 12.5


def test_an_existing_project_model_is_left_as_it_is(trained: Path, tmp_path: Path) -> None:
    existing = model_path_for(run.training_fingerprint(), trained)
    existing.parent.mkdir(parents=True)
    existing.write_bytes(b"trained earlier")
    results: dict[str, Any] = {}
    model, _ = run.prepare_model(run.parse_args([]), tmp_path / "work", results)
    assert model.read_bytes() == b"model trained in this run"  # benchmarked: this run's training
    assert existing.read_bytes() == b"trained earlier" and "installed_as" not in results["model"]


def test_a_given_model_is_benchmarked_without_training(trained: Path, tmp_path: Path) -> None:
    given = tmp_path / "given.tar.gz"
    given.write_bytes(b"given")
    results: dict[str, Any] = {}
    model, project = run.prepare_model(run.parse_args(["--model", str(given)]), tmp_path / "work", results)
    assert (model, project) == (given, None)
    assert "training" not in results and not trained.exists()
