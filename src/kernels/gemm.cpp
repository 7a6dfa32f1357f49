// Backend dispatch for gemm(). See gemm.h for the contract.
#include "kernels/gemm.h"

#include <cstdlib>
#include <string>

#if defined(NOGRAD_BLAS_BLIS)
#include <blis.h>
#elif defined(NOGRAD_BLAS_OPENBLAS)
#include <cblas.h>
#endif

namespace nograd {

#if defined(NOGRAD_BLAS_BLIS)

void gemm(Transpose ta, Transpose tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
          int ldb, float beta, float* C, int ldc) {
    // BLIS takes explicit row and column strides: a row-major matrix has (row stride ld, column stride 1).
    bli_sgemm(ta == Transpose::yes ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
              tb == Transpose::yes ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, M, N, K, &alpha,
              const_cast<float*>(A), lda, 1, const_cast<float*>(B), ldb, 1, &beta, C, ldc, 1);
}

void gemm_setup(int num_threads) {
    // BLIS reads BLIS_ARCH_TYPE when it initialises; a user's own setting wins.
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        setenv("BLIS_ARCH_TYPE", "skx", 0);
    bli_init();
    bli_thread_set_num_threads(num_threads);
}

const char* gemm_backend_name() {
    static const std::string name = std::string("blis ") + bli_info_get_version_str() + " (" +
                                    bli_arch_string(bli_arch_query_id()) + ")";
    return name.c_str();
}

#elif defined(NOGRAD_BLAS_OPENBLAS)

void gemm(Transpose ta, Transpose tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
          int ldb, float beta, float* C, int ldc) {
    cblas_sgemm(CblasRowMajor, ta == Transpose::yes ? CblasTrans : CblasNoTrans,
                tb == Transpose::yes ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm_setup(int num_threads) { openblas_set_num_threads(num_threads); }

const char* gemm_backend_name() { return "openblas"; }

#else

void gemm(Transpose ta, Transpose tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
          int ldb, float beta, float* C, int ldc) {
    gemm_builtin(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm_setup(int) {}

const char* gemm_backend_name() { return "builtin"; }

#endif

}  // namespace nograd
