// nograd's own matrix product: the engine of BLAS=none builds and the reference for the BLAS backends.
// The Goto/BLIS loop nest: K is cut into deep slices and M into blocks; a block of op(A) is packed into
// strips of kMR rows, op(B) into strips of kNR columns, and a micro-kernel multiplies one A strip by
// one B strip, keeping the kMR x kNR tile of C in registers. Packing absorbs the transposes and makes
// every read of the micro-kernel contiguous. Threads split the row blocks when there are enough,
// otherwise share each A block and split its columns. With AVX-512 (or AVX2+FMA) the micro-kernel is
// written with intrinsics; the plain loop beside it is its twin, run by portable builds and tested
// against it.
// Deterministic: each C element is summed over K in the same order whatever the thread count. The
// depth slices depend on K alone, each element is one micro-kernel sum per slice, added in slice
// order; the thread count only decides the row blocks and who computes which tile.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <omp.h>

#if defined(__AVX__)
#include <immintrin.h>
#endif

#include "kernels/gemm.h"

namespace nograd {
namespace {

// The register tile kMR x kNR: rows of C broadcast from A times kNR / lanes vectors of B. AVX-512 has
// 32 registers: 8 x 3 accumulators + 3 B vectors + a broadcast. AVX2 has 16: 6 x 2 + 2 + 1. The plain
// kernel on SSE2 (16 registers of 4 floats): 4 x 2 accumulators, 4x faster there than 4 x 16, which spills.
#if defined(__AVX512F__)
constexpr int kLanes = 16;
constexpr int kMR = 8;
constexpr int kNR = 48;
#elif defined(__AVX2__) && defined(__FMA__)
constexpr int kLanes = 8;
constexpr int kMR = 6;
constexpr int kNR = 16;
#else
constexpr int kMR = 4;
constexpr int kNR = 8;
#endif

// Cache blocks. A packed A block (kMC x kc floats, up to 768 KiB) stays in each core's 1 MiB L2 and
// a packed B strip (kc x kNR, up to 144 KiB) is reused by all the block's A strips. Depth slices are
// as deep as that allows (fewer passes over C): 768 ran 3-5 % faster than 384 and 10 % faster than 256
// on Zen 4 at the GPT-2 shapes.
constexpr int kKC = 768;
constexpr int kMC = 256 / kMR * kMR;

// tile(kMR x kNR, row-major) := a(kc x kMR)ᵀ · b(kc x kNR) for one packed A strip and one packed B
// strip. Every element is a plain sum over k in increasing order.
using MicroKernel = void (*)(float* tile, int kc, const float* a, const float* b);

void micro_kernel_plain(float* tile, int kc, const float* a, const float* b) {
    float acc[kMR][kNR] = {};
    for (int k = 0; k < kc; ++k, a += kMR, b += kNR)
        for (int i = 0; i < kMR; ++i)
            for (int j = 0; j < kNR; ++j) acc[i][j] += a[i] * b[j];
    for (int i = 0; i < kMR; ++i)
        for (int j = 0; j < kNR; ++j) tile[i * kNR + j] = acc[i][j];
}

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#if defined(__AVX512F__)
using Vec = __m512;
inline Vec zero() { return _mm512_setzero_ps(); }
inline Vec load(const float* p) { return _mm512_load_ps(p); }
inline Vec broadcast(const float* p) { return _mm512_set1_ps(*p); }
inline Vec fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
inline void store(float* p, Vec v) { _mm512_store_ps(p, v); }
#else
using Vec = __m256;
inline Vec zero() { return _mm256_setzero_ps(); }
inline Vec load(const float* p) { return _mm256_load_ps(p); }
inline Vec broadcast(const float* p) { return _mm256_broadcast_ss(p); }
inline Vec fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
inline void store(float* p, Vec v) { _mm256_store_ps(p, v); }
#endif

// The same sums as micro_kernel_plain, one FMA per (row, vector) and k: the accumulators never
// leave the registers until the end. Packed strips are 64-byte aligned (aligned loads).
void micro_kernel_simd(float* tile, int kc, const float* a, const float* b) {
    constexpr int kNV = kNR / kLanes;
    Vec acc[kMR][kNV];
#pragma GCC unroll 8
    for (int i = 0; i < kMR; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < kNV; ++v) acc[i][v] = zero();
    for (int k = 0; k < kc; ++k, a += kMR, b += kNR) {
        Vec bk[kNV];
#pragma GCC unroll 4
        for (int v = 0; v < kNV; ++v) bk[v] = load(b + v * kLanes);
#pragma GCC unroll 8
        for (int i = 0; i < kMR; ++i) {
            const Vec aik = broadcast(a + i);
#pragma GCC unroll 4
            for (int v = 0; v < kNV; ++v) acc[i][v] = fma(aik, bk[v], acc[i][v]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < kMR; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < kNV; ++v) store(tile + i * kNR + v * kLanes, acc[i][v]);
}
constexpr MicroKernel kFastest = micro_kernel_simd;
#else
constexpr MicroKernel kFastest = micro_kernel_plain;
#endif

#if defined(__AVX__)
// out[k * width + l] = src[l * ld + k] for k, l < 8: an 8 x 8 transpose in registers (unpack, shuffle,
// swap 128-bit halves) instead of 64 scattered scalar stores. Measured on Zen 4: packing a [768,768]
// B streams at 0.14 ns per float from L3 and 1.2 ns from DRAM, against 0.34 and 4.3 ns scalar.
void transpose_8x8(float* out, size_t width, const float* src, size_t ld) {
    __m256 row[8], pair[8];
    for (int i = 0; i < 8; ++i) row[i] = _mm256_loadu_ps(src + i * ld);
    for (int i = 0; i < 8; i += 2) {  // interleave line pairs: a0 b0 a1 b1 | a4 b4 a5 b5, ...
        pair[i] = _mm256_unpacklo_ps(row[i], row[i + 1]);
        pair[i + 1] = _mm256_unpackhi_ps(row[i], row[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {  // four lines per depth in each half: a0 b0 c0 d0 | a4 b4 c4 d4, ...
        row[i] = _mm256_shuffle_ps(pair[i], pair[i + 2], 0x44);
        row[i + 1] = _mm256_shuffle_ps(pair[i], pair[i + 2], 0xEE);
        row[i + 2] = _mm256_shuffle_ps(pair[i + 1], pair[i + 3], 0x44);
        row[i + 3] = _mm256_shuffle_ps(pair[i + 1], pair[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; ++i) {  // join the halves of lines 0-3 and 4-7
        _mm256_storeu_ps(out + i * width, _mm256_permute2f128_ps(row[i], row[i + 4], 0x20));
        _mm256_storeu_ps(out + (i + 4) * width, _mm256_permute2f128_ps(row[i], row[i + 4], 0x31));
    }
}
#endif

// out[k * width + l] = src[l * ld + k]: packs lines that are contiguous in memory (rows of A, or
// rows of a transposed B). Each group of 8 lines is read as 8 sequential streams.
void pack_transposed(float* out, int width, const float* src, size_t ld, int lines, int kc) {
    int l0 = 0;
#if defined(__AVX__)
    for (; l0 + 8 <= lines; l0 += 8) {
        int k = 0;
        for (; k + 8 <= kc; k += 8) transpose_8x8(out + size_t(k) * width + l0, width, src + l0 * ld + k, ld);
        for (; k < kc; ++k)
            for (int l = l0; l < l0 + 8; ++l) out[size_t(k) * width + l] = src[l * ld + k];
    }
#endif
    for (int l = l0; l < lines; ++l)
        for (int k = 0; k < kc; ++k) out[size_t(k) * width + l] = src[l * ld + k];
}

// Copies `lines` lines of kc elements into [k][width] order: element (line l, depth k) sits at
// src[l * line_stride + k * depth_stride]. Lines are rows of op(A) or columns of op(B); the lines past
// `lines` are zero-filled, so edge tiles run the same micro-kernel and only their stores are clipped.
void pack_strip(float* out, int width, const float* src, size_t line_stride, size_t depth_stride, int lines,
                int kc) {
    if (depth_stride == 1)
        pack_transposed(out, width, src, line_stride, lines, kc);
    else  // the lines of one depth are contiguous (an Operand's other stride is 1): a copy per depth
        for (int k = 0; k < kc; ++k)
            for (int l = 0; l < lines; ++l) out[size_t(k) * width + l] = src[k * depth_stride + l];
    for (int k = 0; k < kc; ++k)
        for (int l = lines; l < width; ++l) out[size_t(k) * width + l] = 0.0f;
}

// A row-major operand as stored, viewed as op(X): element (row, col) of op(X) is at
// data[row * row_stride + col * col_stride].
struct Operand {
    const float* data;
    size_t row_stride, col_stride;
    Operand(const float* x, int ld, Transpose t)
        : data(x), row_stride(t == Transpose::yes ? 1 : size_t(ld)), col_stride(t == Transpose::yes ? size_t(ld) : 1) {}
    const float* at(int row, int col) const { return data + row * row_stride + col * col_stride; }
};

// Asks for the C tile that update_c() will read while the micro-kernel computes (~6 µs): C is read
// once per depth slice and is usually out of L2 by then (worth 2-4 % at the GPT-2 shapes).
void prefetch_tile(const float* C, int ldc, int mr, int nr) {
    for (int i = 0; i < mr; ++i)
        for (int j = 0; j < nr; j += 16) __builtin_prefetch(C + size_t(i) * ldc + j, 1);
}

// C[0:mr, 0:nr] := alpha · tile + beta · C; beta = 0 never reads C (it may hold NaN).
void update_c(float* C, int ldc, int mr, int nr, const float* tile, float alpha, float beta) {
    for (int i = 0; i < mr; ++i) {
        float* c = C + size_t(i) * ldc;
        const float* t = tile + i * kNR;
        if (beta == 0.0f)
            for (int j = 0; j < nr; ++j) c[j] = alpha * t[j];
        else
            for (int j = 0; j < nr; ++j) c[j] = alpha * t[j] + beta * c[j];
    }
}

void scale_c(float* C, int ldc, int M, int N, float beta) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < M; ++i)
        for (int j = 0; j < N; ++j) C[size_t(i) * ldc + j] = beta == 0.0f ? 0.0f : beta * C[size_t(i) * ldc + j];
}

// n floats starting on a 64-byte boundary, so that vector loads from packed strips never straddle two
// cache lines. Left uninitialised: packing writes every float before the micro-kernel reads it.
struct PackBuffer {
    std::unique_ptr<float[]> storage;
    float* data;
    explicit PackBuffer(size_t n) : storage(std::make_unique_for_overwrite<float[]>(n + 16)) {
        const auto address = reinterpret_cast<std::uintptr_t>(storage.get());
        data = storage.get() + (64 - address % 64) % 64 / sizeof(float);
    }
};

struct Problem {
    int M, N, K;
    float alpha, beta;
    Operand a, b;
    float* C;
    int ldc;
    int depth;  // of the depth slices, which depend on K alone: K is cut into even slices of <= kKC
};

// Packs strip s (kMR rows) of the A block that starts at row i0 and has mc rows, depths k0..k0+kc.
void pack_a_strip(float* packed_a, const Problem& p, int i0, int mc, int k0, int kc, int s) {
    pack_strip(packed_a + size_t(s) * kMR * kc, kMR, p.a.at(i0 + s * kMR, k0), p.a.row_stride, p.a.col_stride,
               std::min(kMR, mc - s * kMR), kc);
}

// Packs B strip s (kNR columns) into packed_b and multiplies the packed A block by it, one register
// tile at a time: C[i0:i0+mc, strip] := alpha · A · B + beta · C, where later slices add (beta = 1).
void multiply_b_strip(MicroKernel micro_kernel, const Problem& p, const float* packed_a, float* packed_b, int i0,
                      int mc, int k0, int kc, int s) {
    const int j = s * kNR, nr = std::min(kNR, p.N - j);
    const float beta = k0 == 0 ? p.beta : 1.0f;
    pack_strip(packed_b, kNR, p.b.at(k0, j), p.b.col_stride, p.b.row_stride, nr, kc);
    for (int sa = 0; sa * kMR < mc; ++sa) {
        const int mr = std::min(kMR, mc - sa * kMR);
        float* c = p.C + size_t(i0 + sa * kMR) * p.ldc + j;
        prefetch_tile(c, p.ldc, mr, nr);
        alignas(64) float tile[kMR * kNR];
        micro_kernel(tile, kc, packed_a + size_t(sa) * kMR * kc, packed_b);
        update_c(c, p.ldc, mr, nr, tile, p.alpha, beta);
    }
}

// Both loop nests below run in every thread of one parallel region: depth in slices, rows in blocks,
// columns in strips of kNR that a thread packs for itself right before using them. A private strip
// stays hot in L2 and needs no barrier; it beat packing a shared B panel first by 5-18 % at 256 tokens
// (the panel was written cold, then read back).

// Fewer row blocks than threads (256 tokens): threads share each packed A block and hand out its B
// strips to whichever thread is free, so one the OS preempts holds the others back by one strip. A
// blocks alternate between two buffers: the barrier that ends packing a block (all of it is packed
// before anyone reads it) is also the only one needed before its buffer is refilled two blocks later.
void product_sharing_a(MicroKernel micro_kernel, const Problem& p, float* const packed_a[2]) {
    PackBuffer packed_b(size_t(kKC) * kNR);
    const int strips_b = (p.N + kNR - 1) / kNR;
    int block = 0;
    for (int k0 = 0; k0 < p.K; k0 += p.depth) {
        const int kc = std::min(p.depth, p.K - k0);
        for (int i0 = 0; i0 < p.M; i0 += kMC, ++block) {
            const int mc = std::min(kMC, p.M - i0), strips_a = (mc + kMR - 1) / kMR;
            float* a = packed_a[block % 2];
#pragma omp for schedule(dynamic, 4)
            for (int s = 0; s < strips_a; ++s) pack_a_strip(a, p, i0, mc, k0, kc, s);
#pragma omp for schedule(dynamic) nowait
            for (int s = 0; s < strips_b; ++s) multiply_b_strip(micro_kernel, p, a, packed_b.data, i0, mc, k0, kc, s);
        }
    }
}

// At least one row block per thread: each thread takes whole blocks of `rows` rows (all slices, all
// strips) and packs its own A and B, with no barrier at all. Under load on 2 shared cores this ran
// 2.5-5x faster than sharing A on the weight gradient of the LM head (50257 x 768 x 256), which
// needs ~200 blocks and so ~200 barriers, each a wait for a preempted thread.
void product_by_rows(MicroKernel micro_kernel, const Problem& p, int rows) {
    PackBuffer packed_a(size_t(rows) * kKC), packed_b(size_t(kKC) * kNR);
    const int strips_b = (p.N + kNR - 1) / kNR;
#pragma omp for schedule(dynamic)
    for (int i0 = 0; i0 < p.M; i0 += rows) {
        const int mc = std::min(rows, p.M - i0), strips_a = (mc + kMR - 1) / kMR;
        for (int k0 = 0; k0 < p.K; k0 += p.depth) {
            const int kc = std::min(p.depth, p.K - k0);
            for (int s = 0; s < strips_a; ++s) pack_a_strip(packed_a.data, p, i0, mc, k0, kc, s);
            for (int s = 0; s < strips_b; ++s)
                multiply_b_strip(micro_kernel, p, packed_a.data, packed_b.data, i0, mc, k0, kc, s);
        }
    }
}

int ceil_div(int a, int b) { return (a + b - 1) / b; }

void gemm_with(MicroKernel micro_kernel, Transpose ta, Transpose tb, int M, int N, int K, float alpha,
               const float* A, int lda, const float* B, int ldb, float beta, float* C, int ldc) {
    if (M == 0 || N == 0) return;
    if (K == 0 || alpha == 0.0f) {
        if (beta != 1.0f) scale_c(C, ldc, M, N, beta);
        return;
    }
    const int depth = ceil_div(K, ceil_div(K, kKC));
    const Problem p{M, N, K, alpha, beta, Operand(A, lda, ta), Operand(B, ldb, tb), C, ldc, depth};
    const int threads = omp_get_max_threads(), blocks = ceil_div(M, kMC);
    if (blocks >= threads) {
        // A multiple of `threads` blocks of equal height (whole register tiles), so threads split evenly.
        const int rows = ceil_div(ceil_div(M, ceil_div(blocks, threads) * threads), kMR) * kMR;
#pragma omp parallel
        product_by_rows(micro_kernel, p, rows);
    } else {
        PackBuffer packed_a(2 * size_t(kMC) * kKC);
        float* const halves[2] = {packed_a.data, packed_a.data + size_t(kMC) * kKC};
#pragma omp parallel
        product_sharing_a(micro_kernel, p, halves);
    }
}

}  // namespace

void gemm_builtin(Transpose ta, Transpose tb, int M, int N, int K, float alpha, const float* A, int lda,
                  const float* B, int ldb, float beta, float* C, int ldc) {
    gemm_with(kFastest, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm_builtin_plain(Transpose ta, Transpose tb, int M, int N, int K, float alpha, const float* A, int lda,
                        const float* B, int ldb, float beta, float* C, int ldc) {
    gemm_with(micro_kernel_plain, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace nograd
