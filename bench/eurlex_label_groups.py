"""EURLEX57K by label frequency: LAME with its scaling options against plain fine-tuning and layer-wise
FLAT, plus the label-agnostic head and an untuned similarity baseline (issue 12 part 6, issue 13).

    python bench/eurlex_label_groups.py --data_dir ../shared/data/eurlex57k              # every method, resumable
    python bench/eurlex_label_groups.py --data_dir ../shared/data/eurlex57k --methods lame vanilla
    python bench/eurlex_label_groups.py --report                                          # Markdown tables
    python bench/eurlex_label_groups.py --data_dir ../shared/data/eurlex57k --estimate 3  # time 3 steps per method
    python bench/eurlex_label_groups.py --data_dir ../shared/data/eurlex57k --work_dir W --results_dir R \
        --budget '{"max_length": 128, "num_train_epochs": 6, "early_stopping_patience": 2}' --seed 13 --methods lame
        # another budget (128 pieces, patience 2, cap 6 epochs) and seed; bench/issue29_queue.sh runs issue 29's study
    python bench/eurlex_label_groups.py --data_dir ../shared/data/eurlex57k --methods lame vanilla --probe_collapse 100
        # do the encoder's document and label representations stay apart in the first 100 steps?

Data. A seeded random subset of the EURLEX57K copy (`SUBSET`: training, dev and test documents) is
linked into `<work_dir>/subset` in the original layout, so `train.py`'s `label_set="train"` means
exactly "the labels of the training documents used" (issue 12). Descriptions are the EUROVOC label
and its alternative labels (`descriptions="label+alt"`, the shipped `lame_eurlex57k` config).

Label groups and scores (`labelwise.experiments.label_groups`): *frequent* (>= 50 training
documents), *few* (1-49) and *zero* (in dev/test documents only). Label-specific models have no output
for a zero label ("n/a", not 0); the overall scores (R-Precision, R-Precision@5, P@5, nDCG@5, micro-F1)
are over the training label set for every method; micro-F1 is at one global threshold tuned on the dev
subset, for every method (the similarity baseline's cosines mapped to [0, 1] first).

Budget. One for every trained method (`BUDGET`): the packaged MiniLM (labelwise.default_backbone_path()),
`max_length` pieces, batch 8, encoder 1e-4 and new parts 1e-3 with linear decay after 10% warm-up,
at most `BUDGET["num_train_epochs"]` epochs with early stopping on the dev loss (patience
`BUDGET["early_stopping_patience"]`; the best epoch is kept), one torch thread (`--torch_threads`; the
report says when a run used more). Every per-label output
bias starts at the log-odds of the label's training frequency (`--label_bias_init label_prior`): with
zero biases, 3 epochs ended with every trained model at the label prior (those results are in
`bench/results/eurlex_label_groups_zero_init/`; docs/RESULTS.md). `lame_2048` reads 2,048 pieces per
document (`--max_document_length`, issue 12 part 4) and is otherwise `lame`.

Methods (`METHODS`):
- `vanilla`: `BertForSequenceClassification` (the `vanilla` kind);
- `layerwise_flat`: the layer-wise model with every level on the last layer (FLAT); it trains on
  ancestor-augmented targets (its method) but is scored on the same document labels as the others;
- `lame`: the shipped `lame_eurlex57k` config (sampled label training, bilinear first stage,
  256-label shortlist at inference) with the paper's label-specific head, on this budget;
- `lame_agnostic`: `lame` with `--label_scoring label_agnostic` (issue 13's head) with [CLS]-pooled
  descriptions and no cosine term (the head as first built; its defaults are now those of
  `lame_agnostic_sim`); new labels are added with `model.add_labels` before scoring;
- `lame_agnostic_sim`: `lame_agnostic` with mean-pooled descriptions and the cosine term
  (`--description_pooling mean --similarity_term true`), the variant that beat the similarity
  baseline on held-out HoC hallmarks (docs/RESULTS.md);
- `lame_agnostic_sim_positives`: `lame_agnostic_sim` with only the batch's positive labels' descriptions
  encoded with gradient (`description_gradients="positives"`): 1.38x-1.59x vanilla's training CPU time at
  4,271 labels, where `lame_agnostic_sim` measured 1.93x-2.17x, over the 2.0x target (docs/BENCHMARKS.md);
- `lame_agnostic_sim_neg32`: `lame_agnostic_sim` with 32 sampled negatives a step instead of 64 (all of
  the sample's descriptions still with gradient): the other way to bring its step under the 2.0x target;
  1.53x-1.86x on the loaded machine, 2.12x on a quiet one, so two cheaper forms follow:
- `lame_agnostic_sim_neg16`: 16 negatives a step;
- `lame_agnostic_sim_neg32_static`: 32 negatives, every description encoded without gradient
  (`--label_embedding_mode static`: read from the training cache, re-encoded every 100 steps), 1.15x on a
  quiet machine; the default above 256 labels since issue 29;
- `lame_agnostic_sim_neg128_static`: the default with 128 negatives: without description gradients a
  negative costs only its label-attention row, so the sample can grow where the encoded one could not;
  the default above 256 labels since issue 29 (`label_sample_negatives="auto"`);
- `lame_agnostic_sim_neg128_static_document_classifier`: that default plus plain fine-tuning's classifier
  (`--document_classifier true`: a free row and bias per training label on the document's mean token
  state, its logit added to the head's): mixing the two trained models' probabilities scored above both
  (`bench/eurlex_mix_probe.py`);
- `lame_agnostic_sim_neg128_static_all_labels`: that default with every label's logit in the loss at
  every step (`all_label_loss`), the labels outside the sample scored without gradient into the
  label-attention blocks (`all_label_loss_gradient="output_layer"`): the shared output layer then learns
  from every label in every step, as plain fine-tuning's classifier does, where the sampled loss sees
  about 170 of them; 1.60x-1.69x vanilla's step at 4,271 labels with the label-specific head (docs/BENCHMARKS.md);
- `lame_all_labels` (issue 29, row b): `lame` with `all_label_loss`: every label's logit in the loss
  at every step; the description gradients stay sampled, the other labels' queries come from the
  training cache;
- `lame_all_labels_output` (row b, the cheaper form): `lame_all_labels` with the gradient of the labels
  outside the sample going into the output layer only (`all_label_loss_gradient="output_layer"`): every
  label's output row and bias are trained in every step, the blocks and descriptions by the sample;
- `lame_all_labels_output_positives`: `lame_all_labels_output` with only the batch's positive labels'
  descriptions encoded with gradient (`description_gradients="positives"`), the form that fits the
  4,271-label speed target (docs/BENCHMARKS.md);
- `lame_mean_queries`: `lame` with label queries from the descriptions' mean token states instead of their
  [CLS] state (`--description_pooling mean`, as the label-agnostic head reads them): all-MiniLM-L6-v2's
  [CLS] was never trained to summarise a text, and its [CLS] states of the EUROVOC descriptions are much
  alike (`--query_similarity`);
- `lame_static_descriptions`, `lame_all_labels_static`: `lame` and `lame_all_labels` with descriptions
  encoded without gradient (`--label_embedding_mode static`): whether the gradient through the
  descriptions is what collapses the encoder's label queries and documents into nearly one vector
  (`--probe_collapse`); `lame_all_labels_output_static`: the form of the latter within the 4,271-label
  cost targets (the labels outside the sample train the output layer only; docs/BENCHMARKS.md);
  `lame_all_labels_output_static_mean`: the latter with label queries from the descriptions' mean
  token states (`--description_pooling mean`): the untuned [CLS] states of the EUROVOC descriptions are
  nearly alike (mean pairwise cosine 0.61, mean-pooled 0.12), and static queries stay so;
- `lame_negatives_256` (row c): `lame` sampling 256 negatives a step instead of 64;
- `lame_joint` (row d): `lame` without sampling (`--label_sampling none`): every description encoded
  with gradient in every step (the paper's joint training); the first stage and shortlist stay;
- `layerwise_flat_mean`, `layerwise_flat_head_lr`: FLAT with one change each, the candidates for its gap
  to vanilla: the last layer's mean token state instead of its [CLS] (`--layer_pooling mean`), and its
  classifier at 1e-2 (the layer-wise grid's rate) instead of the budget's 1e-3. A method's own option
  replaces the budget's entry of the same name;
- `layerwise_flat_document_labels`: FLAT trained on the documents' own labels (`--ancestor_targets false`),
  the labels every row is scored on, instead of the paper's targets with every ancestor added;
- `ancestor_targets`: no model; each gold label and its ancestors score 1 (ties in random order): the
  ceiling of a model that learns the ancestor-augmented targets exactly, scored on the gold labels;
- `lame_2048`: `lame` with `--max_document_length 2048`;
- `lame_read_2048`: no training of its own; `lame`'s model (trained on 512 pieces) scoring documents
  read in full up to 2,048 pieces (its `max_document_length` set to 2,048): what long-document
  reading gives a model at inference alone, beside `lame_2048`, which also trains on them;
- `lame_2048_exact`: no training of its own; `lame_2048`'s model scored with the label-attention head
  on every label (`--shortlist_size 0`) instead of its 256-label shortlist: what the shortlist costs;
- `lame_agnostic_sim_neg32_static_exact`: the same for the default's model (its shortlist kept 91% of the
  dev documents' gold labels, against 95% for the 64-negative head's);
- `similarity`: no training; the untuned encoder's mean-pooled document and description embeddings,
  ranked by cosine (`labelwise.analysis.similarity_baseline`).
- `label_prior`: no model; every document gets each training label's frequency in the training
  subset, so every document gets the same ranking. A model that learned only the label prior
  scores about this.
A method whose `train.py` option this checkout lacks is reported as such and skipped.

Patience with a cap. `BUDGET["num_train_epochs"]` is the cap and `early_stopping_patience` the number of
evaluations without a better dev loss that end a run early; each record says which ended it
(`stopped_by`) and keeps the dev curve (`dev_curve`: dev loss and micro-F1 at 0.5 after each epoch).

Seeds and subsets. `--seed N` (training seed; 42 by default) writes `<method>__seed<N>.json` and trains in
`<work_dir>/<method>__seed<N>`; the report gives each repeat its own row, then each repeated method's mean
over its seeds with their R-Precision range. `--subset` replaces `SUBSET`
entries (e.g. the 5,000-document training subset), in its own `--work_dir` and `--results_dir`.

Files. Each method writes `bench/results/eurlex_label_groups/<method>.json` (budget, subset, command,
wall time per epoch, overall and per-group test scores, for LAME the dev recall of its first-stage
shortlist, the training summary without its label descriptions). A method whose file exists is skipped; an interrupted run resumes from its last
checkpoint in `<work_dir>/<method>` (train.py's resume), and a run whose model is saved but not yet
scored is only scored. `--estimate N` times N training steps of each method on the real subset and
writes `bench/results/eurlex_label_groups/estimates/<method>.json` (step time, estimated epoch time).
`--probe_collapse N` trains each method's first N steps on its real schedule and measures, every
`--probe_every` steps, how far apart its representations of 32 dev documents and of its label queries lie
(`collapse/<method>.json`): a run whose encoder collapses maps every document to nearly one vector and
ranks the labels the same for all of them. `--probe_saved DIR...` measures the same on a method's saved
models or checkpoints (`collapse/<method>_saved.json`), `--plot_collapse PNG` draws the probes over steps.
"""

