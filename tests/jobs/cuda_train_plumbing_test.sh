#!/usr/bin/env bash
# cuda_train_test.sh's parts 1-4 with the CPU standing in for the GPU (MOLT_CUDA_STAND_IN=cpu):
# CPU vs "CUDA" runs of GPT-2 and T5, resumes bit for bit, the structure ladder's last rung.
# It checks the GPU test's own plumbing where there is no GPU, so a GPU session is not spent
# on a broken script; it says nothing about the CUDA backend.
MOLT_CUDA_STAND_IN=cpu exec bash "$MOLT_SOURCE_DIR/tests/jobs/cuda_train_test.sh"
