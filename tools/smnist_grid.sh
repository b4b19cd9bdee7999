#!/usr/bin/env bash
# The sequential / permuted MNIST grid of nbs/22_exp_smnist.ipynb, all runs at once on one GPU (DEVICE=cpu: one thread per run):
# Terminator-1D (Kar3, the release's step size), a GRU and a 1D CNN of about its size (Adam, step size from
# lr_find), same label-smoothing loss, 10 % of the 60,000 training digits held out for validation,
# the official 10,000 test digits scored once. One row per run is appended to RESULTS_DIR/smnist.csv.
#
# usage: tools/smnist_grid.sh DATA RESULTS_DIR EPOCHS [SEEDS...]
#   DATA: the folder holding MNIST/raw (terminator_mnist DATA writes it offline)
#   EPOCHS: one number for all, or per model as terminator=30,gru=12,cnn=40 (the same wall-clock budget for each)
#   env: TRAIN (default terminator_train), DEVICE (default cuda), BS (default 128), MODELS (default "terminator gru cnn"; also: lstm)
set -euo pipefail
DATA=$1; OUT=$2; EPOCHS=$3; shift 3; SEEDS=${*:-0 1 2}
TRAIN=${TRAIN:-terminator_train}; DEVICE=${DEVICE:-cuda}; BS=${BS:-128}; MODELS=${MODELS:-terminator gru cnn}
declare -A SIZE=([terminator]="" [gru]="--hidden 227 --lr-find" [lstm]="--hidden 196 --chrono --clip 1 --lr-find" [cnn]="--widths 16 32 64 80 112 128 --ks 5 --lr-find")
declare -A EP=()
for kv in ${EPOCHS//,/ }; do if [[ $kv == *=* ]]; then EP[${kv%%=*}]=${kv#*=}; else for m in $MODELS; do EP[$m]=$kv; done; fi; done
mkdir -p "$OUT"
pids=()
for task in smnist pmnist; do
  perm=$([ $task = pmnist ] && echo --permuted || true)
  for model in $MODELS; do
    for seed in $SEEDS; do
      run=$task-$model-$seed
      $TRAIN --dataset mnist --data "$DATA" --seq $perm --valid-pct 0.1 --test --model $model ${SIZE[$model]} \
             --epochs "${EP[$model]:?no epochs for $model in $EPOCHS}" --bs "$BS" --seed $seed --device "$DEVICE" --threads 1 --no-bar \
             --out "$OUT/$run" --results "$OUT/smnist.csv" > "$OUT/$run.log" 2>&1 &
      pids+=($!)
    done
  done
done
fail=0; for p in "${pids[@]}"; do wait $p || fail=$((fail + 1)); done
echo "smnist_grid: ${#pids[@]} runs, $fail failed; results in $OUT/smnist.csv"
exit $fail
