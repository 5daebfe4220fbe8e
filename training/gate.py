"""The regression gate: a new model may go live only if it is not worse than the live one.

Default: macro-F1 may not drop by more than 1 point, and no test story that passes with the live model
may fail with the new one (TRAINING_GATE_* settings). Each reason is a code plus the numbers behind it,
so the console can word it in Chinese.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class GateConfig:
    max_macro_f1_drop_points: float = 1.0
    allow_new_story_failures: bool = False


def _macro_f1(evaluation: dict[str, Any] | None) -> float | None:
    nlu = (evaluation or {}).get("nlu")
    return float(nlu["macro_f1"]) if isinstance(nlu, dict) and "macro_f1" in nlu else None


def _failed_stories(evaluation: dict[str, Any] | None) -> set[str] | None:
    stories = (evaluation or {}).get("stories")
    return set(stories.get("failed") or []) if isinstance(stories, dict) else None


def gate_reasons(
    candidate: dict[str, Any] | None, live: dict[str, Any] | None, config: GateConfig
) -> list[dict[str, Any]]:
    """Why `candidate` may not replace `live` (empty: it may). Without a live evaluation every failing story is new."""
    if not candidate or (_macro_f1(candidate) is None and _failed_stories(candidate) is None):
        return [{"code": "not_evaluated", "message": "the new model has no evaluation"}]
    reasons: list[dict[str, Any]] = []
    new_f1, old_f1 = _macro_f1(candidate), _macro_f1(live)
    if new_f1 is not None and old_f1 is not None:
        drop = round((old_f1 - new_f1) * 100, 2)
        if drop > config.max_macro_f1_drop_points:
            reasons.append(
                {
                    "code": "macro_f1_drop",
                    "message": f"macro-F1 drops by {drop} points ({old_f1:.4f} -> {new_f1:.4f}); "
                    f"at most {config.max_macro_f1_drop_points} allowed",
                    "live": old_f1,
                    "candidate": new_f1,
                    "drop_points": drop,
                    "max_drop_points": config.max_macro_f1_drop_points,
                }
            )
    new_failed, old_failed = _failed_stories(candidate), _failed_stories(live)
    if new_failed is not None and not config.allow_new_story_failures:
        newly = sorted(new_failed - (old_failed or set()))
        if newly:
            reasons.append(
                {
                    "code": "new_story_failures",
                    "message": f"{len(newly)} test stories fail that passed before: {', '.join(newly)}",
                    "stories": newly,
                }
            )
    return reasons
