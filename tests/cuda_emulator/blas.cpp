// cuBLAS and cuBLASLt for the CUDA emulator (include/cublas_v2.h, include/cublasLt.h).
//
// Column-major throughout, as cuBLAS is: element (i, j) of an operand with leading
// dimension ld is at i + j·ld, and op(X) = Xᵀ reads X(j, i). Products accumulate in f32 in
// ascending k, then the result is rounded once to the output's dtype. Before computing,
// each call checks what cuBLAS checks (shapes, leading dimensions, dtype combinations) and
// what a GPU would fault on (every operand inside device memory), so a wrong argument
// fails here as it would there.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "tests/cuda_emulator/emulator.h"
#include "tests/cuda_emulator/include/cublasLt.h"
#include "tests/cuda_emulator/include/cuda_bf16.h"

struct cublasContext {};
struct cublasLtContext {};

struct cublasLtMatmulDescOpaque {
  cublasComputeType_t compute;
  cudaDataType_t scale;
  cublasOperation_t trans_a = CUBLAS_OP_N, trans_b = CUBLAS_OP_N;
  cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  const void* bias = nullptr;
  void* aux = nullptr;
  int64_t aux_ld = 0;
};

struct cublasLtMatrixLayoutOpaque {
  cudaDataType_t type;
  uint64_t rows, cols;
  int64_t ld;
};

struct cublasLtMatmulPreferenceOpaque {
  uint64_t workspace_bytes = 0;
  uint32_t alignment[4] = {256, 256, 256, 256};  // A, B, C, D
};

namespace {

size_t type_bytes(cudaDataType_t type) { return type == CUDA_R_16BF ? 2 : 4; }

float load(const void* p, cudaDataType_t type, size_t i) {
  return type == CUDA_R_16BF ? __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i])
                             : static_cast<const float*>(p)[i];
}

void store(void* p, cudaDataType_t type, size_t i, float v) {
  if (type == CUDA_R_16BF) {
    static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16(v);
  } else {
    static_cast<float*>(p)[i] = v;
  }
}

// The combinations cuBLAS supports with f32 compute: f32·f32 → f32, bf16·bf16 → bf16 or f32.
bool supported(cudaDataType_t a, cudaDataType_t b, cudaDataType_t c) {
  if (a != b) return false;
  return a == CUDA_R_16BF || c == CUDA_R_32F;
}

cublasStatus_t invalid(const std::string& what) {
  return static_cast<cublasStatus_t>(
      molt_emu::report(CUBLAS_STATUS_INVALID_VALUE, "cuBLAS: " + what));
}

// Whether a column-major rows×cols operand with leading dimension ld lies in device memory.
bool in_device_memory(const void* p, int64_t rows, int64_t cols, int64_t ld, cudaDataType_t type) {
  if (rows == 0 || cols == 0) return true;
  const size_t elements = static_cast<size_t>(ld) * (cols - 1) + rows;
  return molt_emu::is_device_range(p, elements * type_bytes(type));
}

struct Operand {
  const void* data;
  cudaDataType_t type;
  int64_t ld;
  bool transposed;
  float at(int64_t i, int64_t j) const {  // element (i, j) of op(X)
    return transposed ? load(data, type, static_cast<size_t>(j + i * ld))
                      : load(data, type, static_cast<size_t>(i + j * ld));
  }
};

// GELU, tanh form, and its derivative, in f32.
float gelu(float x) {
  const float u = 0.7978845608f * (x + 0.044715f * x * x * x);
  return 0.5f * x * (1.0f + std::tanh(u));
}
float gelu_derivative(float x) {
  const float u = 0.7978845608f * (x + 0.044715f * x * x * x);
  const float t = std::tanh(u);
  const float du = 0.7978845608f * (1.0f + 3.0f * 0.044715f * x * x);
  return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du;
}

// What follows the product for each D(i, j): a bias[i] added, then either GELU (the value
// before it stored to aux) or the GELU gradient at aux's value as a factor.
struct Epilogue {
  const void* bias = nullptr;
  enum { kNone, kGelu, kGeluGradient } activation = kNone;
  void* aux = nullptr;  // same type as D, leading dimension aux_ld
  int64_t aux_ld = 0;
};

