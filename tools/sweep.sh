#!/usr/bin/env bash
# Hyperparameter sweep behind `make demo`'s defaults: fine-tunes the demo's pretrained model on imaginative
# prose with each candidate setting under one budget of forward passes and ranks the settings by the loss on
# the *validation* split (the demo reports the test split, which no tuning sees). Not run by `make demo`.
#
#   tools/sweep.sh [PRETRAINED.bin]        (default: the checkpoint the demo cached)
#   SWEEP_BUDGET=240 SWEEP_THREADS=2 SWEEP_METHODS="spsa newton" tools/sweep.sh
#
# Writes build/sweep/results.tsv (method, flags, validation loss before and after, steps, seconds) and prints
# the best setting of each method. The grid is below; README.md ("The demo") records what won and by how much.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=data/cache/demo
PRETRAINED=${1:-$(ls -t $CACHE/pretrained_*.bin 2>/dev/null | head -1)}
[[ -n $PRETRAINED && -f $PRETRAINED ]] || { echo "sweep: no pretrained model: run make demo first, or pass one" >&2; exit 1; }
BUDGET=${SWEEP_BUDGET:-240}        # a quarter of the demo's budget: cheap enough to cover the grid
THREADS=${SWEEP_THREADS:-$(nproc)}
METHODS=(${SWEEP_METHODS:-adamw random es spsa newton})
OUT=build/sweep
SHAPE=(--batch 8 --seq 64)
VAL=(--val "$CACHE/imag_val_*.bin" --val-batches 16)   # the same 16 batches for every candidate

# The grid. BitFit-style subsets (layernorm, bias: 3.5k entries at 64 channels) and the final LayerNorm
# (lnfw,lnfb: 128 entries) instead of all 3.4M parameters: the variance of a zeroth-order gradient estimate
# grows with the dimension, so small subsets tolerate far larger steps. lnfw,lnfb shifts every position's
# logits along the embedding: a cheap handle on the unigram statistics that differ between the two kinds
# of prose. The first lines of each method are the coarse grid over subsets and step sizes; the last ones
# refine around the coarse winner (step size, and the perturbation scale).
grid() {  # grid METHOD: one candidate's flags per line
    case $1 in
    adamw) printf '%s\n' "--lr 1e-4" "--lr 3e-4" "--lr 1e-3" "--lr 3e-3" ;;
    random) printf '%s\n' "--params all --sigma 1e-4" "--params all --sigma 1e-3" \
        "--params layernorm,bias --sigma 1e-3" "--params layernorm,bias --sigma 1e-2" \
        "--params layernorm,bias --sigma 3e-2" "--params lnfw,lnfb --sigma 1e-2" \
        "--params lnfw,lnfb --sigma 3e-2" "--params lnfw,lnfb --sigma 1e-1" ;;
    es) printf '%s\n' "--params all --lr 1e-6 --sigma 1e-3 --pairs 4" "--params all --lr 3e-6 --sigma 1e-3 --pairs 4" \
        "--params all --lr 1e-5 --sigma 1e-3 --pairs 4" "--params all --lr 1e-4 --sigma 1e-3 --pairs 4" \
        "--params layernorm,bias --lr 1e-5 --sigma 1e-3 --pairs 4" "--params layernorm,bias --lr 1e-4 --sigma 1e-3 --pairs 4" \
        "--params layernorm,bias --lr 1e-3 --sigma 1e-3 --pairs 4" "--params layernorm,bias --lr 1e-2 --sigma 1e-3 --pairs 4" \
        "--params layernorm,bias --lr 3e-2 --sigma 1e-3 --pairs 4" "--params lnfw,lnfb --lr 1e-4 --sigma 1e-3 --pairs 4" \
        "--params lnfw,lnfb --lr 3e-4 --sigma 1e-3 --pairs 4" "--params lnfw,lnfb --lr 1e-4 --sigma 1e-2 --pairs 4" \
        "--params lnfw,lnfb --lr 3e-4 --sigma 1e-2 --pairs 2" ;;
    spsa) printf '%s\n' "--params all --lr 1e-5 --eps 1e-3" "--params all --lr 1e-4 --eps 1e-3" \
        "--params all --lr 3e-4 --eps 1e-3" "--params layernorm,bias --lr 1e-3 --eps 1e-3" \
        "--params layernorm,bias --lr 1e-2 --eps 1e-3" "--params layernorm,bias --lr 3e-2 --eps 1e-3" \
        "--params layernorm,bias --lr 1e-1 --eps 1e-3" "--params layernorm,bias --lr 3e-1 --eps 1e-3" \
        "--params lnfw,lnfb --lr 1e-1 --eps 1e-3" "--params lnfw,lnfb --lr 3e-1 --eps 1e-3" \
        "--params lnfw,lnfb --lr 1e-1 --eps 1e-2" "--params lnfw,lnfb --lr 2e-1 --eps 1e-2" ;;
    newton) printf '%s\n' "--params all --lr 1e-5" "--params all --lr 1e-4" "--params all --lr 3e-4" \
        "--params layernorm,bias --lr 1e-3" "--params layernorm,bias --lr 1e-2" "--params layernorm,bias --lr 3e-2" \
        "--params layernorm,bias --lr 1e-1" "--params layernorm,bias --lr 3e-1" "--params lnfw,lnfb --lr 1e-1" \
        "--params lnfw,lnfb --lr 3e-1" "--params lnfw,lnfb --lr 1" "--params lnfw,lnfb --lr 3e-1 --eps 3e-2" ;;
    esac
}

json_field() { [[ $2 == *\"$1\":* ]] && sed -E "s/.*\"$1\":(\"[^\"]*\"|[^,}]*).*/\1/" <<<"$2" | tr -d '"' || echo None; }

mkdir -p "$OUT"
results=$OUT/results.tsv
# An interrupted sweep continues: candidates already in the results are skipped (delete the file to redo).
[[ -f $results ]] || printf "method\tflags\tval_loss_before\tval_loss_after\tsteps\tseconds\n" >"$results"
for m in "${METHODS[@]}"; do
    while read -r flags; do
        grep -qF "$m"$'\t'"$flags"$'\t' "$results" && continue
        # shellcheck disable=SC2086
        summary=$(build/nograd train --model "$PRETRAINED" --optimizer "$m" $flags --steps 1000000 \
            --max-forward-passes "$BUDGET" "${SHAPE[@]}" --train "$CACHE/imag_train_*.bin" "${VAL[@]}" \
            --threads "$THREADS" --json 2>/dev/null | tail -1) || summary='{}'
        row=""
        for k in val_loss_before val_loss_after steps seconds; do row+=$'\t'"$(json_field $k "$summary")"; done
        echo "$m"$'\t'"$flags$row" | tee -a "$results"
    done < <(grid "$m")
done

echo
echo "best per method (lowest validation loss after $BUDGET forward passes):"
tail -n +2 "$results" | awk -F'\t' '$4 != "None"' | sort -t$'\t' -k4,4g | awk -F'\t' '!seen[$1]++ {print "  " $0}'
echo "all results: $results"
