#!/usr/bin/env bash
# Issue 29's EURLEX57K study as one resumable queue: one training process at a time, one torch thread,
# lowest CPU priority. Every run checkpoints under $OUT (outside the repository) and writes one result
# file in $OUT/results_subset1000_rp; a finished run is skipped and an interrupted one resumes from its
# checkpoint, so the same command continues the queue after a stop or a session's end:
#
#     setsid nohup bench/issue29_queue.sh >> /work/runs_out/issue29/queue.log 2>&1 &
#
# Stop it with `kill -TERM -- -<pid of the setsid'd shell>`: the running train.py saves a checkpoint
# and the queue starts nothing further. The plan (budget, order, estimated cost):
# bench/results/eurlex_label_groups_issue29/PLAN.md. Report: bench/eurlex_label_groups.py --report
# --results_dir $OUT/results_subset1000_rp.
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
DATA=${DATA:-/work/shared/data/eurlex57k}
OUT=${OUT:-/work/runs_out/issue29}
# Early stopping on dev R-Precision (threshold-free, the table's headline score). The first budget stopped
# on the dev loss: row (b)'s rose after epoch 2 while nothing had passed the 0.5 threshold (PLAN.md,
# "Progress, 2026-12-06"); its run is kept in $OUT/subset1000 and $OUT/results_subset1000.
BUDGET='{"max_length": 256, "num_train_epochs": 6, "early_stopping_patience": 2, "metric_for_best_model": "r_precision", "greater_is_better": true}'
mkdir -p "$OUT"
exec 9>"$OUT/queue.lock"
flock -n 9 || { echo "$(date -u) another issue-29 queue holds $OUT/queue.lock; not starting a second"; exit 1; }

run() {  # run SEED METHOD...: the methods in order, each until patience or the cap ends it
    local seed=$1; shift
    echo "$(date -u) seed $seed: $*"
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nice -n 19 "$PYTHON" "$REPO/bench/eurlex_label_groups.py" \
        --data_dir "$DATA" --work_dir "$OUT/subset1000_rp" --results_dir "$OUT/results_subset1000_rp" \
        --budget "$BUDGET" --seed "$seed" --torch_threads 1 --methods "$@"
    local code=$?
    [ $code -eq 0 ] || { echo "$(date -u) stopped (exit $code); run the same command to resume"; exit $code; }
}

# Item 1, first seed. Row (b) collapsed the encoder within its first epoch, and with descriptions encoded
# without gradient it did not (probes: PLAN.md, "The collapse"). So the candidates go first: (b) with
# static descriptions and its form within the 4,271-label cost targets, then the rows they are judged
# against (vanilla, the label-agnostic head, the shipped (a)), (a) with static descriptions, (b) itself
# from its checkpoint, FLAT and its two candidates, and (c).
run 42 lame_all_labels_static lame_all_labels_output_static vanilla lame_agnostic_sim lame lame_static_descriptions \
    lame_all_labels layerwise_flat layerwise_flat_mean layerwise_flat_head_lr lame_negatives_256
# Second seed for the top three rows (PLAN.md: replace these three with the first table's top three).
run 13 lame_all_labels lame_agnostic_sim vanilla
# (d), the joint path: last of the issue's rows, as it costs several times any other row (PLAN.md).
run 42 lame_joint
# Diagnostics beyond the issue's rows (whether the cheap form of (b) and mean-pooled queries also avoid
# the collapse), once the table is complete.
run 42 lame_all_labels_output_positives lame_mean_queries
echo "$(date -u) queue finished"