// D(m×n) = epilogue(alpha·op(A)·op(B) + beta·C); C may be D. beta = 0 does not read C.
// op(A) and op(B) are first widened into row-major f32 copies, so the products run over
// contiguous rows; each D(i, j) still adds its k products in ascending order.
void multiply(int64_t m, int64_t n, int64_t k, float alpha, Operand a, Operand b, float beta,
              const void* c, cudaDataType_t c_type, int64_t ldc, void* d, int64_t ldd,
              const Epilogue& epilogue) {
  std::vector<float> rows_a(static_cast<size_t>(m * k)), rows_b(static_cast<size_t>(k * n));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t l = 0; l < k; ++l) rows_a[i * k + l] = a.at(i, l);
  for (int64_t l = 0; l < k; ++l)
    for (int64_t j = 0; j < n; ++j) rows_b[l * n + j] = b.at(l, j);
  std::vector<float> sums(static_cast<size_t>(n));
  for (int64_t i = 0; i < m; ++i) {
    std::fill(sums.begin(), sums.end(), 0.0f);
    for (int64_t l = 0; l < k; ++l) {
      const float x = rows_a[i * k + l];
      const float* row = rows_b.data() + l * n;
      for (int64_t j = 0; j < n; ++j) sums[j] += x * row[j];
    }
    for (int64_t j = 0; j < n; ++j) {
      float value = alpha * sums[j];
      if (beta != 0.0f) value += beta * load(c, c_type, static_cast<size_t>(i + j * ldc));
      if (epilogue.bias != nullptr) value += load(epilogue.bias, c_type, static_cast<size_t>(i));
      const size_t at_aux = static_cast<size_t>(i + j * epilogue.aux_ld);
      if (epilogue.activation == Epilogue::kGelu) {
        store(epilogue.aux, c_type, at_aux, value);
        value = gelu(value);
      } else if (epilogue.activation == Epilogue::kGeluGradient) {
        value *= gelu_derivative(load(epilogue.aux, c_type, at_aux));
      }
      store(d, c_type, static_cast<size_t>(i + j * ldd), value);
    }
  }
}

}  // namespace

const char* cublasGetStatusName(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS:
      return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "CUBLAS_STATUS_NOT_INITIALIZED";
    default:
      return "CUBLAS_STATUS_INTERNAL_ERROR";
  }
}
const char* cublasGetStatusString(cublasStatus_t status) {
  return status == CUBLAS_STATUS_SUCCESS ? "success" : "see the CUDA emulator's message on stderr";
}

cublasStatus_t cublasCreate(cublasHandle_t* handle) {
  *handle = new cublasContext;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy(cublasHandle_t handle) {
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
  static_cast<void>(stream);
  return handle != nullptr ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_NOT_INITIALIZED;
}

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t op_a, cublasOperation_t op_b,
                            int m, int n, int k, const void* alpha, const void* a,
                            cudaDataType_t a_type, int lda, const void* b, cudaDataType_t b_type,
                            int ldb, const void* beta, void* c, cudaDataType_t c_type, int ldc,
                            cublasComputeType_t compute, cublasGemmAlgo_t algo) {
  static_cast<void>(algo);
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  const int a_rows = op_a == CUBLAS_OP_N ? m : k, a_cols = op_a == CUBLAS_OP_N ? k : m;
  const int b_rows = op_b == CUBLAS_OP_N ? k : n, b_cols = op_b == CUBLAS_OP_N ? n : k;
  if (m < 0 || n < 0 || k < 0) return invalid("cublasGemmEx: a negative m, n or k");
  if (lda < std::max(1, a_rows) || ldb < std::max(1, b_rows) || ldc < std::max(1, m)) {
    return invalid("cublasGemmEx: a leading dimension below its operand's rows (m " +
                   std::to_string(m) + ", n " + std::to_string(n) + ", k " + std::to_string(k) +
                   ", lda " + std::to_string(lda) + ", ldb " + std::to_string(ldb) + ", ldc " +
                   std::to_string(ldc) + ")");
  }
  if (compute != CUBLAS_COMPUTE_32F || !supported(a_type, b_type, c_type)) {
    return static_cast<cublasStatus_t>(molt_emu::report(
        CUBLAS_STATUS_NOT_SUPPORTED, "cuBLAS: cublasGemmEx: an unsupported type combination"));
  }
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  const float beta_value = *static_cast<const float*>(beta);
  if ((k > 0 && (!in_device_memory(a, a_rows, a_cols, lda, a_type) ||
                 !in_device_memory(b, b_rows, b_cols, ldb, b_type))) ||
      !in_device_memory(c, m, n, ldc, c_type)) {
    return invalid("cublasGemmEx: an operand reaches outside device memory");
  }
  multiply(m, n, k, *static_cast<const float*>(alpha), {a, a_type, lda, op_a == CUBLAS_OP_T},
           {b, b_type, ldb, op_b == CUBLAS_OP_T}, beta_value, c, c_type, ldc, c, ldc, Epilogue{});
  return CUBLAS_STATUS_SUCCESS;
}