from __future__ import annotations

from pathlib import Path

from labelwise.cli_errors import EXIT_INTERRUPTED  # noqa: F401  (the exit status of a run stopped by a signal)
from labelwise.experiments.label_group_study import LabelGroupStudy, Method, main

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results" / "eurlex_label_groups"

SUBSET = {"train": 1000, "dev": 300, "test": 1000, "seed": 13}
"""Documents drawn (seeded, without replacement) from each split of the EURLEX57K copy. 1,000 training
documents carry about 1,200 labels (7 frequent, about 1,200 few); 1,000 test documents add about 460
zero-shot labels (measured on ../shared/data/eurlex57k with seed 13)."""

CORPUS_OPTIONS = {"descriptions": "label+alt", "label_set": "train"}
"""How every trained method reads the corpus: the labels of the training subset, described by label + alt labels."""

BUDGET = {
    "max_length": 512,
    "per_device_train_batch_size": 8,
    "per_device_eval_batch_size": 16,
    "learning_rate": 1e-4,
    "head_learning_rate": 1e-3,
    "warmup_steps": 0.1,
    "lr_scheduler_type": "linear",
    "optim": "adamw_torch",
    "num_train_epochs": 3,
    "early_stopping_patience": 1,
    "metric_for_best_model": "loss",
    "greater_is_better": False,
    "save_total_limit": 1,
    "logging_steps": 10,
    "label_attention_heads": 12,
    "label_bias_init": "label_prior",
}
"""The CPU budget of every trained method. Early stopping reads the dev loss, which every kind reports
(micro-F1 at 0.5 is often 0 for all methods in the first epochs on thousands of labels)."""

