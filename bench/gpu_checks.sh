#!/usr/bin/env bash
# The GPU checks of the scale issue, for a machine lent for a short time. Each part fits
# in one 10-minute command; run them one by one or all together.
#
#   bench/gpu_checks.sh throughput   # the BENCHMARKS.md GPU table (eager, bf16+CL, compile)
#   bench/gpu_checks.sh train        # resnet110 with every speed option, then resume
#   bench/gpu_checks.sh ddp          # NCCL through --nproc (all GPUs, 2 or more), --sync-bn
#   bench/gpu_checks.sh reproduce    # resdsl reproduce --gpus N --per-device 4, then rerun
#   bench/gpu_checks.sh laptop       # fig6-cpu (the laptop's Figure 6) on the GPU, timed
#   bench/gpu_checks.sh all
#
# `laptop` needs Fashion-MNIST's four IDX files in data/fashion-mnist/ (the GPU machine
# reaches no network): copy them from /usr/share/datasets/fashion-mnist and carry data/.
#
# Results go to $OUT (or gpu-checks/): one .txt per part, the device in device.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-gpu-checks}
mkdir -p "$out"
export PYTHONUNBUFFERED=1

device() {
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
    date -u +%Y-%m-%dT%H:%MZ
}

throughput() {
    python bench/train_throughput.py --device cuda --modes fp32,bf16-cl,bf16-cl-compile
}

train() {
    # 1200 iterations of the paper's recipe on synthetic CIFAR-sized data: the trainer's
    # own images/s in metrics.jsonl, CUDA graphs included. Then drop the last checkpoint
    # and resume, as after a kill: the run must end where it ended (up to cuDNN's
    # nondeterminism, which the trainer leaves on for speed: the gap is printed).
    local run="$out/resnet110" flags=(--data synthetic:50000 --iterations 1200
        --checkpoint-every 600 --eval-every 600 --log-every 200 --compile --channels-last)
    rm -rf "$run"
    resdsl train specs/resnet110.res "${flags[@]}" --out "$run"
    cp "$run/checkpoints/ckpt_001200.pt" "$out/first_ckpt_001200.pt"
    rm "$run/checkpoints/ckpt_001200.pt"
    resdsl train specs/resnet110.res --resume "$run" --compile
    python - "$out/first_ckpt_001200.pt" "$run/checkpoints/ckpt_001200.pt" <<'EOF'
import sys
from resdsl.train.checkpoint import load_checkpoint
a, b = (load_checkpoint(p)["model"] for p in sys.argv[1:])
gap = max((a[k].double() - b[k].double()).abs().max().item() for k in a)
print(f"resumed run against uninterrupted run: largest weight difference {gap:.3g}")
EOF
}

ddp() {
    local gpus
    gpus=$(nvidia-smi --list-gpus | wc -l)
    if [ "$gpus" -lt 2 ]; then
        # NCCL refuses two ranks on one GPU, and one rank needs no process group.
        echo "skipped: NCCL needs two GPUs or more, this machine has $gpus"
        return
    fi
    rm -rf "$out/ddp"
    resdsl train specs/resnet56.res --nproc "$gpus" --sync-bn --data synthetic:50000 \
        --iterations 600 --log-every 100 --eval-every 600 --out "$out/ddp"
}

reproduce() {
    # Four runs a GPU at once (small CIFAR nets do not fill one), each seeing its GPU alone;
    # then the same command again: every run finished, so it only skips and reports.
    local gpus
    gpus=$(nvidia-smi --list-gpus | wc -l)
    rm -rf "$out/fig6"
    time resdsl reproduce fig6 --only plain20,plain56,resnet20,resnet56,resnet110 \
        --data synthetic:50000 --iterations 600 --log-every 100 --checkpoint-every 300 \
        --gpus "$gpus" --per-device 4 --out "$out/fig6"
    time resdsl reproduce fig6 --only plain20,plain56,resnet20,resnet56,resnet110 \
        --data synthetic:50000 --iterations 600 --gpus "$gpus" --per-device 4 --out "$out/fig6"
    cat "$out/fig6/history.jsonl"
}

laptop() {
    # The experiment a laptop runs in half an hour, on the GPU: 4 runs at once.
    rm -rf "$out/fig6-cpu"
    time resdsl reproduce fig6-cpu --data-dir data --per-device 4 --out "$out/fig6-cpu"
}

parts=("$@")
[ ${#parts[@]} -eq 0 ] || [ "${parts[0]}" = all ] && parts=(throughput train ddp reproduce laptop)
device | tee "$out/device.txt"
for part in "${parts[@]}"; do
    echo "== $part" >&2
    "$part" 2>&1 | tee "$out/$part.txt"
done
