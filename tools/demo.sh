#!/usr/bin/env bash
# `make demo`: a GPT-2 learns real English, then is fine-tuned to another kind of English by every
# gradient-free method, side by side with backprop, under one compute budget. No flags, no Python.
#   1. install what is missing (timed apart), fetch and verify the data, build;
#   2. pretrain a small GPT-2 (GPT-2's 50257-token vocabulary) with AdamW on the Brown corpus's
#      informative prose (cached: a second run reuses it);
#   3. fine-tune it on imaginative prose with random, es, spsa, newton and adamw, each with the same
#      budget of forward passes (a backward pass counts as two), hyperparameters from tools/sweep.sh;
#   4. print a table (losses on a test split that tuning never saw), write the validation curves as CSV
#      and PNG, and print samples from the pretrained and the best fine-tuned model.
# Every setting below can be overridden from the environment, e.g. DEMO_BUDGET=200 make demo.
set -euo pipefail
cd "$(dirname "$0")/.."

# --- settings ----------------------------------------------------------------------------------------
OUT=${DEMO_OUT:-build/demo}                  # results; the pretrained model is cached in data/cache/demo
CACHE=data/cache/demo
THREADS=${DEMO_THREADS:-$(nproc)}
# The pretrained model: 4 layers, 4 heads, 64 channels, GPT-2's vocabulary (3.4M parameters, 3.2M of them in
# the tied token embedding). With GPT-2's 50257 tokens the LM head is most of the cost of a step, and it
# shrinks with the width: at 64 channels a step costs a quarter of one at 128, and in the same minutes the
# narrower model reached a lower validation loss (7.45 vs 7.61 after ~3 minutes of 1-thread training).
MODEL_FLAGS=(--init-layers 4 --init-heads 4 --init-channels 64 --init-max-seq 64)
PRETRAIN_STEPS=${DEMO_PRETRAIN_STEPS:-1500}
# lr 3e-3 beat 6e-3 (and 1e-2) at 64 channels over 1000 steps (validation 6.90 vs 6.93).
PRETRAIN_FLAGS=(--optimizer adamw --lr 3e-3 --schedule cosine --warmup 30 --batch 8 --seq 64)
# Fine-tuning: the same budget of forward-pass equivalents for every method. The hyperparameters won
# tools/sweep.sh's grid on the validation split (at a quarter of this budget; README "The demo" has it): the
# zeroth-order methods do best on small subsets, the final LayerNorm (lnfw,lnfb: 128 parameters) for random,
# spsa and newton, all LayerNorm parameters and biases (3.5k) for es; AdamW trains everything.
BUDGET=${DEMO_BUDGET:-960}
FT_SHAPE=(--batch 8 --seq 64)
VAL_BATCHES=${DEMO_VAL_BATCHES:-8}
declare -A METHOD_FLAGS=(
    [adamw]="--optimizer adamw --lr 1e-3"
    [spsa]="--optimizer spsa --params lnfw,lnfb --lr 2e-1 --eps 1e-2"
    [newton]="--optimizer newton --params lnfw,lnfb --lr 1e-1"
    [es]="--optimizer es --params layernorm,bias --lr 1e-4 --sigma 1e-3 --pairs 4"
    [random]="--optimizer random --params lnfw,lnfb --sigma 1e-2"
)
METHODS=(adamw random es spsa newton)
# Forward-pass equivalents of one step, to validate about VAL_POINTS times per method whatever its step cost.
declare -A PASSES_PER_STEP=([adamw]=3 [random]=2 [es]=8 [spsa]=2 [newton]=3)
VAL_POINTS=8

N=build/nograd
say() { printf '\n== %s\n' "$*"; }
json_field() { sed -E "s/.*\"$1\":(\"[^\"]*\"|[^,}]*).*/\1/" <<<"$2" | tr -d '"'; }

