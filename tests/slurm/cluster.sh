# A throwaway Slurm cluster on localhost for the script tests: munged, slurmctld and slurmd
# started from a generated slurm.conf in a fresh folder, stopped by PID.
#
# Source it after tests/fixtures/common.sh, then:
#   start_cluster DIR     starts the daemons (DIR must be short: unix sockets live in it)
#   stop_cluster          stops them, slurmd first; safe to call twice (the caller's EXIT trap)
#   wait_job ID SECONDS   waits until the job (every task of an array) has left the queue;
#                         fails after SECONDS
#   job_field ID KEY      a field of `scontrol show job` (e.g. Restarts, JobState, ExitCode)
#
# The settings are the ones verified on these machines (shared notes, slurm-on-localhost):
# pgid process tracking (cgroups are not mounted; linuxproc leaks a requeued job's children),
# CR_Core so jobs share the node, short cred_expire and 1 s scheduler intervals so a requeued
# job runs again within seconds. Ports are picked free so parallel clusters do not collide.

CLUSTER_PIDS=()
CLUSTER_DIR=""

# Two free TCP ports on localhost, one per line.
free_ports() {
  "${MOLT_PYTHON:-/usr/bin/python3}" - <<'PY'
import socket
sockets = [socket.socket() for _ in range(2)]
for s in sockets:
    s.bind(("127.0.0.1", 0))
for s in sockets:
    print(s.getsockname()[1])
PY
}

write_slurm_conf() {
  local dir=$1 ctld_port=$2 slurmd_port=$3
  cat >"$dir/slurm.conf" <<EOF
ClusterName=molttest
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket.2,cred_expire=5
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/slurmd
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1,sched_interval=1
ReturnToService=2
JobRequeue=1
MailProg=/bin/true
MpiDefault=none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
MinJobAge=300
KillWait=10
NodeName=localhost NodeAddr=127.0.0.1 CPUs=2 RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

# wait_for SECONDS WHAT CMD...: polls CMD every 0.2 s until it succeeds.
wait_for() {
  local seconds=$1 what=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || { cluster_logs; fail "timed out after ${seconds}s: $what"; }
    sleep 0.2
  done
}

cluster_logs() {
  [ -n "$CLUSTER_DIR" ] || return 0
  echo "--- slurm logs (last lines) ---" >&2
  tail -n 20 "$CLUSTER_DIR"/log/*.log >&2 || true
}

node_idle() { [ "$(sinfo -h -o %T 2>/dev/null)" = "idle" ]; }

start_cluster() {
  local dir=$1
  [ ${#dir} -lt 80 ] || fail "cluster folder $dir is too long for unix socket paths"
  CLUSTER_DIR=$dir
  mkdir -p "$dir/state" "$dir/spool/slurmd" "$dir/log" "$dir/run" "$dir/munge"
  chmod 755 "$dir" "$dir/munge"  # munged refuses a socket folder others cannot traverse
  local ports
  ports=($(free_ports))
  write_slurm_conf "$dir" "${ports[0]}" "${ports[1]}"
  export SLURM_CONF=$dir/slurm.conf
  mungekey --create --keyfile="$dir/munge/munge.key" >/dev/null 2>&1 || fail "mungekey failed"
  munged -F --socket="$dir/munge/munge.socket.2" --key-file="$dir/munge/munge.key" \
    --log-file="$dir/log/munged.log" --pid-file="$dir/run/munged.pid" \
    --seed-file="$dir/munge/seed" >/dev/null 2>&1 &
  CLUSTER_PIDS=($!)
  wait_for 10 "munged socket" test -S "$dir/munge/munge.socket.2"
  slurmctld -D >"$dir/log/slurmctld.out" 2>&1 &
  CLUSTER_PIDS=($! "${CLUSTER_PIDS[@]}")
  slurmd -D -N localhost >"$dir/log/slurmd.out" 2>&1 &
  CLUSTER_PIDS=($! "${CLUSTER_PIDS[@]}")
  wait_for 30 "node idle" node_idle
}

# Stops slurmd, slurmctld, munged (newest first), each by its PID, waiting at most 10 s each.
stop_cluster() {
  local pid
  for pid in "${CLUSTER_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  CLUSTER_PIDS=()
}

job_field() {
  scontrol show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

# True while any task of the job is pending, running, completing or requeued.
job_active() {
  squeue -h -j "$1" -t PD,R,CG,CF,RQ,RS,S 2>/dev/null | grep -q .
}

wait_job() {
  local id=$1 seconds=$2
  wait_for "$seconds" "job $id to finish" eval "! job_active $id"
}
