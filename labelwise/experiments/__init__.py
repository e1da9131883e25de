"""Experiments: what trains many models and compares them (the top layer; docs/DEVELOPING.md, "Layers").

- `labelwise.experiments.study`: a study (methods x seeds) declared as data, one resumable record per run
  with the code's commit, a Markdown report and plots; bench/ scripts are declarations run by its `main`.
- `labelwise.experiments.label_group_study`: a study scored per label-frequency group (frequent / few / zero) on a
  seeded corpus subset (`label_groups`: the groups' scores and report; `kind_scoring`: a trained model's scores through
  its kind's encoding; `capped_runs`: runs with patience and a cap, one process at a time, resumable).
- `labelwise.experiments.grid`: grid search over `train.py` options (`python -m labelwise.experiments.grid`).
- `labelwise.experiments.crossval`: document-grouped k-fold cross-validation of ADR taggers.
- `labelwise.experiments.provenance`, `labelwise.experiments.curves`: the commit of a run; dev curves.

Scoring one saved model is `labelwise.evaluate`; training one is `labelwise.training.train`.
"""
