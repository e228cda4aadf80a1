#!/usr/bin/env bash
# `make scaling`: the strong-scaling study of docs/performance.md ("Scaling"):
# transport, scattering, bse and bse --matrix-free, each on 1 and 2 ranks
# (one after the other, OMP_NUM_THREADS=1), then `hpcx scaling` per benchmark.
#
#   build/scaling/<name>_n<R>.json    hpcx bench --json of each run
#   build/scaling/<name>.md, .png     hpcx scaling: table, projection, figure
#   build/scaling/uptime.log          `uptime` before every run (the load)
#
# Wall-clock ratios need a quiet machine: run it with nothing else running.
# A JSON file that exists is not measured again (delete it to redo); the
# commands are printed before they run.
#
# Environment:
#   BENCHES   which ones (default "transport scattering bse bse-matfree")
#   RANKS     rank counts (default "1 2")
#   HPCX_VENV venv (default .venv)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${HPCX_VENV:-$ROOT/.venv}"
HPCX="$VENV/bin/hpcx"
OUT="$ROOT/build/scaling"
BENCHES="${BENCHES:-transport scattering bse bse-matfree}"
RANKS="${RANKS:-1 2}"
export OMP_NUM_THREADS=1 MPLBACKEND=Agg
MPIRUN=(mpirun)
[[ "$(id -u)" -ne 0 ]] || MPIRUN+=(--allow-run-as-root --oversubscribe)

# The benchmark arguments: the problem sizes of docs/performance.md's sections,
# the same on every rank count (strong scaling).
args_of() {
    case "$1" in
        transport) echo "transport" ;;
        scattering) echo "scattering --grids 9 15 21" ;;
        bse) echo "bse --grids 15 27 --tiles 8 16 --supercell-grid 3 --repeat 3" ;;
        bse-matfree) echo "bse --matrix-free --grids 60 120 225 --repeat 3" ;;
        *) echo "scaling: unknown benchmark '$1' (transport scattering bse bse-matfree)" >&2; return 1 ;;
    esac
}

mkdir -p "$OUT"
for name in $BENCHES; do
    read -r -a args <<<"$(args_of "$name")"
    files=()
    for r in $RANKS; do
        json="$OUT/${name}_n${r}.json"
        files+=("$json")
        if [[ -f "$json" ]]; then
            echo "scaling: $json exists; not measured again"
            continue
        fi
        echo "$(date '+%F %T') $name n=$r: $(uptime)" | tee -a "$OUT/uptime.log"
        cmd=("${MPIRUN[@]}" -x OMP_NUM_THREADS -n "$r" "$HPCX" bench "${args[@]}" --json "$json.tmp")
        echo "scaling: ${cmd[*]}"
        "${cmd[@]}"
        mv "$json.tmp" "$json"
    done
    "$HPCX" scaling "${files[@]}" -o "$OUT/$name"
done
echo "scaling: results in $OUT (tables $OUT/*.md, figures $OUT/*.png)"
