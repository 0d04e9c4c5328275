#!/usr/bin/env bash
# The DeepSeek-R1 recipe in miniature, as a sequence of this project's own commands, on the CPU:
#
#   0. setup      synthetic sums, a tiny untrained Llama              grpo demo --setup-only
#   1. cold start SFT on worked <think>/<answer> solutions           grpo sft
#   2. RL         GRPO rewarded by format and math                    grpo train
#   3. rejection  sample the RL model 8x per prompt, keep what        grpo sample | verify --keep
#      sampling   passes (at most 2 distinct answers per prompt)
#   4. SFT        on the kept samples, from the RL model              grpo sft
#   5. RL again   GRPO from the stage-4 model                         grpo train
#
# After each training stage the model's greedy accuracy on held-out problems is measured with
# `grpo sample --greedy` and `verify`. Usage (about 3 minutes on 2 cores; runs/pipeline/), with .venv active:
#
#     bash examples/r1_pipeline.sh [OUT_DIR]
#
# Stage lengths come from the environment (SFT1_STEPS, GRPO1_STEPS, RS_PROMPTS, RS_SAMPLES,
# SFT2_STEPS, GRPO2_STEPS, EVAL_PROBLEMS, KEEP); tests/grpo/test_pipeline.py runs a shortened copy.
set -euo pipefail

OUT=${1:-runs/pipeline}
SFT1_STEPS=${SFT1_STEPS:-150}
GRPO1_STEPS=${GRPO1_STEPS:-40}
RS_PROMPTS=${RS_PROMPTS:-256}
RS_SAMPLES=${RS_SAMPLES:-8}
SFT2_STEPS=${SFT2_STEPS:-40}
GRPO2_STEPS=${GRPO2_STEPS:-20}
EVAL_PROBLEMS=${EVAL_PROBLEMS:-200}
REWARD=${REWARD:-format & math}
KEEP=${KEEP:-passed}   # the rejection rule; the shortened test keeps everything (reward>=0)
FIX=$(cd "$(dirname "$0")/.." && pwd)/fixtures
TOKENS=24   # the demo's sums need ~20 completion tokens

final() { ls -d "$1"/checkpoints/step_*/model | tail -n 1; }   # newest checkpoint of a stage

evaluate() {  # evaluate STAGE MODEL: greedy pass rate on the held-out problems
    grpo sample "$2" "$OUT/data/test.jsonl" --greedy --limit "$EVAL_PROBLEMS" --max-new-tokens $TOKENS \
        --threads 1 -o "$OUT/eval/$1.jsonl" 2>/dev/null
    verify "$OUT/eval/$1.jsonl" --reward "$REWARD" -q -o "$OUT/eval/$1.scored.jsonl"
    "${PYTHON:-python3}" - "$1" "$OUT/eval/$1.scored.jsonl" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[2])]
print(f"== {sys.argv[1]}: greedy accuracy {sum(r['passed'] for r in rows) / len(rows):.1%} on {len(rows)} held-out problems")
PY
}

echo "== 0. setup: data and an untrained model in $OUT"
grpo demo --out "$OUT" --setup-only >/dev/null
common=(tokenizer="$OUT/init" progress=false)
evaluate 0-init "$OUT/init"

echo "== 1. cold-start SFT ($SFT1_STEPS steps)"
grpo sft "$FIX/grpo_sft_demo.yaml" model="$OUT/init" data="$OUT/data/sft.jsonl" output_dir="$OUT/1-sft" \
    steps="$SFT1_STEPS" "${common[@]}"
evaluate 1-sft "$(final "$OUT/1-sft")"

echo "== 2. GRPO ($GRPO1_STEPS steps)"
grpo train "$FIX/grpo_demo.yaml" model="$(final "$OUT/1-sft")" data="$OUT/data/grpo.jsonl" \
    output_dir="$OUT/2-grpo" steps="$GRPO1_STEPS" reward="$REWARD" "${common[@]}"
evaluate 2-grpo "$(final "$OUT/2-grpo")"

echo "== 3. rejection sampling: $RS_SAMPLES samples x $RS_PROMPTS prompts, keep $KEEP, <= 2 answers each"
grpo sample "$(final "$OUT/2-grpo")" "$OUT/data/grpo.jsonl" -n "$RS_SAMPLES" --limit "$RS_PROMPTS" \
    --max-new-tokens $TOKENS --threads 1 --seed 1 -o "$OUT/3-samples.jsonl" 2>/dev/null
verify "$OUT/3-samples.jsonl" --reward "$REWARD" --group-key prompt --keep "$KEEP" --max-per-group 2 \
    --dedupe -o "$OUT/3-kept.jsonl"
if [ ! -s "$OUT/3-kept.jsonl" ]; then
    echo "rejection sampling kept nothing: train stages 1-2 longer" >&2
    exit 1
fi

echo "== 4. SFT on $(wc -l < "$OUT/3-kept.jsonl") kept samples ($SFT2_STEPS steps, from the GRPO model)"
grpo sft "$FIX/grpo_sft_demo.yaml" model="$(final "$OUT/2-grpo")" data="$OUT/3-kept.jsonl" \
    output_dir="$OUT/4-sft" steps="$SFT2_STEPS" lr=3.0e-4 warmup_steps=0 "${common[@]}"
evaluate 4-sft "$(final "$OUT/4-sft")"

echo "== 5. GRPO again ($GRPO2_STEPS steps)"
grpo train "$FIX/grpo_demo.yaml" model="$(final "$OUT/4-sft")" data="$OUT/data/grpo.jsonl" \
    output_dir="$OUT/5-grpo" steps="$GRPO2_STEPS" reward="$REWARD" seed=1 "${common[@]}"
evaluate 5-grpo "$(final "$OUT/5-grpo")"
echo "== done: models under $OUT/*/checkpoints, greedy evaluations under $OUT/eval"
