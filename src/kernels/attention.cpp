#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

namespace nograd {
namespace {

float dot(const float* a, const float* b, int n) {
    float s = 0.0f;
    for (int i = 0; i < n; ++i) s += a[i] * b[i];
    return s;
}

constexpr int kKeyBlock = 64;  // keys scored at once before the running output is rescaled

// One query row of the online softmax: out = Σ_j softmax(scale·q·k_j) v_j over keys j ≤ t.
// The running max m only grows; when it does, the sums so far are rescaled by exp(m_old − m_new).
void attend_streaming(float* out, float* acc, const float* q, const float* keys, const float* values, int t,
                      int hs, int row_stride, float scale) {
    float scores[kKeyBlock];
    float m = -std::numeric_limits<float>::infinity(), l = 0.0f;
    std::fill(acc, acc + hs, 0.0f);
    for (int j0 = 0; j0 <= t; j0 += kKeyBlock) {
        const int n = std::min(kKeyBlock, t + 1 - j0);
        float block_max = m;
        for (int j = 0; j < n; ++j) {
            scores[j] = scale * dot(q, keys + size_t(j0 + j) * row_stride, hs);
            block_max = std::max(block_max, scores[j]);
        }
        const float rescale = std::exp(m - block_max);  // exp(−inf) = 0 on the first block
        l *= rescale;
        for (int i = 0; i < hs; ++i) acc[i] *= rescale;
        m = block_max;
        for (int j = 0; j < n; ++j) {
            const float p = std::exp(scores[j] - m);
            l += p;
            const float* v = values + size_t(j0 + j) * row_stride;
            for (int i = 0; i < hs; ++i) acc[i] += p * v[i];
        }
    }
    for (int i = 0; i < hs; ++i) out[i] = acc[i] / l;
}

}  // namespace

void attention_forward_streaming(float* out, const float* qkv, int B, int T, int C, int NH) {
    const int hs = C / NH;
    const float scale = 1.0f / std::sqrt(float(hs));
#pragma omp parallel
    {
        std::vector<float> acc(hs);
#pragma omp for collapse(3) schedule(dynamic, 4)
        for (int b = 0; b < B; ++b)
            for (int t = 0; t < T; ++t)
                for (int h = 0; h < NH; ++h) {
                    const float* base = qkv + size_t(b) * T * 3 * C;
                    const float* q = base + size_t(t) * 3 * C + h * hs;
                    attend_streaming(out + (size_t(b) * T + t) * C + h * hs, acc.data(), q, base + C + h * hs,
                                     base + 2 * C + h * hs, t, hs, 3 * C, scale);
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
