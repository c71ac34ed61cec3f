#!/usr/bin/env bash
# Run on a borrowed CUDA machine (the `device` tool), from the repository root, with the wheels
# this project needs beyond that machine's image carried in .whl/ (README "Measured on a GPU").
# Stages, in the order given: tests, prepare, throughput, pipeline, recipes.
#   tests       the classifier and feature tests, which then run on CUDA
#   prepare     full-scale demo data (scale 1), then tables_job and images_job
#   throughput  benchmarks/classifier.py at 224 px → benchmarks/results/classifier_cuda.json
#   pipeline    full_pipeline_job with configs/gpu.yaml, then the summary
#   recipes     benchmarks/classifier_recipes.py at 224 px → classifier_recipes_cuda.json
# Logs and result files are copied to $OUT (or ./device_out) as each stage ends.
set -uo pipefail
OUT=${OUT:-$PWD/device_out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if [ -d .whl ] && [ ! -f /tmp/site/.installed ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && touch /tmp/site/.installed || exit 1
fi
export PYTHONPATH=/tmp/site:$PWD
export FASHION_ASSETS_DATA_ROOT=$PWD/data/gpu_full
export DAGSTER_HOME=$FASHION_ASSETS_DATA_ROOT/dagster_home
mkdir -p "$DAGSTER_HOME" && cp -n dagster.yaml "$DAGSTER_HOME/dagster.yaml"
DG="python3 -m dagster job execute -m fashion_assets.definitions"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/machine.txt"
python3 -c "import torch, torchvision, dagster; print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'dagster', dagster.__version__, 'cuda', torch.cuda.is_available())" | tee -a "$OUT/machine.txt"

save() { cp benchmarks/results/*_cuda.json "$OUT/" 2>/dev/null; true; }
for stage in "$@"; do
  start=$(date +%s)
  case $stage in
    tests)
      timeout 150 python3 -m pytest -q -p no:cacheprovider fashion_assets_tests/core/test_classifier.py \
        fashion_assets_tests/assets/test_classifier.py fashion_assets_tests/assets/test_preferences.py 2>&1 | tail -15 ;;
    prepare)
      python3 -m fashion_assets.demo_data --scale 1 --seed 0 --out "$FASHION_ASSETS_DATA_ROOT/raw" --if-missing \
        && $DG -j tables_job 2>&1 | grep -E "RUN_SUCCESS|RUN_FAILURE|Error" | tail -5 \
        && $DG -j images_job 2>&1 | grep -E "RUN_SUCCESS|RUN_FAILURE|Error|backend" | tail -5 ;;
    throughput)
      timeout 200 python3 benchmarks/classifier.py --root "$FASHION_ASSETS_DATA_ROOT" --size 224 --batch 64 --steps 40 --warmup 5 2>&1 | tail -40 ;;
    pipeline)
      timeout 420 $DG -j full_pipeline_job -c configs/gpu.yaml > "$OUT/pipeline.log" 2>&1
      echo "full_pipeline_job rc=$?"; grep -E "epoch [0-9]+/|RUN_SUCCESS|RUN_FAILURE|STEP_FAILURE|device" "$OUT/pipeline.log" | tail -25
      python3 -m fashion_assets.cli.summary 2>&1 | tee "$OUT/summary.txt" | tail -60 ;;
    recipes)
      timeout 560 python3 benchmarks/classifier_recipes.py --root "$FASHION_ASSETS_DATA_ROOT" --size 224 \
        --epochs ${RECIPE_EPOCHS:-24} --per-epoch ${RECIPE_PER_EPOCH:-16384} 2>&1 | grep -v "^\s*$" | tail -80 ;;
    *) echo "unknown stage $stage"; exit 2 ;;
  esac
  echo "== stage $stage: $(( $(date +%s) - start )) s"
  save
done
