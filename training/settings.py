"""Settings of the training loop (TRAINING_* environment variables); the regression gate is configured here."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.settings import PROJECT_ROOT, VAR_DIR


class TrainingSettings(BaseSettings):
    """Where the training inputs and outputs live and how strict the regression gate is."""

    model_config = SettingsConfigDict(env_prefix="TRAINING_", env_file=PROJECT_ROOT / ".env", extra="ignore")

    # The project whose config.yml, domain.yml, data/ and bot/ are trained (tests point it at a small one).
    project_dir: Path = PROJECT_ROOT
    models_dir: Path = PROJECT_ROOT / "models"
    work_dir: Path = VAR_DIR / "training"
    log_dir: Path = VAR_DIR / "log"
    # Test sets, relative to project_dir: NLU examples and test stories (`rasa test core`).
    nlu_test_set: str = "tests/nlu/test_nlu.yml"
    story_tests: str = "tests/stories"
    # The gate: macro-F1 may drop at most this many points (of 100); test stories may not newly fail.
    gate_max_macro_f1_drop_points: float = Field(default=1.0, ge=0)
    gate_allow_new_story_failures: bool = False
    # "module:function" returning the ops-edited files {relative path: text} for a session; "none": train
    # the repository files only; "auto": the ops console's content service when it is installed, else none.
    overrides_provider: str = "auto"
    # A running job whose worker has not written for this long is declared dead by the next claim.
    stale_job_minutes: float = Field(default=30.0, gt=0)
    deploy_timeout_seconds: float = 600.0


@lru_cache
def get_training_settings() -> TrainingSettings:
    return TrainingSettings()
