"""PNG charts of a results JSON (rasa env: matplotlib + numpy).

Usage: python -m bench.charts bench/results/latest.json bench/results/
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from bench.report import SYSTEM_TITLES


def latency_chart(serving: dict[str, Any], out: Path, name: str, title: str) -> Path:
    figure, (hist, cdf) = plt.subplots(1, 2, figsize=(12, 4.5))
    for target, colour in (
        ("full_stack", "tab:blue"),
        ("stack_rasa", "tab:green"),
        ("bare_rasa", "tab:orange"),
    ):
        values = np.array(serving.get("latencies", {}).get(target, [])) * 1000
        if not values.size:
            continue
        hist.hist(values, bins=40, alpha=0.6, color=colour, label=target)
        ordered = np.sort(values)
        cdf.plot(ordered, np.arange(1, ordered.size + 1) / ordered.size, color=colour, label=target)
        for q, style in ((50, "--"), (99, ":")):
            cdf.axvline(np.percentile(values, q), color=colour, linestyle=style, linewidth=0.8)
    hist.set(xlabel="reply latency (ms)", ylabel="messages", title="Latency distribution")
    cdf.set(
        xlabel="reply latency (ms)",
        ylabel="fraction of messages",
        xscale="log",
        title="CDF (dashed p50, dotted p99)",
    )
    for axis in (hist, cdf):
        axis.legend()
    figure.suptitle(title)
    figure.tight_layout()
    path = out / name
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def intent_f1_chart(nlu: dict[str, Any], out: Path) -> Path:
    systems = nlu["systems"]
    keys = [k for k in SYSTEM_TITLES if k in systems]
    intents = sorted({i for k in keys for i in systems[k]["per_intent"]})
    positions = np.arange(len(intents))
    width = 0.8 / len(keys)
    figure, axis = plt.subplots(figsize=(max(10, len(intents) * 0.6), 5))
    for offset, key in enumerate(keys):
        scores = [systems[key]["per_intent"].get(i, {}).get("f1", 0.0) for i in intents]
        axis.bar(positions + offset * width, scores, width, label=SYSTEM_TITLES[key])
    axis.set_xticks(positions + width * (len(keys) - 1) / 2, intents, rotation=45, ha="right")
    axis.set(ylabel="F1", ylim=(0, 1.05), title=f"Per-intent F1 on {Path(nlu['eval_file']).name}")
    axis.legend(loc="lower left")
    figure.tight_layout()
    path = out / "intent_f1.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def main() -> None:
    results = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    out = Path(sys.argv[2])
    serving = results.get("serving")
    if serving:
        people = f"{serving['customers']} concurrent customers × {serving['turns']} turns"
        latency_chart(serving, out, "latency.png", f"{people}, think time {serving['think_seconds']} s")
        if serving.get("saturation"):
            latency_chart(serving["saturation"], out, "latency_saturation.png", f"{people}, no think time")
    if "nlu" in results:
        intent_f1_chart(results["nlu"], out)


if __name__ == "__main__":
    main()
