#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, without systemd or cgroups, for iw's SLURM executor
# test and for trying `iw grid --executor slurm` on a workstation.
#
#   scripts/slurm/start.sh [DIR]      # default DIR: $IW_SLURM_DIR or /tmp/iw-slurm-$UID
#   export SLURM_CONF=DIR/slurm.conf  # what the clients (sbatch, squeue, scancel) read
#   scripts/slurm/stop.sh [DIR]       # cancels every job, then stops exactly the daemons started here
#
# Everything lives under DIR: slurm.conf, the daemons' logs, state and spool folders, a private
# munge socket (AuthInfo=socket=...), and pids (munged, slurmctld, slurmd; what stop.sh stops).
# Needs Debian's slurmctld, slurmd, slurm-client and munge (`make slurm-setup`) and root (slurmd
# runs jobs as their users). Exit 3 when SLURM is not installed or does not come up.
set -euo pipefail
DIR=${1:-${IW_SLURM_DIR:-/tmp/iw-slurm-$(id -u)}}
for b in munged slurmctld slurmd sinfo; do
  command -v "$b" >/dev/null || { echo "scripts/slurm/start.sh: $b not installed (make slurm-setup)" >&2; exit 3; }
done
if [ -s "$DIR/pids" ]; then
  alive=0
  while read -r name pid; do
    [ -e "/proc/$pid" ] && [ "$(cat /proc/$pid/comm 2>/dev/null)" = "$name" ] && alive=1
  done <"$DIR/pids"
  if [ $alive = 1 ]; then echo "scripts/slurm/start.sh: a cluster is already running in $DIR (scripts/slurm/stop.sh $DIR)" >&2; exit 3; fi
fi
mkdir -p "$DIR"/{munge,ctld,spool}
DIR=$(cd "$DIR" && pwd)
: >"$DIR/pids"
HOST=$(hostname -s)
# The node as slurmd sees it (RealMemory above this would drain the node).
NODE=$(slurmd -C | head -1)
KEY=${IW_MUNGE_KEY:-/etc/munge/munge.key}
if [ ! -r "$KEY" ]; then
  KEY=$DIR/munge/munge.key
  [ -s "$KEY" ] || { dd if=/dev/urandom of="$KEY" bs=1 count=1024 status=none; chmod 600 "$KEY"; }
fi
cat >"$DIR/slurm.conf" <<CONF
# Written by scripts/slurm/start.sh: one node ($HOST), no cgroups, no accounting.
ClusterName=iw
SlurmctldHost=$HOST
SlurmUser=$(id -un)
AuthType=auth/munge
AuthInfo=socket=$DIR/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$DIR/ctld
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
SlurmctldPort=${IW_SLURMCTLD_PORT:-6817}
SlurmdPort=${IW_SLURMD_PORT:-6818}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=1
# A job depending on a failed array would otherwise hang (22.05 reads it here, not above).
DependencyParameters=kill_invalid_depend
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobRequeue=1
ReturnToService=2
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/jobcomp.txt
AccountingStorageType=accounting_storage/none
KillWait=10
$NODE State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$DIR/slurm.conf
munged --force --socket="$DIR/munge/munge.socket" --key-file="$KEY" --pid-file="$DIR/munge/munged.pid" \
  --log-file="$DIR/munge/munged.log" --seed-file="$DIR/munge/munged.seed"
echo "munged $(cat "$DIR/munge/munged.pid")" >>"$DIR/pids"
slurmctld -f "$SLURM_CONF" -i
for _ in $(seq 50); do [ -s "$DIR/slurmctld.pid" ] && break; sleep 0.1; done
echo "slurmctld $(cat "$DIR/slurmctld.pid")" >>"$DIR/pids"
slurmd -f "$SLURM_CONF"
for _ in $(seq 50); do [ -s "$DIR/slurmd.pid" ] && break; sleep 0.1; done
echo "slurmd $(cat "$DIR/slurmd.pid")" >>"$DIR/pids"
for _ in $(seq 150); do
  if [ "$(sinfo -h -o %T 2>/dev/null)" = idle ]; then
    echo "SLURM up in $DIR: export SLURM_CONF=$DIR/slurm.conf"
    exit 0
  fi
  sleep 0.2
done
echo "scripts/slurm/start.sh: the node did not become idle in 30 s (sinfo: $(sinfo -h -o '%T %E' 2>&1)); logs in $DIR" >&2
exit 3
