// Backend dispatch for gemm(). See gemm.h for the contract.
#include "kernels/gemm.h"

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <string>

#if defined(NOGRAD_BLAS_BLIS)
#include <blis.h>
#elif defined(NOGRAD_BLAS_OPENBLAS)
#include <cblas.h>
#endif

namespace nograd {

#if defined(NOGRAD_BLAS_BLIS)

namespace {

// C is cut into fixed tiles of kTileRows x kTileCols and the OpenMP threads share them, each tile one
// single-threaded BLIS call. BLIS's own threading synchronises its threads with spinning barriers inside
// every block loop; on a busy machine a spinning thread waits out the time slice of a descheduled partner,
// and 2 threads ran 4-6x slower than 1 (d12's products at B=4, T=64, measured beside other jobs). Tiles
// need one barrier per product. They never split the inner dimension, and their cut does not depend on
// the thread count, so every element of C gets the same arithmetic for any number of threads (bit-identical
// to one whole BLIS call at d12's shapes). 512 x 384 is 16 x 32 of BLIS's 32 x 12 skx micro-tiles; packing
// A once per tile costs ~3% at K = 768.
constexpr int kTileRows = 512, kTileCols = 384;

void blis_gemm_serial(Transpose ta, Transpose tb, int M, int N, int K, float alpha, const float* A, int lda,
                      const float* B, int ldb, float beta, float* C, int ldc) {
    rntm_t one_thread = BLIS_RNTM_INITIALIZER;
    bli_rntm_set_num_threads(1, &one_thread);
    // BLIS takes explicit row and column strides: a row-major matrix has (row stride ld, column stride 1).
    bli_sgemm_ex(ta == Transpose::yes ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE,
                 tb == Transpose::yes ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, M, N, K, &alpha, const_cast<float*>(A),
                 lda, 1, const_cast<float*>(B), ldb, 1, &beta, C, ldc, 1, nullptr, &one_thread);
}

}  // namespace

void gemm(Transpose ta, Transpose tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
          int ldb, float beta, float* C, int ldc) {
    const int row_tiles = (M + kTileRows - 1) / kTileRows, col_tiles = (N + kTileCols - 1) / kTileCols;
#pragma omp parallel for collapse(2) schedule(dynamic, 1) if (row_tiles * col_tiles > 1)
    for (int rt = 0; rt < row_tiles; ++rt)
        for (int ct = 0; ct < col_tiles; ++ct) {
            const int m0 = rt * kTileRows, n0 = ct * kTileCols;
            const int m = std::min(kTileRows, M - m0), n = std::min(kTileCols, N - n0);
            // Rows m0.. of op(A): rows of A, or columns when A is stored transposed; likewise for op(B).
            const float* a = ta == Transpose::no ? A + size_t(m0) * lda : A + m0;
            const float* b = tb == Transpose::yes ? B + size_t(n0) * ldb : B + n0;
            blis_gemm_serial(ta, tb, m, n, K, alpha, a, lda, b, ldb, beta, C + size_t(m0) * ldc + n0, ldc);
        }
}

void gemm_serial(Transpose ta, Transpose tb, int M, int N, int K, float alpha, const float* A, int lda,
                 const float* B, int ldb, float beta, float* C, int ldc) {
    blis_gemm_serial(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
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

// Inside an OpenMP loop, gemm_builtin's own parallel loop runs on the calling thread (nesting is off).
void gemm_serial(Transpose ta, Transpose tb, int M, int N, int K, float alpha, const float* A, int lda,
                 const float* B, int ldb, float beta, float* C, int ldc) {
    gemm_builtin(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm_setup(int num_threads) { openblas_set_num_threads(num_threads); }

const char* gemm_backend_name() { return "openblas"; }

#else

void gemm(Transpose ta, Transpose tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
          int ldb, float beta, float* C, int ldc) {
    gemm_builtin(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm_serial(Transpose ta, Transpose tb, int M, int N, int K, float alpha, const float* A, int lda,
                 const float* B, int ldb, float beta, float* C, int ldc) {
    gemm_builtin(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);  // serial inside an OpenMP loop
}

void gemm_setup(int) {}

const char* gemm_backend_name() { return "builtin"; }

#endif

}  // namespace nograd
