#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "kernels/vector_math.h"

namespace nograd {
namespace {

float dot(const float* a, const float* b, int n) {
    float s = 0.0f;
    for (int i = 0; i < n; ++i) s += a[i] * b[i];
    return s;
}

// Streaming attention works on tiles: kQueryBlock queries of one head against kKeyBlock keys at a time,
// so each key and value row is loaded once per tile instead of once per query, and the inner loops run
// over contiguous keys (scores) and channels (outputs) where they vectorize. Scratch per thread: the
// transposed key tile, the score tile and the running outputs, 16 + 4 + 4 KB for hs = 64: independent of T.
constexpr int kQueryBlock = 16;
constexpr int kKeyBlock = 64;

// Per-thread scratch of the tiled online softmax.
struct AttentionTile {
    explicit AttentionTile(int hs) : keys_t(size_t(hs) * kKeyBlock), acc(size_t(kQueryBlock) * hs) {}
    std::vector<float> keys_t;  // (hs, kKeyBlock): this tile's keys, transposed
    std::vector<float> acc;     // (kQueryBlock, hs): Σ_j p_j v_j so far, in units of exp(−m)
    float scores[kQueryBlock][kKeyBlock];
    float m[kQueryBlock], l[kQueryBlock];  // running maximum and Σ_j exp(s_j − m)
};

// scores[r][j] = scale · q_{q0+r} · k_{k0+j}, or −inf above the diagonal (k0 + j > q0 + r). qkv rows hold
// each position's query, then its key (offset C), then its value (offset 2C).
void tile_scores(AttentionTile& tile, const float* qkv, int q0, int rows, int k0, int keys, int C, int hs,
                 size_t stride, float scale) {
    for (int j = 0; j < keys; ++j)
        for (int d = 0; d < hs; ++d) tile.keys_t[size_t(d) * kKeyBlock + j] = qkv[(k0 + j) * stride + C + d];
    for (int r = 0; r < rows; ++r) {
        float* s = tile.scores[r];
        for (int j = 0; j < kKeyBlock; ++j) s[j] = 0.0f;
        const float* q = qkv + (q0 + r) * stride;
        for (int d = 0; d < hs; ++d) {
            const float qd = scale * q[d];
            const float* kt = tile.keys_t.data() + size_t(d) * kKeyBlock;
#pragma omp simd
            for (int j = 0; j < kKeyBlock; ++j) s[j] += qd * kt[j];
        }
        for (int j = 0; j < keys; ++j)
            if (k0 + j > q0 + r) s[j] = -std::numeric_limits<float>::infinity();
    }
}

// The online softmax update for one tile (Milakov & Gimelshein 2018): with the new maximum m', the sums so
// far are rescaled by exp(m − m'), then p_j = exp(s_j − m') joins l and p_j v_j joins acc.
void tile_accumulate(AttentionTile& tile, const float* values, int rows, int keys, int hs, size_t stride) {
    for (int r = 0; r < rows; ++r) {
        float* s = tile.scores[r];
        float block_max = tile.m[r];
#pragma omp simd reduction(max : block_max)
        for (int j = 0; j < keys; ++j) block_max = s[j] > block_max ? s[j] : block_max;
        const float rescale = exp_approx(tile.m[r] - block_max);  // 0 on the first tile (m = −inf)
        tile.m[r] = block_max;
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int j = 0; j < keys; ++j) sum += (s[j] = exp_approx(s[j] - block_max));
        tile.l[r] = tile.l[r] * rescale + sum;
        float* acc = tile.acc.data() + size_t(r) * hs;
        for (int i = 0; i < hs; ++i) acc[i] *= rescale;
        for (int j = 0; j < keys; ++j) {
            const float p = s[j];
            const float* v = values + j * stride;
#pragma omp simd
            for (int i = 0; i < hs; ++i) acc[i] += p * v[i];
        }
    }
}

// Queries q0 .. q0 + rows − 1 of one head of one sequence; qkv points at the sequence's (T, 3C) rows, offset
// to the head, and out at its (T, C) rows, offset likewise.
void attend_tile_rows(float* out, AttentionTile& tile, const float* qkv, int q0, int rows, int C, int hs,
                      float scale) {
    const size_t stride = 3 * size_t(C);
    std::fill(tile.acc.begin(), tile.acc.end(), 0.0f);
    std::fill_n(tile.m, kQueryBlock, -std::numeric_limits<float>::infinity());
    std::fill_n(tile.l, kQueryBlock, 0.0f);
    const int last_key = q0 + rows - 1;  // causal: no query of the tile sees beyond it
    for (int k0 = 0; k0 <= last_key; k0 += kKeyBlock) {
        const int keys = std::min(kKeyBlock, last_key + 1 - k0);
        tile_scores(tile, qkv, q0, rows, k0, keys, C, hs, stride, scale);
        tile_accumulate(tile, qkv + k0 * stride + 2 * C, rows, keys, hs, stride);
    }
    for (int r = 0; r < rows; ++r) {
        float* y = out + (q0 + r) * size_t(C);
        const float* acc = tile.acc.data() + size_t(r) * hs;
        const float inv = 1.0f / tile.l[r];
        for (int i = 0; i < hs; ++i) y[i] = acc[i] * inv;
    }
}

}  // namespace

