// The one place nograd calls a matrix library. Every matrix product in the program goes through
// gemm(); the backend (BLIS, OpenBLAS, or nograd's own OpenMP kernel) is chosen at build time.
// Must be called from outside OpenMP parallel regions: the backends run their own threads.
#pragma once

namespace nograd {

enum class Transpose { no, yes };

// Row-major: C(M,N) := alpha · op(A)(M,K) · op(B)(K,N) + beta · C, where op(X) is X or Xᵀ and
// lda/ldb/ldc are the row strides of A, B and C as stored.
void gemm(Transpose trans_a, Transpose trans_b, int M, int N, int K, float alpha, const float* A, int lda,
          const float* B, int ldb, float beta, float* C, int ldc);

// The same product on the calling thread only, for callers that split the work across threads themselves
// (model/perturbed_forward.cpp, inside an OpenMP loop). OpenBLAS builds use nograd's own kernel here: a
// pthreads OpenBLAS called from inside an OpenMP loop would start threads of its own.
void gemm_serial(Transpose trans_a, Transpose trans_b, int M, int N, int K, float alpha, const float* A, int lda,
                 const float* B, int ldb, float beta, float* C, int ldc);

// nograd's own kernel, whatever the backend: the reference the backends are tested against and the
// engine of BLAS=none builds.
void gemm_builtin(Transpose trans_a, Transpose trans_b, int M, int N, int K, float alpha, const float* A,
                  int lda, const float* B, int ldb, float beta, float* C, int ldc);
// The same loop nest with the plain C++ micro-kernel that portable builds use: the twin the tests hold
// the AVX-512/AVX2 micro-kernel of gemm_builtin() against.
void gemm_builtin_plain(Transpose trans_a, Transpose trans_b, int M, int N, int K, float alpha, const float* A,
                        int lda, const float* B, int ldb, float beta, float* C, int ldc);

// Sets up the backend once per process: thread count, and for BLIS the AVX-512 kernel on CPUs that
// have it (Debian's BLIS 0.9 would run its AVX2 "zen3" kernel on Zen 4, ~1.4x slower; pinning one
// kernel also keeps results reproducible, since different kernels round differently).
void gemm_setup(int num_threads);

// e.g. "blis 0.9.0 (skx)", "openblas", "builtin"
const char* gemm_backend_name();

}  // namespace nograd
