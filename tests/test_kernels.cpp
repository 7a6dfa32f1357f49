// Every forward kernel against a naive loop on random inputs with awkward sizes, and every matrix
// backend (the built one, nograd's own kernel and its plain twin) against a naive triple loop for all
// transposes; nograd's kernel gives the same bits on any thread count.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <omp.h>

#include "helpers.h"
#include "kernels/attention.h"
#include "kernels/crossentropy.h"
#include "kernels/encoder.h"
#include "kernels/gelu.h"
#include "kernels/gemm.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "kernels/residual.h"
#include "kernels/vector_math.h"

using namespace nograd;
using nograd::testing::random_vector;
using nograd::testing::worst_error;

namespace {

// C = alpha·op(A)·op(B) + beta·C in double, straight from the definition.
std::vector<float> naive_gemm(bool ta, bool tb, int M, int N, int K, float alpha, const std::vector<float>& A,
                              int lda, const std::vector<float>& B, int ldb, float beta, std::vector<float> C,
                              int ldc) {
    for (int i = 0; i < M; ++i)
        for (int j = 0; j < N; ++j) {
            double s = 0.0;
            for (int k = 0; k < K; ++k)
                s += double(ta ? A[k * lda + i] : A[i * lda + k]) * double(tb ? B[j * ldb + k] : B[k * ldb + j]);
            C[i * ldc + j] = float(alpha * s + beta * double(C[i * ldc + j]));
        }
    return C;
}

using GemmFn = void (*)(Transpose, Transpose, int, int, int, float, const float*, int, const float*, int, float,
                        float*, int);

void check_gemm(GemmFn fn, int M, int N, int K, bool ta, bool tb, float alpha, float beta) {
    const int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;  // padded strides on purpose
    const auto A = random_vector(size_t(ta ? K : M) * lda, 1), B = random_vector(size_t(tb ? N : K) * ldb, 2);
    auto C = random_vector(size_t(M) * ldc, 3);
    const auto expected = naive_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    fn(ta ? Transpose::yes : Transpose::no, tb ? Transpose::yes : Transpose::no, M, N, K, alpha, A.data(), lda,
       B.data(), ldb, beta, C.data(), ldc);
    CHECK(worst_error(C.data(), expected.data(), C.size(), 1e-4, 1e-4) <= 1.0);
}

}  // namespace