# --- 1. setup ----------------------------------------------------------------------------------------
t_install=$(date +%s)
tools/install-deps.sh build demo
t_install=$(( $(date +%s) - t_install ))
start=$(date +%s)
data/fetch-vocab.sh
data/fetch-brown.sh
make -j"$THREADS" build/nograd >/dev/null
mkdir -p "$OUT" "$CACHE"
export OMP_NUM_THREADS=$THREADS
if [[ ! -f $CACHE/imag_test_000000.bin ]]; then
    say "tokenizing the Brown corpus (informative → pretraining, imaginative → fine-tuning)"
    $N tokenize --vocab data/cache/gpt2-vocab --brown data/cache/brown --domain informative \
        --out $CACHE/info --val-fraction 0.1
    $N tokenize --vocab data/cache/gpt2-vocab --brown data/cache/brown --domain imaginative \
        --out $CACHE/imag --val-fraction 0.15 --test-fraction 0.15
fi
[[ -f $CACHE/gpt2_tokenizer.bin ]] || $N tokenize --vocab data/cache/gpt2-vocab --tokenizer-out $CACHE/gpt2_tokenizer.bin

# --- 2. pretrain ---------------------------------------------------------------------------------------
# Named by its settings, so changing any of them pretrains anew instead of reusing a stale model.
PRETRAINED=$CACHE/pretrained_$(echo "${MODEL_FLAGS[*]} ${PRETRAIN_FLAGS[*]} $PRETRAIN_STEPS" | sha256sum | cut -c1-12).bin
# Trained under another name and renamed when complete: an interrupted demo (Ctrl-C saves the run) resumes
# its pretraining next time instead of passing a half-trained model off as the finished one.
PARTIAL=${PRETRAINED%.bin}.partial.bin
if [[ ! -f $PRETRAINED ]]; then
    say "pretraining a $(echo "${MODEL_FLAGS[@]}" | sed 's/--init-//g') GPT-2 with AdamW, $PRETRAIN_STEPS steps"
    if [[ -f ${PARTIAL%.bin}.state ]]; then from=(--resume "${PARTIAL%.bin}.state"); else from=("${MODEL_FLAGS[@]}"); fi
    summary=$($N train "${from[@]}" "${PRETRAIN_FLAGS[@]}" --steps "$PRETRAIN_STEPS" \
        --train "$CACHE/info_train_*.bin" --val "$CACHE/info_val_*.bin" --val-every 250 --val-batches $VAL_BATCHES \
        --save "$PARTIAL" --save-every 250 --log "$OUT/pretrain.jsonl" --json | tail -1)
    # Ctrl-C lets the step finish, saves and exits 0: only a run that got to the end becomes the cache.
    [[ $(json_field interrupted "$summary") == false ]] || { echo "demo: pretraining interrupted; run make demo again to resume it" >&2; exit 130; }
    mv "${PARTIAL%.bin}.state" "${PRETRAINED%.bin}.state"
    mv "$PARTIAL" "$PRETRAINED"
else
    say "reusing the pretrained model $PRETRAINED"
fi

# --- 3. fine-tune --------------------------------------------------------------------------------------
test_loss() {  # test_loss MODEL: mean loss over the whole test split
    local batches
    batches=$(( $(stat -c %s $CACHE/imag_test_000000.bin) / 2 / 512 - 1 ))
    json_field loss "$($N eval --model "$1" --data "$CACHE/imag_test_*.bin" "${FT_SHAPE[@]}" --batches $batches --json | tail -1)"
}
before_test=$(test_loss "$PRETRAINED")
declare -A SUMMARY AFTER_TEST
for m in "${METHODS[@]}"; do
    say "fine-tuning with $m (${METHOD_FLAGS[$m]}), budget $BUDGET forward passes"
    # shellcheck disable=SC2086
    SUMMARY[$m]=$($N train --model "$PRETRAINED" ${METHOD_FLAGS[$m]} --steps 1000000 --max-forward-passes $BUDGET \
        "${FT_SHAPE[@]}" --train "$CACHE/imag_train_*.bin" --val "$CACHE/imag_val_*.bin" \
        --val-every $(( BUDGET / PASSES_PER_STEP[$m] / VAL_POINTS )) --val-batches $VAL_BATCHES --save "$OUT/$m.bin" --log "$OUT/$m.jsonl" \
        --curve "$OUT/$m.csv" --json | tail -1)
    AFTER_TEST[$m]=$(test_loss "$OUT/$m.bin")
