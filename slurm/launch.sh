# Shared by train.sbatch, multinode.sbatch and sweep-array.sbatch: sourced, never submitted.
#
# It starts `molt train` on every task of the allocation and turns a preemption into a
# requeue:
#
#   Slurm --signal=B:USR1@S, `scancel --signal=USR1 --batch`, or SIGTERM at the time limit
#     -> this script (the batch shell) catches it and sends SIGUSR1 to the launcher
#     -> srun / mpirun forward SIGUSR1 to every rank
#     -> molt finishes the current step, all ranks agree to stop, rank 0 writes a
#        checkpoint, every rank exits with status 75
#     -> this script runs `scontrol requeue $SLURM_JOB_ID`; Slurm runs the script again
#        (SLURM_RESTART_COUNT=1, 2, ...) and molt resumes from RUN/checkpoints/latest.
#
# The launcher runs in the background and the script `wait`s for it, because bash runs a
# trap only between commands: a foreground launcher would hold the signal until it exited.
#
# Environment (all optional):
#   MOLT_BIN            the molt binary (default: `molt` on PATH)
#   MOLT_LAUNCHER       auto | srun | mpirun (auto: srun --mpi=pmix when the site's srun
#                       has PMIx, else mpirun)
#   MOLT_NCCL=1         export NCCL settings for GPU runs (see molt_nccl_env)
#   MOLT_REQUEUE=0      never requeue (a preempted run then just stops with status 75)
#   MOLT_MAX_REQUEUES   give up requeueing after this many restarts (default 100)

MOLT_BIN=${MOLT_BIN:-molt}
MOLT_LAUNCHER=${MOLT_LAUNCHER:-auto}
MOLT_EXIT_STOPPED=75  # jobs/trainer.h kExitStopped: checkpointed on request, rerun to resume
molt_signalled=""
molt_child=""

molt_log() { echo "[molt-slurm $(date +%H:%M:%S) job ${SLURM_JOB_ID:-?}] $*"; }

# One thread per CPU Slurm gave the task (molt also caps threads by ranks per node).
if [ -n "${SLURM_CPUS_PER_TASK:-}" ]; then export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$SLURM_CPUS_PER_TASK}; fi

# NCCL over the cluster network, only when asked: the defaults are right on one node.
molt_nccl_env() {
  [ "${MOLT_NCCL:-0}" = "1" ] || return 0
  export NCCL_DEBUG=${NCCL_DEBUG:-WARN}
  # Which interface carries the bootstrap and socket traffic, e.g. MOLT_NCCL_IFNAME=ib0.
  if [ -n "${MOLT_NCCL_IFNAME:-}" ]; then export NCCL_SOCKET_IFNAME=$MOLT_NCCL_IFNAME; fi
  # Which InfiniBand adapters to use, e.g. MOLT_NCCL_IB_HCA=mlx5.
  if [ -n "${MOLT_NCCL_IB_HCA:-}" ]; then export NCCL_IB_HCA=$MOLT_NCCL_IB_HCA; fi
  molt_log "NCCL: $(env | grep '^NCCL_' | tr '\n' ' ')"
}

# The command that starts one process per Slurm task.
molt_launcher() {
  local kind=$MOLT_LAUNCHER
  if [ "$kind" = "auto" ]; then
    if srun --mpi=list 2>&1 | grep -q pmix; then kind=srun; else kind=mpirun; fi
  fi
  case "$kind" in
    srun) echo "srun --mpi=pmix --kill-on-bad-exit=1" ;;
    mpirun) echo "mpirun -np ${SLURM_NTASKS:-1}" ;;
    *) echo "MOLT_LAUNCHER must be auto, srun or mpirun, not '$kind'" >&2; return 2 ;;
  esac
}

molt_forward_stop() {
  molt_signalled=$1
  molt_log "caught SIG$1: asking molt to checkpoint and stop"
  if [ -n "$molt_child" ]; then kill -USR1 "$molt_child" 2>/dev/null || true; fi
}

# molt_train ARGS...: runs `molt train ARGS...` on every task; returns molt's status, after
# requeueing the job when molt stopped for a preemption.
molt_train() {
  local launcher status
  launcher=$(molt_launcher) || return 2
  molt_nccl_env
  molt_log "restart ${SLURM_RESTART_COUNT:-0}: $launcher $MOLT_BIN train $*"
  trap 'molt_forward_stop USR1' USR1
  trap 'molt_forward_stop TERM' TERM
  $launcher "$MOLT_BIN" train "$@" &
  molt_child=$!
  # `wait` returns early (status > 128) when a trap runs; wait again until the launcher exits.
  while :; do
    status=0
    wait "$molt_child" || status=$?
    kill -0 "$molt_child" 2>/dev/null || break
  done
  molt_child=""
  trap - USR1 TERM
  molt_log "molt exited with status $status"
  if molt_should_requeue "$status"; then
    molt_log "requeueing: the next start resumes from the latest checkpoint"
    scontrol requeue "$SLURM_JOB_ID"
  fi
  return "$status"
}

# Requeue when molt stopped on request (status 75), or when a preemption signal came and
# molt did not finish; never when it finished (0) or after MOLT_MAX_REQUEUES restarts.
molt_should_requeue() {
  local status=$1
  [ "${MOLT_REQUEUE:-1}" != "0" ] || return 1
  [ "$status" -ne 0 ] || return 1
  if [ "${SLURM_RESTART_COUNT:-0}" -ge "${MOLT_MAX_REQUEUES:-100}" ]; then
    molt_log "not requeueing: already restarted ${SLURM_RESTART_COUNT} times"
    return 1
  fi
  [ "$status" -eq "$MOLT_EXIT_STOPPED" ] || [ -n "$molt_signalled" ]
}
