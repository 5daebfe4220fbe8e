"""Who may put which model live: the regression gate, the supervisor's override, rollback."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from training import store
from training.gate import GateConfig, gate_reasons
from training.settings import TrainingSettings

OVERRIDE_ROLES = frozenset({"supervisor"})


class ModelNotFoundError(LookupError):
    pass


class ModelFileMissingError(LookupError):
    pass


class GateBlockedError(Exception):
    """The gate refuses the model; `reasons` say why, `may_override` whether this user could override."""

    def __init__(self, reasons: list[dict[str, Any]], *, may_override: bool) -> None:
        super().__init__("; ".join(str(reason.get("message")) for reason in reasons))
        self.reasons = reasons
        self.may_override = may_override


class OverrideForbiddenError(Exception):
    def __init__(self, reasons: list[dict[str, Any]]) -> None:
        super().__init__("only a supervisor may override the regression gate")
        self.reasons = reasons


@dataclass(frozen=True)
class DeployPlan:
    """What a deployment will do once every Rasa process has loaded the model."""

    model: store.ModelOut
    kind: str
    gate_reasons: list[dict[str, Any]] = field(default_factory=list)
    override_reason: str | None = None


def gate_config(settings: TrainingSettings) -> GateConfig:
    return GateConfig(settings.gate_max_macro_f1_drop_points, settings.gate_allow_new_story_failures)


def plan_deploy(
    session: Session, model_id: int, *, role: str, override_reason: str | None, settings: TrainingSettings
) -> DeployPlan:
    """Checks the gate for `model_id` against the live model; raises when it may not go live."""
    model = store.get_model(session, model_id)
    if model is None:
        raise ModelNotFoundError(f"model {model_id} does not exist")
    if not Path(model.path).exists():
        raise ModelFileMissingError(f"the file of model {model_id} is gone: {model.path}")
    if store.was_live(session, model_id):
        return DeployPlan(model, "rollback")  # it was live before: going back needs no gate
    live = store.live_model(session)
    reasons = gate_reasons(model.evaluation, live.evaluation if live else None, gate_config(settings))
    if not reasons:
        return DeployPlan(model, "deploy")
    reason = (override_reason or "").strip()
    if not reason:
        raise GateBlockedError(reasons, may_override=role in OVERRIDE_ROLES)
    if role not in OVERRIDE_ROLES:
        raise OverrideForbiddenError(reasons)
    return DeployPlan(model, "deploy", reasons, reason)
