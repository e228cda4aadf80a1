#!/bin/bash
# hpcx: a multi-stage pipeline as a chain of SLURM jobs, each stage starting
# only when the previous one finished successfully.        (docs/jobscripts.md)
#
#   jobscripts/hpcx-pipeline.sh moire.toml scattering.toml transport.toml
#   jobscripts/hpcx-pipeline.sh moire.toml --nodes=4 --time=12:00:00 scattering.toml transport.toml
#
# Run it on the login node (not with sbatch).  Every CONFIG becomes one job of
# jobscripts/hpcx-run.slurm (next to this script) submitted with
# --dependency=afterok:<previous job> --kill-on-invalid-dep=yes, so a failed
# stage cancels the stages after it.  sbatch options (arguments starting with
# "-") apply to the next CONFIG only; options for every stage go into the
# environment (SBATCH_PARTITION, SBATCH_ACCOUNT, SBATCH_TIMELIMIT, ...).
#
# A stage reads the previous stage's finished file by its path in the config
# (`input = "hpcx-runs/moire.h5"`: hpcx-run.slurm writes
# $HPCX_OUTDIR/<config stem>.h5, default hpcx-runs/ in the submit directory).
# A stage that stops at a checkpoint requeues itself under the same job id, so
# the stages after it keep waiting for it.  Prints one job id per stage.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
JOBSCRIPT="${HPCX_RUN_SCRIPT:-$HERE/hpcx-run.slurm}"

if [[ $# -lt 1 || "$1" == -h || "$1" == --help ]]; then
    echo "usage: $0 [SBATCH_OPTION...] CONFIG [[SBATCH_OPTION...] CONFIG ...]" >&2
    exit 2
fi
[[ -f "$JOBSCRIPT" ]] || { echo "hpcx-pipeline: $JOBSCRIPT not found" >&2; exit 2; }

# Check every stage's arguments before submitting any job.
configs=()
for arg in "$@"; do
    [[ "$arg" == -* ]] && continue
    [[ -f "$arg" ]] || { echo "hpcx-pipeline: config $arg not found in $PWD" >&2; exit 2; }
    configs+=("$arg")
done
((${#configs[@]})) || { echo "hpcx-pipeline: no config given" >&2; exit 2; }
[[ "${!#}" != -* ]] || { echo "hpcx-pipeline: options after the last config apply to nothing" >&2; exit 2; }

previous=""
options=()
stage=0
for arg in "$@"; do
    if [[ "$arg" == -* ]]; then
        options+=("$arg")
        continue
    fi
    stage=$((stage + 1))
    dependency=()
    [[ -z "$previous" ]] || dependency=(--dependency="afterok:$previous" --kill-on-invalid-dep=yes)
    job="$(sbatch --parsable --job-name="hpcx-$stage-$(basename "$arg" .toml)" \
        "${dependency[@]}" "${options[@]}" "$JOBSCRIPT" "$arg")"
    job="${job%%;*}"                 # "jobid;cluster" on multi-cluster sites
    echo "hpcx-pipeline: stage $stage/${#configs[@]}: $arg -> job $job${previous:+ (after $previous)}" >&2
    echo "$job"
    previous="$job"
    options=()
done
