#!/usr/bin/env bash
# Run the hpcx test suite (`make test`): the linter (ruff), the serial tests,
# then the `mpi`-marked tests under mpirun on each rank count of
# $HPCX_TEST_NPS (default "2 3").  Exits non-zero if any step fails.  Extra
# arguments are passed to every pytest run.
#
# Only rank 0's pytest output goes to the terminal; the other ranks write
# build/test-logs/pytest-mpi.rank<N>.log, printed when the MPI step fails.
#
# Environment:
#   HPCX_VENV        venv directory (default .venv)
#   HPCX_TEST_NPS    rank counts of the MPI steps (default "2 3")
#   MPIRUN           MPI launcher (default mpirun)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1

VENV="${HPCX_VENV:-$ROOT/.venv}"
VPY="$VENV/bin/python"
NPS="${HPCX_TEST_NPS:-2 3}"
MPIRUN="${MPIRUN:-mpirun}"
LOGDIR="$ROOT/build/test-logs"

# A kernel that failed to build, or a missing slepc4py, fails its tests instead of skipping them.
export HPCX_TEST_STRICT=1
# One thread per rank: 2 ranks on 2 cores, no OpenMP oversubscription.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
export MPLBACKEND="${MPLBACKEND:-Agg}"

MPIRUN_FLAGS=()
if [[ "$(id -u)" -eq 0 ]]; then
    MPIRUN_FLAGS+=(--allow-run-as-root --oversubscribe)
fi

[[ -x "$VPY" ]] || { echo "run-tests: $VPY missing: run 'make setup'" >&2; exit 1; }
mkdir -p "$LOGDIR"
rm -f "$LOGDIR"/pytest-*.log

# --- lint ------------------------------------------------------------------------
echo "=== hpcx tests: ruff check ==="
if [[ -x "$VENV/bin/ruff" ]]; then
    "$VENV/bin/ruff" check "$ROOT"
    lint_rc=$?
else
    echo "run-tests: $VENV/bin/ruff missing: run 'make setup'" >&2
    lint_rc=1
fi

# --- serial ------------------------------------------------------------------
echo "=== hpcx tests: serial (pytest -m 'not mpi') ==="
"$VPY" -m pytest -m "not mpi" -q "$@" 2>&1 | tee "$LOGDIR/pytest-serial.log"
serial_rc=${PIPESTATUS[0]}

# --- MPI -----------------------------------------------------------------------
# Count the mpi tests first: pytest exits 5 when it collects none, which is
# fine only if there genuinely are none.  Under mpirun exit 5 is a failure.
n_mpi="$("$VPY" -m pytest -m mpi --collect-only -q -p no:cacheprovider "$@" 2>/dev/null \
    | grep -c '::' || true)"
mpi_rc=0
if [[ "$n_mpi" -eq 0 ]]; then
    # tell a collection error apart from "no mpi tests"
    "$VPY" -m pytest -m mpi --collect-only -q -p no:cacheprovider "$@" >"$LOGDIR/pytest-mpi-collect.log" 2>&1
    rc=$?
    if [[ $rc -ne 0 && $rc -ne 5 ]]; then
        cat "$LOGDIR/pytest-mpi-collect.log"
        mpi_rc=$rc
    else
        echo "=== hpcx tests: MPI: no tests marked 'mpi', step skipped ==="
    fi
