#!/usr/bin/env bash
# Stops the cluster scripts/slurm/start.sh started in DIR: cancels its jobs first (their
# processes would outlive slurmd), then ends exactly the daemons whose pids it recorded, checking
# each pid still runs that daemon.
set -uo pipefail
DIR=${1:-${IW_SLURM_DIR:-/tmp/iw-slurm-$(id -u)}}
[ -s "$DIR/pids" ] || { echo "scripts/slurm/stop.sh: no cluster recorded in $DIR"; exit 0; }
export SLURM_CONF=$DIR/slurm.conf
if squeue -h >/dev/null 2>&1; then
  ids=$(squeue -h -o %A)
  [ -n "$ids" ] && scancel $ids
  for _ in $(seq 100); do [ -z "$(squeue -h -o %A 2>/dev/null)" ] && break; sleep 0.2; done
fi
# slurmd, slurmctld, munged: the reverse of the start order.
tac "$DIR/pids" | while read -r name pid; do
  if [ -e "/proc/$pid" ] && [ "$(cat /proc/$pid/comm 2>/dev/null)" = "$name" ]; then
    kill "$pid"
    for _ in $(seq 50); do [ -e "/proc/$pid" ] || break; sleep 0.1; done
    [ -e "/proc/$pid" ] && kill -9 "$pid"
  fi
done
: >"$DIR/pids"
echo "SLURM in $DIR stopped"
