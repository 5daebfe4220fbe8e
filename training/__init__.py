"""One place that trains, evaluates and deploys Rasa models: used by `stack`, `bench` and the ops console.

- project:  what `rasa train` reads, its fingerprint, and an export with ops-edited files laid over it
- progress: rasa train's output read as phases and epoch progress
- rasa_cli: runs rasa train / rasa test in the rasa env (full log to a file, progress to a callback)
- evaluate: per-intent precision/recall/F1, macro-F1, the confusion matrix, failed test stories
- gate:     the regression gate a new model must pass before it goes live
- deploy:   PUT /model on every Rasa process
- store:    the job queue and the model history in the CRM database
- worker:   `python -m training.worker`, the process that runs queued jobs (never the API process)
"""