// ---- cuBLASLt ------------------------------------------------------------------------------

cublasStatus_t cublasLtCreate(cublasLtHandle_t* handle) {
  *handle = new cublasLtContext;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtDestroy(cublasLtHandle_t handle) {
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t* desc, cublasComputeType_t compute,
                                        cudaDataType_t scale_type) {
  *desc = new cublasLtMatmulDescOpaque{compute, scale_type};
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t desc) {
  delete desc;
  return CUBLAS_STATUS_SUCCESS;
}

namespace {
template <typename T>
bool read_value(T& out, const void* value, size_t bytes) {
  if (bytes != sizeof(T)) return false;
  std::memcpy(&out, value, sizeof(T));
  return true;
}
}  // namespace

cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t desc,
                                              cublasLtMatmulDescAttributes_t attribute,
                                              const void* value, size_t bytes) {
  bool ok = false;
  switch (attribute) {
    case CUBLASLT_MATMUL_DESC_TRANSA:
      ok = read_value(desc->trans_a, value, bytes);
      break;
    case CUBLASLT_MATMUL_DESC_TRANSB:
      ok = read_value(desc->trans_b, value, bytes);
      break;
    case CUBLASLT_MATMUL_DESC_EPILOGUE:
      ok = read_value(desc->epilogue, value, bytes);
      break;
    case CUBLASLT_MATMUL_DESC_BIAS_POINTER:
      ok = read_value(desc->bias, value, bytes);
      break;
    case CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER:
      ok = read_value(desc->aux, value, bytes);
      break;
    case CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD:
      ok = read_value(desc->aux_ld, value, bytes);
      break;
  }
  return ok ? CUBLAS_STATUS_SUCCESS : invalid("cublasLtMatmulDescSetAttribute: a value's size");
}

cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t* layout, cudaDataType_t type,
                                          uint64_t rows, uint64_t cols, int64_t ld) {
  if (ld < static_cast<int64_t>(std::max<uint64_t>(rows, 1))) {
    return invalid("cublasLtMatrixLayoutCreate: ld " + std::to_string(ld) + " below rows " +
                   std::to_string(rows));
  }
  *layout = new cublasLtMatrixLayoutOpaque{type, rows, cols, ld};
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t layout) {
  delete layout;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t* preference) {
  *preference = new cublasLtMatmulPreferenceOpaque;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t preference) {
  delete preference;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t preference,
                                                    cublasLtMatmulPreferenceAttributes_t attribute,
                                                    const void* value, size_t bytes) {
  bool ok = false;
  switch (attribute) {
    case CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES:
      ok = read_value(preference->workspace_bytes, value, bytes);
      break;
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES:
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES:
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES:
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES:
      ok = read_value(preference->alignment[attribute - CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES],
                      value, bytes);
      break;
  }
  return ok ? CUBLAS_STATUS_SUCCESS
            : invalid("cublasLtMatmulPreferenceSetAttribute: a value's size");
}