TEST_SUITE("kernels") {
    TEST_CASE("gemm: the built backend and the builtin kernel match a naive loop for every transpose") {
        // Odd sizes, exact register tiles, sizes past the builtin kernel's cache blocks (256 rows, 768
        // deep): 300 rows, 1600 deep (three slices), and many column strips.
        const int shapes[][3] = {{1, 1, 1},     {7, 13, 5},  {37, 19, 300}, {100, 70, 33}, {6, 16, 256},
                                 {13, 2100, 9}, {8, 48, 64}, {300, 50, 20}, {9, 60, 1600}, {5, 4150, 3}};
        for (GemmFn fn : {GemmFn(gemm), GemmFn(gemm_builtin), GemmFn(gemm_builtin_plain)})
            for (auto& s : shapes)
                for (int t = 0; t < 4; ++t) {
                    CAPTURE(s[0]); CAPTURE(s[1]); CAPTURE(s[2]); CAPTURE(t);
                    check_gemm(fn, s[0], s[1], s[2], t & 1, t & 2, 0.7f, t == 3 ? 0.0f : 0.5f);
                }
    }

    TEST_CASE("gemm with beta = 0 ignores NaN already in C") {
        std::vector<float> A = {1, 2}, B = {3, 4}, C = {NAN};
        for (GemmFn fn : {GemmFn(gemm), GemmFn(gemm_builtin), GemmFn(gemm_builtin_plain)}) {
            C[0] = NAN;
            fn(Transpose::no, Transpose::yes, 1, 1, 2, 1.0f, A.data(), 2, B.data(), 2, 0.0f, C.data(), 1);
            CHECK(C[0] == 11.0f);
        }
    }

    TEST_CASE("gemm_builtin gives the same bits on 1, 2 and 3 threads") {
        // Shapes whose tiles and cache blocks (several of each dimension) split unevenly between threads.
        const int shapes[][3] = {{300, 70, 1000}, {37, 4150, 19}, {13, 100, 7}};
        for (auto& s : shapes)
            for (int t = 0; t < 4; ++t) {
                CAPTURE(s[0]); CAPTURE(s[1]); CAPTURE(s[2]); CAPTURE(t);
                const int M = s[0], N = s[1], K = s[2], lda = t & 1 ? M : K, ldb = t & 2 ? K : N;
                const auto A = random_vector(size_t(M) * K, 11), B = random_vector(size_t(K) * N, 12);
                std::vector<float> C[3];
                const int before = omp_get_max_threads();
                for (int threads = 1; threads <= 3; ++threads) {
                    omp_set_num_threads(threads);
                    C[threads - 1] = random_vector(size_t(M) * N, 13);
                    gemm_builtin(t & 1 ? Transpose::yes : Transpose::no, t & 2 ? Transpose::yes : Transpose::no, M, N,
                                 K, 0.7f, A.data(), lda, B.data(), ldb, 0.5f, C[threads - 1].data(), N);
                }
                omp_set_num_threads(before);
                CHECK(std::memcmp(C[0].data(), C[1].data(), C[0].size() * sizeof(float)) == 0);
                CHECK(std::memcmp(C[0].data(), C[2].data(), C[0].size() * sizeof(float)) == 0);
            }
    }

    TEST_CASE("matmul_forward adds the bias and honours the output stride") {
        const int N = 9, IC = 11, OC = 5, ldo = 8;
        const auto x = random_vector(N * IC, 4), w = random_vector(OC * IC, 5), b = random_vector(OC, 6);
        std::vector<float> out(N * ldo, -7.0f);
        matmul_forward(out.data(), x.data(), w.data(), b.data(), N, IC, OC, ldo);
        for (int n = 0; n < N; ++n) {
            for (int o = 0; o < OC; ++o) {
                double s = b[o];
                for (int i = 0; i < IC; ++i) s += double(x[n * IC + i]) * w[o * IC + i];
                CHECK(out[n * ldo + o] == doctest::Approx(s).epsilon(1e-5));
            }
            for (int o = OC; o < ldo; ++o) CHECK(out[n * ldo + o] == -7.0f);  // padding untouched
        }
    }

    TEST_CASE("layernorm_forward matches the definition, with and without saved statistics") {
        const int N = 7, C = 13;
        const auto x = random_vector(N * C, 7, 3.0f), w = random_vector(C, 8), b = random_vector(C, 9);
        std::vector<float> out(N * C), out2(N * C), mean(N), rstd(N);
        layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C);
        layernorm_forward(out2.data(), nullptr, nullptr, x.data(), w.data(), b.data(), N, C);
        for (int n = 0; n < N; ++n) {
            double m = 0, v = 0;
            for (int c = 0; c < C; ++c) m += x[n * C + c];
            m /= C;
            for (int c = 0; c < C; ++c) v += (x[n * C + c] - m) * (x[n * C + c] - m);
            const double s = 1.0 / std::sqrt(v / C + 1e-5);
            CHECK(mean[n] == doctest::Approx(m).epsilon(1e-5));
            CHECK(rstd[n] == doctest::Approx(s).epsilon(1e-5));
            for (int c = 0; c < C; ++c) {
                CHECK(out[n * C + c] == doctest::Approx((x[n * C + c] - m) * s * w[c] + b[c]).epsilon(1e-4));
                CHECK(out2[n * C + c] == out[n * C + c]);
            }
        }
    }

    TEST_CASE("exp_approx and sigmoid_approx match libm to 1e-7, with the documented limits") {
        // Every 1024th float from -87 to 88 (about 2e6 values across all binades), plus the ends.
        double worst_exp = 0.0, worst_sigmoid = 0.0;
        for (float x = -87.0f; x <= 88.0f; x = std::nextafter(x, 100.0f)) {
            uint32_t bits;
            std::memcpy(&bits, &x, 4);
            if ((bits & 0x3FF) != 0 && x != 88.0f && x != -87.0f) continue;
            const double e = std::exp(double(x)), s = 1.0 / (1.0 + std::exp(-double(x)));
            worst_exp = std::max(worst_exp, std::abs(exp_approx(x) - e) / e);
            worst_sigmoid = std::max(worst_sigmoid, std::abs(sigmoid_approx(x) - s) / s);
        }
        CHECK(worst_exp < 1e-7);
        CHECK(worst_sigmoid < 2e-7);
        CHECK(exp_approx(0.0f) == 1.0f);
        CHECK(exp_approx(-87.5f) == 0.0f);
        CHECK(exp_approx(-INFINITY) == 0.0f);
        CHECK(exp_approx(INFINITY) == doctest::Approx(std::exp(88.0)));
        CHECK(std::isnan(exp_approx(NAN)));
        CHECK(sigmoid_approx(-200.0f) == doctest::Approx(1.0 / (1.0 + std::exp(88.0))));
        CHECK(sigmoid_approx(200.0f) == 1.0f);
    }

    TEST_CASE("gelu_forward is the tanh approximation, also in place") {
        auto x = random_vector(1001, 10, 3.0f);
        std::vector<float> out(x.size());
        gelu_forward(out.data(), x.data(), long(x.size()));
        for (size_t i = 0; i < x.size(); ++i) {
            const double v = x[i];
            CHECK(out[i] == doctest::Approx(0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))))
                                .epsilon(1e-5));
        }
        gelu_forward(x.data(), x.data(), long(x.size()));
        CHECK(x == out);
    }

    TEST_CASE("residual_forward and encoder_forward") {
        const auto a = random_vector(33, 11), b = random_vector(33, 12);
        std::vector<float> out(33);
        residual_forward(out.data(), a.data(), b.data(), 33);
        for (int i = 0; i < 33; ++i) CHECK(out[i] == a[i] + b[i]);

        const int B = 2, T = 3, C = 5, V = 7;
        const auto wte = random_vector(V * C, 13), wpe = random_vector(T * C, 14);
        const int tokens[B * T] = {6, 0, 3, 3, 1, 6};
        std::vector<float> enc(B * T * C);
        encoder_forward(enc.data(), tokens, wte.data(), wpe.data(), B, T, C);
        for (int bt = 0; bt < B * T; ++bt)
            for (int c = 0; c < C; ++c) CHECK(enc[bt * C + c] == wte[tokens[bt] * C + c] + wpe[(bt % T) * C + c]);
    }

    TEST_CASE("crossentropy_forward ignores the padded columns") {
        const int N = 4, V = 11, Vp = 16;
        auto logits = random_vector(N * Vp, 15, 2.0f);
        for (int n = 0; n < N; ++n)
            for (int v = V; v < Vp; ++v) logits[n * Vp + v] = 1e30f;  // would dominate if read
        const int targets[N] = {0, 10, 5, 3};
        std::vector<float> losses(N);
        crossentropy_forward(losses.data(), logits.data(), targets, N, V, Vp);
        for (int n = 0; n < N; ++n) {
            double z = 0;
            for (int v = 0; v < V; ++v) z += std::exp(double(logits[n * Vp + v]));
            CHECK(losses[n] == doctest::Approx(std::log(z) - logits[n * Vp + targets[n]]).epsilon(1e-5));
        }
    }

    TEST_CASE("ChunkedCrossEntropy: chunks of any width give the naive log-softmax loss; NaN logits give NaN") {
        const int N = 5, V = 1000, ld = 1024;
        auto logits = random_vector(size_t(N) * ld, 21, 3.0f);
        logits[2 * ld + 700] = 40.0f;  // a row whose maximum sits in a late chunk, so the sum must be rescaled
        const int targets[N] = {0, 999, 700, 383, 384};
        std::vector<double> expected(N);
        for (int n = 0; n < N; ++n) {
            double z = 0;
            for (int v = 0; v < V; ++v) z += std::exp(double(logits[size_t(n) * ld + v]));
            expected[n] = std::log(z) - logits[size_t(n) * ld + targets[n]];
        }
        for (const int width : {1000, 384, 100, 7}) {
            CAPTURE(width);
            ChunkedCrossEntropy loss(N);
            std::vector<float> chunk(size_t(N) * width);
            for (int v0 = 0; v0 < V; v0 += width) {
                const int count = std::min(width, V - v0);
                for (int n = 0; n < N; ++n)
                    for (int j = 0; j < count; ++j) chunk[size_t(n) * width + j] = logits[size_t(n) * ld + v0 + j];
                loss.add_chunk(chunk.data(), width, v0, count, targets);
            }
            std::vector<float> losses(N);
            loss.losses(losses.data());
            for (int n = 0; n < N; ++n) CHECK(losses[n] == doctest::Approx(expected[n]).epsilon(1e-6));
        }
        ChunkedCrossEntropy poisoned(1);
        std::vector<float> row(logits.begin(), logits.begin() + V);
        row[500] = std::nanf("");
        poisoned.add_chunk(row.data(), V, 0, V, targets);
        float out = 0;
        poisoned.losses(&out);
        CHECK(std::isnan(out));
    }

    TEST_CASE("attention: streaming and stored-probability versions match a naive causal attention") {
        // T = 70 and 131 cross the streaming kernel's 64-query and 64-key tiles and its groups of 4 queries;
        // hs = 4 takes its generic path, hs = 64 (GPT-2's) and 16 its register-blocked one.
        for (auto [T, hs] : {std::pair{1, 4}, {5, 4}, {70, 4}, {131, 4}, {131, 64}, {67, 16}}) {
            const int B = 2, NH = 3, C = NH * hs;
            const auto qkv = random_vector(size_t(B) * T * 3 * C, 16 + T, 1.5f);
            std::vector<float> streamed(B * T * C), stored(B * T * C), att(size_t(B) * NH * T * T, -1.0f);
            attention_forward_streaming(streamed.data(), qkv.data(), B, T, C, NH);
            attention_forward(stored.data(), att.data(), qkv.data(), B, T, C, NH);
            std::vector<float> expected(B * T * C);
            for (int b = 0; b < B; ++b)
                for (int t = 0; t < T; ++t)
                    for (int h = 0; h < NH; ++h) {
                        const float* base = qkv.data() + size_t(b) * T * 3 * C;
                        std::vector<double> w(t + 1);
                        double mx = -1e300, sum = 0;
                        for (int j = 0; j <= t; ++j) {
                            double s = 0;
                            for (int i = 0; i < hs; ++i) s += double(base[t * 3 * C + h * hs + i]) * base[j * 3 * C + C + h * hs + i];
                            w[j] = s / std::sqrt(double(hs));
                            mx = std::max(mx, w[j]);
                        }
                        for (int j = 0; j <= t; ++j) sum += (w[j] = std::exp(w[j] - mx));
                        for (int j = 0; j < T; ++j) {
                            const double p = j <= t ? w[j] / sum : 0.0;
                            CHECK(att[((size_t(b) * NH + h) * T + t) * T + j] == doctest::Approx(p).epsilon(1e-5));
                        }
                        for (int i = 0; i < hs; ++i) {
                            double y = 0;
                            for (int j = 0; j <= t; ++j) y += w[j] / sum * base[j * 3 * C + 2 * C + h * hs + i];
                            expected[(b * T + t) * C + h * hs + i] = float(y);
                        }
                    }
            CAPTURE(T);
            CAPTURE(hs);
            CHECK(worst_error(streamed.data(), expected.data(), expected.size(), 1e-5, 1e-5) <= 1.0);
            CHECK(worst_error(stored.data(), expected.data(), expected.size(), 1e-5, 1e-5) <= 1.0);
        }
    }
}