else
    for NP in $NPS; do
        echo "=== hpcx tests: MPI ($n_mpi tests under $MPIRUN -n $NP) ==="
        # timeout_method=thread: a hung test exits its rank, so mpirun aborts the
        # job instead of leaving the other ranks waiting in a collective.
        # shellcheck disable=SC2016  # the inner script expands on each rank
        "$MPIRUN" "${MPIRUN_FLAGS[@]}" -x OMP_NUM_THREADS -x HPCX_TEST_STRICT -x MPLBACKEND \
            -n "$NP" bash -c '
                rank="${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-0}}"
                if [[ "$rank" == 0 ]]; then
                    exec "$0" -m pytest -p no:cacheprovider --color=no -o timeout_method=thread --timeout=300 "$@"
                else
                    exec "$0" -m pytest -p no:cacheprovider --color=no -o timeout_method=thread --timeout=300 "$@" \
                        >"'"$LOGDIR"'/pytest-mpi'"$NP"'.rank$rank.log" 2>&1
                fi' "$VPY" -m mpi -q "$@" 2>&1 | tee "$LOGDIR/pytest-mpi$NP.log"
        rc=${PIPESTATUS[0]}
        if [[ $rc -ne 0 ]]; then
            mpi_rc=$rc
            for f in "$LOGDIR"/pytest-mpi"$NP".rank*.log; do
                [[ -e "$f" ]] || continue
                echo "--- ${f#"$ROOT"/} ---"
                tail -n 60 "$f"
            done
        fi
    done
fi

# --- verdict -------------------------------------------------------------------
# pytest -q ends with e.g. "2 failed, 10 passed, 1 skipped in 3.21s".  Add up
# both steps into one closing line, so the log ends with the whole count.
summary_of() {  # the pytest summary line of a log (mpirun may print after it)
    grep -E '[0-9]+ (passed|failed|errors?|skipped|deselected)|no tests ran' "$1" 2>/dev/null \
        | grep -E ' in [0-9.]+s' | tail -n 1
}
num() {  # num WORD LINE: N from "N WORD" in LINE, else 0
    local n
    n="$(grep -oE "[0-9]+ $1" <<<"$2" | grep -oE '^[0-9]+' | head -n 1)"
    echo "${n:-0}"
}
serial_summary="$(summary_of "$LOGDIR/pytest-serial.log")"
passed=$(num passed "$serial_summary")
failed=$(( $(num failed "$serial_summary") + $(num 'errors?' "$serial_summary") ))
skipped=$(num skipped "$serial_summary")
if [[ "$n_mpi" -gt 0 ]]; then
    for NP in $NPS; do
        # rank 0 prints the summary; a test that failed on any rank failed.
        mpi_summary="$(summary_of "$LOGDIR/pytest-mpi$NP.log")"
        r0_failed=$(( $(num failed "$mpi_summary") + $(num 'errors?' "$mpi_summary") ))
        mpi_failed="$(cat "$LOGDIR"/pytest-mpi"$NP".log "$LOGDIR"/pytest-mpi"$NP".rank*.log 2>/dev/null \
            | grep -E '^(FAILED|ERROR) ' | awk '{print $2}' | sort -u | grep -c . || true)"
        ((mpi_failed >= r0_failed)) || mpi_failed=$r0_failed
        mpi_passed=$(( $(num passed "$mpi_summary") - (mpi_failed - r0_failed) ))
        ((mpi_passed >= 0)) || mpi_passed=0
        passed=$((passed + mpi_passed))
        failed=$((failed + mpi_failed))
        skipped=$((skipped + $(num skipped "$mpi_summary")))
    done
fi

# serial exit 5 (nothing collected) is fine when the MPI step ran tests
if [[ $serial_rc -eq 5 && "$n_mpi" -gt 0 && $mpi_rc -eq 0 ]]; then
    serial_rc=0
fi
# a crash or abort leaves no pytest count: still report the step as failed
for rc in "$lint_rc" "$serial_rc" "$mpi_rc"; do
    if [[ $rc -ne 0 && $failed -eq 0 ]]; then failed=1; fi
done
echo "=== hpcx tests: ruff exit $lint_rc, serial exit $serial_rc, MPI exit $mpi_rc (ranks: $NPS) (serial: $serial_summary) ==="
echo "total: $passed passed, $failed failed, $skipped skipped"
if [[ $lint_rc -ne 0 || $serial_rc -ne 0 || $mpi_rc -ne 0 ]]; then
    exit 1
fi
exit 0
