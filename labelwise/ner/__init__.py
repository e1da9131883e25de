"""Adverse-drug-reaction tagging (BioBERT ADR paper): transformer tagger, baselines, cross-validation.

Modules (imported on use, so `import labelwise.ner` stays light):

- `labelwise.ner.alignment`: first-piece labels, overlapping windows and their merge, word tags
  to character spans.
- `labelwise.ner.tagger`: `build_token_classification_model`, `tokenize_and_align`,
  `predict_tags`, `predict_spans` (transformers' standard token-classification model, so saved
  taggers run in `pipeline("token-classification")`). Training it is `train_tagger` and
  `TransformerTagger` in `labelwise.training.tagger` (they read the model kinds, which read this
  package: docs/DEVELOPING.md, "Layers").
- `labelwise.ner.baselines`: `DictionaryTagger` (Aho-Corasick), `CRFTagger` (sklearn-crfsuite),
  `BiLSTMCRFTagger` (word + character BiLSTM with `labelwise.ner.crf.LinearChainCRF`).
- `labelwise.experiments.crossval`: document-grouped k-fold cross-validation with t intervals and the
  paper's Table 2; `python -m labelwise.experiments.crossval --help`.

Every tagger has `fit(tokens_list, tags_list)` and `predict(tokens_list) -> tags_list` (IOB2).
"""
