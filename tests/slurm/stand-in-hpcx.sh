#!/bin/bash
# A stand-in for the hpcx command in tests/slurm/run.sh, to test the job
# scripts' stop-and-requeue logic on its own: it behaves as the shared
# interface prescribes (SIGUSR1/SIGTERM -> write the checkpoint, exit 75) and
# costs no CPU.
#
#   hpcx info | validate CONFIG        print one line, exit 0
#   hpcx run CONFIG -o OUT [...]       count from the checkpoint OUT.checkpoint/count
#                                      (or 0) to CONFIG's `steps = N`, one step per
#                                      second; on SIGUSR1/SIGTERM save the count and
#                                      exit 75; at N write OUT ("count=N attempts=A")
#                                      and remove the checkpoint
set -u
case "${1:-}" in
    info) echo "stand-in hpcx (tests/slurm)"; exit 0 ;;
    validate) echo "$2: valid stand-in config"; exit 0 ;;
    run) ;;
    *) echo "stand-in hpcx: unknown command ${1:-}" >&2; exit 2 ;;
esac
config="$2"
out="$4"
steps="$(sed -n 's/^steps *= *\([0-9]*\).*/\1/p' "$config")"
ck="$out.checkpoint"
mkdir -p "$ck"
count="$(cat "$ck/count" 2>/dev/null || echo 0)"
attempts=$(( $(cat "$ck/attempts" 2>/dev/null || echo 0) + 1 ))
echo "$attempts" >"$ck/attempts"
stop=""
trap 'stop=1' USR1 TERM
echo "stand-in hpcx: attempt $attempts, resuming at step $count of $steps"
while (( count < steps )); do
    sleep 1 &
    wait $! || true
    count=$((count + 1))
    echo "$count" >"$ck/count.tmp" && mv "$ck/count.tmp" "$ck/count"
    if [[ -n "$stop" ]]; then
        echo "stand-in hpcx: stopped at step $count, checkpoint written; rerun to continue"
        exit 75
    fi
done
echo "count=$count attempts=$attempts" >"$out"
rm -rf "$ck"
echo "stand-in hpcx: finished $out"
