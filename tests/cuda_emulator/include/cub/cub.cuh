#pragma once
#include "tests/cuda_emulator/include/cub/device/device_radix_sort.cuh"