done

# --- 4. report -----------------------------------------------------------------------------------------
say "results: fine-tuning on imaginative prose, $BUDGET forward passes each (test split: $(basename $CACHE/imag_test_000000.bin))"
table=$OUT/results.md
{
    echo "| method | steps | forward passes | wall time | peak memory | val loss before → after | test loss before → after | share of AdamW's gain |"
    echo "|---|---|---|---|---|---|---|---|"
    adamw_gain=$(awk -v a="$before_test" -v b="${AFTER_TEST[adamw]}" 'BEGIN{print a-b}')
    for m in "${METHODS[@]}"; do
        s=${SUMMARY[$m]}
        awk -v m="$m" -v steps="$(json_field steps "$s")" -v fp="$(json_field forward_passes "$s")" \
            -v sec="$(json_field seconds "$s")" -v rss="$(json_field peak_rss_bytes "$s")" \
            -v vb="$(json_field val_loss_before "$s")" -v va="$(json_field val_loss_after "$s")" \
            -v tb="$before_test" -v ta="${AFTER_TEST[$m]}" -v g="$adamw_gain" \
            'BEGIN{printf "| %s | %d | %d | %.1f s | %.0f MB | %.4f → %.4f | %.4f → %.4f | %.0f %% |\n", m, steps, fp, sec, rss/1e6, vb, va, tb, ta, 100*(tb-ta)/g}'
    done
} | tee "$table"

curves=$OUT/curves.csv
{
    echo "method,step,forward_passes,seconds,val_loss"
    for m in "${METHODS[@]}"; do tail -n +2 "$OUT/$m.csv" | sed "s/^/$m,/"; done
} >"$curves"
plot=$OUT/curves.png
{
    echo "set terminal pngcairo size 900,560; set output '$plot'; set datafile separator ','"
    echo "set title 'Fine-tuning on imaginative prose: validation loss per forward pass'"
    echo "set xlabel 'forward passes (a backward counts as two)'; set ylabel 'validation loss'; set key top right"
    printf "plot "
    for m in "${METHODS[@]}"; do printf "'%s' using 2:4 with linespoints title '%s', " "$OUT/$m.csv" "$m"; done
    echo
} | sed 's/, $//' | gnuplot
echo
echo "curves: $curves (CSV), $plot (PNG); table: $table; logs: $OUT/*.jsonl"

best_of() {  # best_of METHOD...: the one with the lowest test loss
    local best=$1 m
    for m in "${@:2}"; do awk -v a="${AFTER_TEST[$m]}" -v b="${AFTER_TEST[$best]}" 'BEGIN{exit !(a<b)}' && best=$m; done
    echo "$best"
}
zo_best=$(best_of spsa newton es random)
say "samples (prompt: \"The night was\", temperature 0.8, top-k 40)"
for model in "$PRETRAINED" "$OUT/adamw.bin" "$OUT/$zo_best.bin"; do
    case $model in "$PRETRAINED") label="pretrained on informative prose" ;;
        *adamw.bin) label="fine-tuned with adamw" ;; *) label="fine-tuned without gradients: $zo_best (the best of them)" ;; esac
    echo "-- $label --"
    $N sample --model "$model" --tokenizer $CACHE/gpt2_tokenizer.bin --vocab data/cache/gpt2-vocab \
        --prompt "The night was" --steps 40 --temperature 0.8 --top-k 40 --seed 7 2>/dev/null
done
echo
echo "demo: $(( $(date +%s) - start )) s (installing packages took another ${t_install} s)"