void attention_forward_streaming(float* out, const float* qkv, int B, int T, int C, int NH) {
    const int hs = C / NH;
    const float scale = 1.0f / std::sqrt(float(hs));
    const int query_blocks = (T + kQueryBlock - 1) / kQueryBlock;
#pragma omp parallel
    {
        AttentionTile tile(hs);
        // Later query tiles see more keys: dynamic scheduling evens the load; each row's arithmetic is the
        // same whichever thread runs it.
#pragma omp for collapse(3) schedule(dynamic, 1)
        for (int b = 0; b < B; ++b)
            for (int h = 0; h < NH; ++h)
                for (int qb = query_blocks - 1; qb >= 0; --qb) {
                    const int q0 = qb * kQueryBlock, rows = std::min(kQueryBlock, T - q0);
                    attend_tile_rows(out + size_t(b) * T * C + h * hs, tile, qkv + size_t(b) * T * 3 * C + h * hs,
                                     q0, rows, C, hs, scale);
                }
    }
}

void attention_forward(float* out, float* att, const float* qkv, int B, int T, int C, int NH) {
    const int hs = C / NH;
    const float scale = 1.0f / std::sqrt(float(hs));
#pragma omp parallel for collapse(3) schedule(dynamic, 4)
    for (int b = 0; b < B; ++b)
        for (int t = 0; t < T; ++t)
            for (int h = 0; h < NH; ++h) {
                const float* base = qkv + size_t(b) * T * 3 * C;
                const float* q = base + size_t(t) * 3 * C + h * hs;
                float* p = att + ((size_t(b) * NH + h) * T + t) * T;
                float max = -std::numeric_limits<float>::infinity();
                for (int j = 0; j <= t; ++j) {
                    p[j] = scale * dot(q, base + size_t(j) * 3 * C + C + h * hs, hs);
                    max = std::max(max, p[j]);
                }
                float sum = 0.0f;
                for (int j = 0; j <= t; ++j) sum += (p[j] = std::exp(p[j] - max));
                for (int j = 0; j <= t; ++j) p[j] /= sum;
                for (int j = t + 1; j < T; ++j) p[j] = 0.0f;
                float* y = out + (size_t(b) * T + t) * C + h * hs;
                std::fill(y, y + hs, 0.0f);
                for (int j = 0; j <= t; ++j) {
                    const float* v = base + size_t(j) * 3 * C + 2 * C + h * hs;
                    for (int i = 0; i < hs; ++i) y[i] += p[j] * v[i];
                }
            }
}

namespace {

// One head of one sequence. With y_t = Σ_j p_tj v_j and p_t = softmax(s_t), s_tj = scale · q_t·k_j:
//   dv_j += p_tj dy_t,   dp_tj = dy_t·v_j,   ds_tj = p_tj (dp_tj − Σ_k p_tk dp_tk)   (softmax Jacobian),
//   dq_t += scale Σ_j ds_tj k_j,   dk_j += scale ds_tj q_t.
// qkv and dqkv point at this sequence's (T, 3C) rows, offset to head h; dp is T floats of scratch.
void attention_head_backward(float* dqkv, float* dp, const float* dout, const float* qkv, const float* att, int T,
                             int C, int hs, float scale) {
    const size_t stride = 3 * size_t(C);
    for (int t = 0; t < T; ++t)
        for (int part = 0; part < 3; ++part) {  // this head's q, k and v slices of row t
            float* d = dqkv + t * stride + part * size_t(C);
            std::fill(d, d + hs, 0.0f);
        }
    for (int t = 0; t < T; ++t) {
        const float* p = att + size_t(t) * T;
        const float* dy = dout + size_t(t) * C;
        const float* q = qkv + t * stride;
        float* dq = dqkv + t * stride;
        float weighted = 0.0f;  // Σ_k p_tk dp_tk
        for (int j = 0; j <= t; ++j) {
            dp[j] = dot(dy, qkv + j * stride + 2 * C, hs);
            weighted += p[j] * dp[j];
            float* dv = dqkv + j * stride + 2 * C;
            for (int i = 0; i < hs; ++i) dv[i] += p[j] * dy[i];
        }
        for (int j = 0; j <= t; ++j) {
            const float ds = scale * p[j] * (dp[j] - weighted);
            const float* k = qkv + j * stride + C;
            float* dk = dqkv + j * stride + C;
            for (int i = 0; i < hs; ++i) {
                dq[i] += ds * k[i];
                dk[i] += ds * q[i];
            }
        }
    }
}

}  // namespace

void attention_backward(float* dqkv, const float* dout, const float* qkv, const float* att, int B, int T, int C,
                        int NH) {
    const int hs = C / NH;
    const float scale = 1.0f / std::sqrt(float(hs));
#pragma omp parallel
    {
        std::vector<float> dp(T);
#pragma omp for collapse(2) schedule(static)
        for (int b = 0; b < B; ++b)
            for (int h = 0; h < NH; ++h) {
                const size_t sequence = size_t(b) * T * 3 * C;
                attention_head_backward(dqkv + sequence + h * hs, dp.data(), dout + size_t(b) * T * C + h * hs,
                                        qkv + sequence + h * hs, att + (size_t(b) * NH + h) * T * T, T, C, hs,
                                        scale);
            }
    }
}

}  // namespace nograd
