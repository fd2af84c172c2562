// cudaDataType_t for the CUDA emulator's cuBLAS (cublas_v2.h, cublasLt.h).
#pragma once

enum cudaDataType_t { CUDA_R_32F = 0, CUDA_R_16BF = 14 };
typedef cudaDataType_t cudaDataType;