LEGACY_BUDGET = {"label_bias_init": "zero"}
"""Budget entries added later, with the value that records written before them were run with."""

# The paper's head with the shipped scale path, named explicitly: issue 29 lets the label-count rule
# (scale_defaults) choose the head and the description gradients, and these rows must stay as they ran
# whatever it picks.
# The rows as they ran: the shipped configuration before issue 29 changed its defaults (the head, 64
# negatives, descriptions encoded with gradient).
LAME = {"config": "lame_eurlex57k", "label_scoring": "label_specific", "description_gradients": "sample",
        "label_sample_negatives": 64, "label_embedding_mode": "joint", "document_classifier": False}
FLAT = {"model": "layerwise", "guidance": "flat"}
LONG = {**LAME, "max_document_length": 2048}
AGNOSTIC = {**LAME, "label_scoring": "label_agnostic"}
STATIC = {**AGNOSTIC, "description_pooling": "mean", "similarity_term": True, "label_sample_negatives": 32,
          "label_embedding_mode": "static"}
METHODS = {
    "vanilla": Method({"model": "vanilla"}),
    "layerwise_flat": Method(FLAT),
    "lame": Method(LAME),
    "lame_agnostic": Method({**AGNOSTIC, "description_pooling": "cls", "similarity_term": False}, True,
                            "issue 13 (label_scoring)"),
    "lame_agnostic_sim": Method({**AGNOSTIC, "description_pooling": "mean", "similarity_term": True}, True,
                                "issue 13 (similarity_term)"),
    "lame_agnostic_sim_positives": Method(
        {**AGNOSTIC, "description_pooling": "mean", "similarity_term": True, "description_gradients": "positives"},
        True, "issue 29 (description_gradients)"),
    "lame_agnostic_sim_neg32": Method(
        {**AGNOSTIC, "description_pooling": "mean", "similarity_term": True, "label_sample_negatives": 32}, True),
    "lame_agnostic_sim_neg16": Method(
        {**AGNOSTIC, "description_pooling": "mean", "similarity_term": True, "label_sample_negatives": 16}, True),
    "lame_agnostic_sim_neg32_static": Method(STATIC, True),
    "lame_agnostic_sim_neg128_static": Method({**STATIC, "label_sample_negatives": 128}, True),
    "lame_agnostic_sim_neg128_static_document_classifier": Method(
        {**STATIC, "label_sample_negatives": 128, "document_classifier": True}, True,
        "issue 29 (document_classifier)"),
    "lame_agnostic_sim_neg128_static_all_labels": Method(
        {**STATIC, "label_sample_negatives": 128, "all_label_loss": True, "all_label_loss_gradient": "output_layer"}, True),
    "lame_all_labels": Method({**LAME, "all_label_loss": True}, needs="issue 29 (all_label_loss)"),
    "lame_all_labels_output": Method({**LAME, "all_label_loss": True, "all_label_loss_gradient": "output_layer"},
                                     needs="issue 29 (all_label_loss_gradient)"),
    "lame_all_labels_output_positives": Method(
        {**LAME, "all_label_loss": True, "all_label_loss_gradient": "output_layer", "description_gradients": "positives"},
        needs="issue 29 (description_gradients)"),
    "lame_mean_queries": Method({**LAME, "description_pooling": "mean"}),
    "lame_static_descriptions": Method({**LAME, "label_embedding_mode": "static"}),
    "lame_all_labels_static": Method({**LAME, "all_label_loss": True, "label_embedding_mode": "static"},
                                     needs="issue 29 (all_label_loss)"),
    "lame_all_labels_output_static": Method(
        {**LAME, "all_label_loss": True, "all_label_loss_gradient": "output_layer", "label_embedding_mode": "static"},
        needs="issue 29 (all_label_loss_gradient)"),
    "lame_all_labels_output_static_mean": Method(
        {**LAME, "all_label_loss": True, "all_label_loss_gradient": "output_layer", "label_embedding_mode": "static",
         "description_pooling": "mean"}, needs="issue 29 (all_label_loss_gradient)"),
    "lame_negatives_256": Method({**LAME, "label_sample_negatives": 256}),
    "lame_joint": Method({**LAME, "label_sampling": "none"}),
    "layerwise_flat_mean": Method({**FLAT, "layer_pooling": "mean"}),
    "layerwise_flat_head_lr": Method({**FLAT, "head_learning_rate": 0.01}),
    "layerwise_flat_document_labels": Method({**FLAT, "ancestor_targets": False}, needs="issue 29 (ancestor_targets)"),
    "ancestor_targets": Method(baseline="ancestor_targets"),
    "lame_2048": Method(LONG, needs="issue 12 part 4 (max_document_length)"),
    "lame_read_2048": Method(LONG, needs="issue 12 part 4 (max_document_length)", scores_model_of="lame"),
    "lame_2048_exact": Method({**LONG, "shortlist_size": 0}, needs="issue 12 part 4 (max_document_length)",
                              scores_model_of="lame_2048"),
    "lame_agnostic_sim_neg32_static_exact": Method({**STATIC, "shortlist_size": 0}, True,
                                                   scores_model_of="lame_agnostic_sim_neg32_static"),
    "similarity": Method(scores_unseen=True, baseline="similarity"),
    "label_prior": Method(baseline="label_prior"),
}

STUDY = LabelGroupStudy(
    name="EURLEX57K subset", methods=METHODS, subset=SUBSET, budget=BUDGET, corpus_options=CORPUS_OPTIONS,
    script=__file__, results_dir=RESULTS, work_dir=REPO / "outputs" / "eurlex_label_groups",
    legacy_budget=LEGACY_BUDGET, description=__doc__,
)

if __name__ == "__main__":
    main(STUDY)