namespace {

bool uses_aux(cublasLtEpilogue_t e) {
  return e == CUBLASLT_EPILOGUE_GELU_AUX || e == CUBLASLT_EPILOGUE_GELU_AUX_BIAS ||
         e == CUBLASLT_EPILOGUE_DGELU;
}
bool reads_bias(cublasLtEpilogue_t e) {
  return e == CUBLASLT_EPILOGUE_BIAS || e == CUBLASLT_EPILOGUE_GELU_AUX_BIAS;
}

// The problem the descriptor and layouts describe, or an empty `problem` string.
struct LtShape {
  int64_t m = 0, n = 0, k = 0;
  std::string problem;
};

LtShape lt_shape(cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
                 cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t d) {
  LtShape s;
  const bool ta = desc->trans_a == CUBLAS_OP_T, tb = desc->trans_b == CUBLAS_OP_T;
  s.m = static_cast<int64_t>(ta ? a->cols : a->rows);
  s.k = static_cast<int64_t>(ta ? a->rows : a->cols);
  const int64_t kb = static_cast<int64_t>(tb ? b->cols : b->rows);
  s.n = static_cast<int64_t>(tb ? b->rows : b->cols);
  if (kb != s.k)
    s.problem =
        "op(A) has " + std::to_string(s.k) + " columns, op(B) " + std::to_string(kb) + " rows";
  else if (static_cast<int64_t>(d->rows) != s.m || static_cast<int64_t>(d->cols) != s.n)
    s.problem = "D is " + std::to_string(d->rows) + "x" + std::to_string(d->cols) +
                ", the product " + std::to_string(s.m) + "x" + std::to_string(s.n);
  else if (c->rows != d->rows || c->cols != d->cols || c->type != d->type)
    s.problem = "C's layout differs from D's";
  else if (desc->compute != CUBLAS_COMPUTE_32F || desc->scale != CUDA_R_32F ||
           !supported(a->type, b->type, d->type))
    s.problem = "an unsupported type combination";
  else if (desc->epilogue != CUBLASLT_EPILOGUE_DEFAULT &&
           desc->epilogue != CUBLASLT_EPILOGUE_BIAS && !uses_aux(desc->epilogue))
    s.problem = "an epilogue the emulator does not know";
  else if (uses_aux(desc->epilogue) && (desc->aux_ld < s.m || desc->aux_ld % 8 != 0))
    s.problem = "the GELU aux matrix's leading dimension " + std::to_string(desc->aux_ld) +
                " is not a multiple of 8 or is below D's " + std::to_string(s.m) + " rows";
  return s;
}

// The alignment cuBLASLt's heuristic reads from a pointer (256 for an unset one).
uint64_t pointer_alignment(const void* p) {
  if (p == nullptr) return 256;
  const uintptr_t address = reinterpret_cast<uintptr_t>(p);
  return std::min<uint64_t>(256, address & (~address + 1));
}

std::mutex lt_calls_mutex;
std::map<int, long> lt_calls;  // epilogue → cublasLtMatmul calls

}  // namespace

cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc,
                                              cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
                                              cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t d,
                                              cublasLtMatmulPreference_t preference, int requested,
                                              cublasLtMatmulHeuristicResult_t* results,
                                              int* found) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (requested < 1) return invalid("cublasLtMatmulAlgoGetHeuristic: requested < 1");
  const LtShape shape = lt_shape(desc, a, b, c, d);
  if (!shape.problem.empty()) {
    *found = 0;
    return static_cast<cublasStatus_t>(
        molt_emu::report(CUBLAS_STATUS_NOT_SUPPORTED, "cuBLASLt: heuristic: " + shape.problem));
  }
  results[0] = cublasLtMatmulHeuristicResult_t{};
  for (int i = 0; i < 4; ++i) results[0].algo.data[i] = preference->alignment[i];
  results[0].algo.data[4] = pointer_alignment(desc->bias);
  results[0].algo.data[5] = pointer_alignment(desc->aux);
  results[0].state = CUBLAS_STATUS_SUCCESS;
  *found = 1;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t handle, cublasLtMatmulDesc_t desc, const void* alpha,
                              const void* a, cublasLtMatrixLayout_t a_layout, const void* b,
                              cublasLtMatrixLayout_t b_layout, const void* beta, const void* c,
                              cublasLtMatrixLayout_t c_layout, void* d,
                              cublasLtMatrixLayout_t d_layout, const cublasLtMatmulAlgo_t* algo,
                              void* workspace, size_t workspace_bytes, cudaStream_t stream) {
  static_cast<void>(workspace), static_cast<void>(workspace_bytes), static_cast<void>(stream);
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  const LtShape s = lt_shape(desc, a_layout, b_layout, c_layout, d_layout);
  if (!s.problem.empty()) return invalid("cublasLtMatmul: " + s.problem);
  const void* pointers[4] = {a, b, c, d};
  for (int i = 0; i < 4; ++i) {
    if (reinterpret_cast<uintptr_t>(pointers[i]) % algo->data[i] != 0) {
      return invalid(std::string("cublasLtMatmul: ") + "ABCD"[i] + " is not on the " +
                     std::to_string(algo->data[i]) +
                     " bytes the algorithm was chosen for (the preference's minimum alignment)");
    }
  }
  const bool with_bias = reads_bias(desc->epilogue), with_aux = uses_aux(desc->epilogue);
  if (with_bias && (desc->bias == nullptr ||
                    !molt_emu::is_device_range(desc->bias, s.m * type_bytes(d_layout->type)))) {
    return invalid(
        "cublasLtMatmul: the bias epilogue's vector is missing or outside device memory");
  }
  if (with_aux && (desc->aux == nullptr ||
                   !in_device_memory(desc->aux, s.m, s.n, desc->aux_ld, d_layout->type))) {
    return invalid("cublasLtMatmul: the GELU aux matrix is missing or outside device memory");
  }
  const char* names[2] = {"bias", "aux"};
  const void* chosen_by[2] = {with_bias ? desc->bias : nullptr, with_aux ? desc->aux : nullptr};
  for (int i = 0; i < 2; ++i) {
    if (chosen_by[i] != nullptr &&
        reinterpret_cast<uintptr_t>(chosen_by[i]) % algo->data[4 + i] != 0) {
      return invalid(std::string("cublasLtMatmul: the ") + names[i] + " pointer is not on the " +
                     std::to_string(algo->data[4 + i]) +
                     " bytes its value at the heuristic promised");
    }
  }
  const float beta_value = *static_cast<const float*>(beta);
  if (!in_device_memory(a, a_layout->rows, a_layout->cols, a_layout->ld, a_layout->type) ||
      !in_device_memory(b, b_layout->rows, b_layout->cols, b_layout->ld, b_layout->type) ||
      !in_device_memory(d, s.m, s.n, d_layout->ld, d_layout->type) ||
      (beta_value != 0.0f && !in_device_memory(c, s.m, s.n, c_layout->ld, c_layout->type))) {
    return invalid("cublasLtMatmul: an operand reaches outside device memory");
  }
  multiply(s.m, s.n, s.k, *static_cast<const float*>(alpha),
           {a, a_layout->type, a_layout->ld, desc->trans_a == CUBLAS_OP_T},
           {b, b_layout->type, b_layout->ld, desc->trans_b == CUBLAS_OP_T}, beta_value, c,
           d_layout->type, c_layout->ld, d, d_layout->ld,
           Epilogue{with_bias ? desc->bias : nullptr,
                    !with_aux                                   ? Epilogue::kNone
                    : desc->epilogue == CUBLASLT_EPILOGUE_DGELU ? Epilogue::kGeluGradient
                                                                : Epilogue::kGelu,
                    desc->aux, desc->aux_ld});
  {
    std::lock_guard<std::mutex> lock(lt_calls_mutex);
    ++lt_calls[desc->epilogue];
  }
  return CUBLAS_STATUS_SUCCESS;
}

long molt_emu::lt_matmul_calls(cublasLtEpilogue_t epilogue) {
  std::lock_guard<std::mutex> lock(lt_calls_mutex);
  const auto found = lt_calls.find(epilogue);
  return found == lt_calls.end() ? 0 : found->second;
}
