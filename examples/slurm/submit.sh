#!/bin/bash
# Queue the array and the merge that waits for it:  examples/slurm/submit.sh [sbatch options of the array]
set -euo pipefail
here=$(dirname "$0")
mkdir -p logs
run=${NEMOEVAL_RUN:-results/nemoeval-$(date +%Y%m%d-%H%M%S)}
array=$(sbatch --parsable --export=ALL,NEMOEVAL_RUN="$run" "$@" "$here/eval.sbatch")
merge=$(sbatch --parsable --dependency="afterany:${array%%;*}" --export=ALL,NEMOEVAL_RUN="$run" "$here/merge.sbatch")
echo "array job $array, merge job $merge: results in $run/merged"
