"""Benchmarks: NLU vs baselines, serving latency vs bare Rasa, training and edit-to-live times."""
