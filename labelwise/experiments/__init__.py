"""Experiments: what trains many models and compares them (the top layer; docs/DEVELOPING.md, "Layers").

- `labelwise.experiments.study`: a study (methods x seeds) declared as data, one resumable record per run
  with the code's commit, a Markdown report and plots; bench/ scripts are declarations run by its `main`.
- `labelwise.experiments.grid`: grid search over `train.py` options (`python -m labelwise.experiments.grid`).
- `labelwise.experiments.crossval`: document-grouped k-fold cross-validation of ADR taggers.
- `labelwise.experiments.provenance`, `labelwise.experiments.curves`: the commit of a run; dev curves.

Scoring one saved model is `labelwise.evaluate`; training one is `labelwise.training.train`.
"""
