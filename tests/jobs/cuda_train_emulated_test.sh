#!/usr/bin/env bash
# cuda_train_test.sh with molt's CUDA backend running on molt's CUDA emulator
# (MOLT_CUDA_STAND_IN=emulator, molt_emulated from tests/cuda_emulator): training in fp32 and
# bf16 against the CPU, resumes bit for bit, T5 and the structure ladder's last rung, NCCL
# with one rank (the emulator's stand-in) and a rank that never joins it, and two ranks
# sharing the device over MPI staged through pinned memory, all through the CUDA kernels
# themselves.
MOLT_BIN="$(dirname "$MOLT_BIN")/molt_emulated" MOLT_CUDA_STAND_IN=emulator \
  exec bash "$MOLT_SOURCE_DIR/tests/jobs/cuda_train_test.sh"
