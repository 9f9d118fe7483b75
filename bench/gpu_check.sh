#!/usr/bin/env bash
# The CUDA path end to end on a GPU machine: a short mnist5k training run on CUDA (bf16 autocast, maps, figures)
# and the step-throughput bench on the GPU. Run from the repository root; OUT (default /tmp/gpu_check) collects
# the run folder and the logs. Extra Python packages the GPU machine lacks (umap-learn, pynndescent) may be put
# in .gpu_pkgs/, which goes first on PYTHONPATH.
#
#     OUT=/tmp/gpu bash bench/gpu_check.sh
set -uo pipefail
OUT=${OUT:-/tmp/gpu_check}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
export PYTHONPATH="$PWD/.gpu_pkgs:$PWD${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
echo "== training 3 epochs of mnist5k on CUDA"
start=$(date +%s)
"$PY" train_cli.py --dataset mnist5k --sup-frac 0.5 --epochs 3 --device cuda --map-points 2000 \
    --out "$OUT/cuda_run" --quiet > "$OUT/train.log" 2>&1
echo "train rc=$? in $(( $(date +%s) - start )) s"
tail -n 12 "$OUT/train.log"
echo "== the generated colour shapes (64x64 RGB, 3 binary attributes, half labelled), 15 epochs on CUDA"
"$PY" -m core.data.synthetic "$OUT/shapes" --count 800 --size 64 > /dev/null
start=$(date +%s)
"$PY" train_cli.py --dataset folder --data-dir "$OUT/shapes" --image-size 64 --channels 3 --sup-frac 0.5 \
    --epochs 15 --device cuda --no-maps --out "$OUT/shapes_run" --quiet > "$OUT/shapes.log" 2>&1
echo "shapes rc=$? in $(( $(date +%s) - start )) s"
tail -n 2 "$OUT/shapes.log"
rm -rf "$OUT/shapes"
echo "== step throughput on the GPU"
"$PY" bench/train_throughput.py --device cuda --steps 30 2>&1 | tail -n 1 | tee "$OUT/throughput.json"
"$PY" bench/train_throughput.py --device cuda --steps 30 --sizes 2>&1 | tail -n 1 | tee "$OUT/throughput_sizes.json"
rm -f "$OUT"/*/checkpoint.pt
