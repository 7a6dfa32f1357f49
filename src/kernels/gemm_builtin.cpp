// nograd's own matrix product: the engine of BLAS=none builds and the reference for the BLAS backends.
// The classic Goto/BLIS loop nest in plain C++ the compiler vectorises: op(B) is packed into
// K-by-kNR strips and op(A) into K-by-kMR strips, so the micro-kernel reads both contiguously and
// keeps a kMR x kNR tile of C in registers. Packing also absorbs the transposes.
// Deterministic: every C element is summed over K in the same order whatever the thread count.
#include <algorithm>
#include <vector>

#include "kernels/gemm.h"

namespace nograd {
namespace {

constexpr int kMR = 6;     // rows of the register tile
constexpr int kNR = 16;    // columns of the register tile: one AVX-512 register, two AVX2, four SSE
constexpr int kKC = 256;   // depth of a packed block: a kKC x kNR strip of B stays in L1
constexpr int kMC = 96;    // rows of A packed per task (kMC x kKC floats ~ 96 KiB, in L2)
constexpr int kNC = 2048;  // columns of B packed at once (kKC x kNC floats = 2 MiB, in L3)

struct Operand {
    const float* data;
    int ld;
    bool transposed;
    // Element (row, col) of op(X).
    float at(int row, int col) const { return transposed ? data[size_t(col) * ld + row] : data[size_t(row) * ld + col]; }
};

// Packs op(B)[k0:k0+kc, j0:j0+nc] as strips of kNR columns: strip s holds kc rows of kNR floats.
void pack_b(float* packed, const Operand& b, int k0, int kc, int j0, int nc) {
    const int strips = (nc + kNR - 1) / kNR;
#pragma omp parallel for schedule(static)
    for (int s = 0; s < strips; ++s) {
        float* out = packed + size_t(s) * kc * kNR;
        for (int k = 0; k < kc; ++k)
            for (int j = 0; j < kNR; ++j) {
                const int col = s * kNR + j;
                out[k * kNR + j] = col < nc ? b.at(k0 + k, j0 + col) : 0.0f;
            }
    }
}

// Packs op(A)[i0:i0+mc, k0:k0+kc] as strips of kMR rows: strip s holds kc columns of kMR floats.
void pack_a(float* packed, const Operand& a, int i0, int mc, int k0, int kc) {
    for (int s = 0; s * kMR < mc; ++s) {
        float* out = packed + size_t(s) * kc * kMR;
        for (int k = 0; k < kc; ++k)
            for (int i = 0; i < kMR; ++i) {
                const int row = s * kMR + i;
                out[k * kMR + i] = row < mc ? a.at(i0 + row, k0 + k) : 0.0f;
            }
    }
}

// C[0:mr, 0:nr] += alpha · (packed A strip)(mr x kc) · (packed B strip)(kc x nr).
void micro_kernel(float* C, int ldc, int mr, int nr, int kc, float alpha, const float* a, const float* b) {
    float acc[kMR][kNR] = {};
    for (int k = 0; k < kc; ++k) {
        const float* bk = b + k * kNR;
        const float* ak = a + k * kMR;
        for (int i = 0; i < kMR; ++i)
            for (int j = 0; j < kNR; ++j) acc[i][j] += ak[i] * bk[j];
    }
    for (int i = 0; i < mr; ++i)
        for (int j = 0; j < nr; ++j) C[size_t(i) * ldc + j] += alpha * acc[i][j];
}

void scale_c(float* C, int ldc, int M, int N, float beta) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < M; ++i)
        for (int j = 0; j < N; ++j) C[size_t(i) * ldc + j] = beta == 0.0f ? 0.0f : beta * C[size_t(i) * ldc + j];
}

// One kc-deep slice: C[:, j0:j0+nc] += alpha · op(A)[:, k0:k0+kc] · packed B.
void multiply_block(float* C, int ldc, const Operand& a, const float* packed_b, int M, int j0, int nc, int k0,
                    int kc, float alpha) {
    const int m_blocks = (M + kMC - 1) / kMC;
#pragma omp parallel
    {
        std::vector<float> packed_a(size_t(kMC) * kKC);
#pragma omp for schedule(static)
        for (int mb = 0; mb < m_blocks; ++mb) {
            const int i0 = mb * kMC, mc = std::min(kMC, M - i0);
            pack_a(packed_a.data(), a, i0, mc, k0, kc);
            for (int jr = 0; jr < nc; jr += kNR)
                for (int ir = 0; ir < mc; ir += kMR)
                    micro_kernel(C + size_t(i0 + ir) * ldc + j0 + jr, ldc, std::min(kMR, mc - ir),
                                 std::min(kNR, nc - jr), kc, alpha, packed_a.data() + size_t(ir) * kc,
                                 packed_b + size_t(jr) * kc);
        }
    }
}

}  // namespace

void gemm_builtin(Transpose ta, Transpose tb, int M, int N, int K, float alpha, const float* A, int lda,
                  const float* B, int ldb, float beta, float* C, int ldc) {
    if (beta != 1.0f) scale_c(C, ldc, M, N, beta);
    if (M == 0 || N == 0 || K == 0 || alpha == 0.0f) return;
    const Operand a{A, lda, ta == Transpose::yes}, b{B, ldb, tb == Transpose::yes};
    std::vector<float> packed_b(size_t(kKC) * (std::min(kNC, N) + kNR));
    for (int j0 = 0; j0 < N; j0 += kNC) {
        const int nc = std::min(kNC, N - j0);
        for (int k0 = 0; k0 < K; k0 += kKC) {
            const int kc = std::min(kKC, K - k0);
            pack_b(packed_b.data(), b, k0, kc, j0, nc);
            multiply_block(C, ldc, a, packed_b.data(), M, j0, nc, k0, kc, alpha);
        }
    }
}

}  // namespace nograd
