// The backward kernels against independent references: central differences of a double-precision
// forward written here (layernorm, attention, gelu, cross-entropy) or the definition as naive loops
// (encoder, matmul, residual). Awkward sizes on purpose (N=7, C=13, OC=19, T=5, NH=3, hs=4), and
// gradients that should accumulate are checked on pre-filled buffers.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <omp.h>
#include <vector>

#include "helpers.h"
#include "kernels/attention.h"
#include "kernels/crossentropy.h"
#include "kernels/encoder.h"
#include "kernels/gelu.h"
#include "kernels/gemm.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "kernels/residual.h"

using nograd::testing::random_vector;

namespace {

using Vec = std::vector<double>;

Vec widen(const std::vector<float>& v) { return Vec(v.begin(), v.end()); }

// d f / d x by central differences in double: truncation ~h², roundoff ~1e-16/h, both far below fp32.
template <class F>
Vec numeric_gradient(Vec x, F&& f, double h = 1e-6) {
    Vec g(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
        const double keep = x[i];
        x[i] = keep + h;
        const double up = f(x);
        x[i] = keep - h;
        const double down = f(x);
        x[i] = keep;
        g[i] = (up - down) / (2 * h);
    }
    return g;
}

// max |got − want| / (abs_tol + rel_tol·|want|): ≤ 1 means within tolerance.
double scaled_error(const std::vector<float>& got, const Vec& want, double abs_tol = 1e-5, double rel_tol = 1e-4) {
    REQUIRE(got.size() == want.size());
    double worst = 0.0;
    for (size_t i = 0; i < got.size(); ++i)
        worst = std::max(worst, std::abs(got[i] - want[i]) / (abs_tol + rel_tol * std::abs(want[i])));
    return worst;
}

// What a kernel added to a pre-filled buffer.
std::vector<float> added(const std::vector<float>& after, const std::vector<float>& before) {
    std::vector<float> d(after.size());
    for (size_t i = 0; i < d.size(); ++i) d[i] = after[i] - before[i];
    return d;
}

double dot(const Vec& a, const Vec& b) {
    double s = 0.0;
    for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
    return s;
}

Vec layernorm_ref(const Vec& x, const Vec& w, const Vec& b, int N, int C) {
    Vec y(x.size());
    for (int n = 0; n < N; ++n) {
        double m = 0, var = 0;
        for (int c = 0; c < C; ++c) m += x[n * C + c] / C;
        for (int c = 0; c < C; ++c) var += (x[n * C + c] - m) * (x[n * C + c] - m) / C;
        for (int c = 0; c < C; ++c) y[n * C + c] = (x[n * C + c] - m) / std::sqrt(var + 1e-5) * w[c] + b[c];
    }
    return y;
}

// Causal attention over packed qkv (B, T, 3C), straight from the definition.
Vec attention_ref(const Vec& qkv, int B, int T, int C, int NH) {
    const int hs = C / NH;
    Vec out(size_t(B) * T * C, 0.0);
    for (int b = 0; b < B; ++b)
        for (int h = 0; h < NH; ++h)
            for (int t = 0; t < T; ++t) {
                auto at = [&](int tok, int part, int i) { return qkv[(size_t(b) * T + tok) * 3 * C + part * C + h * hs + i]; };
                Vec score(t + 1);
                double max = -1e300, sum = 0;
                for (int j = 0; j <= t; ++j) {
                    score[j] = 0;
                    for (int i = 0; i < hs; ++i) score[j] += at(t, 0, i) * at(j, 1, i) / std::sqrt(double(hs));
                    max = std::max(max, score[j]);
                }
                for (int j = 0; j <= t; ++j) sum += (score[j] = std::exp(score[j] - max));
                for (int j = 0; j <= t; ++j)
                    for (int i = 0; i < hs; ++i) out[(size_t(b) * T + t) * C + h * hs + i] += score[j] / sum * at(j, 2, i);
            }
    return out;
}

double gelu_ref(double x) { return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))); }

// Σ_n dloss · (logsumexp(row[0:V]) − row[target]) over rows of stride Vp.
double crossentropy_ref(const Vec& logits, const std::vector<int>& targets, double dloss, int N, int V, int Vp) {
    double total = 0;
    for (int n = 0; n < N; ++n) {
        double max = -1e300, sum = 0;
        for (int v = 0; v < V; ++v) max = std::max(max, logits[n * Vp + v]);
        for (int v = 0; v < V; ++v) sum += std::exp(logits[n * Vp + v] - max);
        total += dloss * (std::log(sum) + max - logits[n * Vp + targets[n]]);
    }
    return total;
}

// Runs f once with 1 thread and once with 2 (OpenMP and the gemm backend alike), then restores.
template <class F>
void with_threads(int n, F&& f) {
    const int before = omp_get_max_threads();
    omp_set_num_threads(n);
    nograd::gemm_setup(n);
    f();
    omp_set_num_threads(before);
    nograd::gemm_setup(before);
}

}  // namespace

TEST_SUITE("kernels") {
    TEST_CASE("encoder_backward accumulates into the token and position rows, repeated tokens included") {
        const int B = 2, T = 5, C = 13, Vp = 6, maxT = 7;
        const std::vector<int> tokens = {3, 1, 3, 0, 5, 1, 1, 3, 2, 0};  // repeats within and across rows
        const auto dout = random_vector(B * T * C, 1);
        const auto dwte0 = random_vector(Vp * C, 2), dwpe0 = random_vector(maxT * C, 3);
        auto dwte = dwte0, dwpe = dwpe0;
        nograd::encoder_backward(dwte.data(), dwpe.data(), dout.data(), tokens.data(), B, T, C);
        Vec want_wte(Vp * C, 0.0), want_wpe(maxT * C, 0.0);
        for (int b = 0; b < B; ++b)
            for (int t = 0; t < T; ++t)
                for (int c = 0; c < C; ++c) {
                    want_wte[tokens[b * T + t] * C + c] += dout[(b * T + t) * C + c];
                    want_wpe[t * C + c] += dout[(b * T + t) * C + c];
                }
        CHECK(scaled_error(added(dwte, dwte0), want_wte) <= 1);
        CHECK(scaled_error(added(dwpe, dwpe0), want_wpe) <= 1);
        CHECK(std::memcmp(dwte.data() + 4 * C, dwte0.data() + 4 * C, C * sizeof(float)) == 0);  // token 4 unused
        CHECK(std::memcmp(dwpe.data() + T * C, dwpe0.data() + T * C, 2 * C * sizeof(float)) == 0);  // rows ≥ T
    }

    TEST_CASE("layernorm_backward matches central differences and accumulates all three gradients") {
        const int N = 7, C = 13;
        auto x = random_vector(N * C, 4, 2.0f);
        for (int i = 0; i < N * C; ++i) x[i] += 0.5f * (i % C);  // rows with a mean far from 0
        const auto w = random_vector(C, 5), b = random_vector(C, 6), dout = random_vector(N * C, 7);
        std::vector<float> y(N * C), mean(N), rstd(N);
        nograd::layernorm_forward(y.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C);
        const auto dx0 = random_vector(N * C, 8), dw0 = random_vector(C, 9), db0 = random_vector(C, 10);
        auto dx = dx0, dw = dw0, db = db0;
        nograd::layernorm_backward(dx.data(), dw.data(), db.data(), dout.data(), x.data(), w.data(), mean.data(),
                                   rstd.data(), N, C);
        const Vec X = widen(x), W = widen(w), Bv = widen(b), D = widen(dout);
        const Vec want_dx = numeric_gradient(X, [&](const Vec& v) { return dot(D, layernorm_ref(v, W, Bv, N, C)); });
        const Vec want_dw = numeric_gradient(W, [&](const Vec& v) { return dot(D, layernorm_ref(X, v, Bv, N, C)); });
        const Vec want_db = numeric_gradient(Bv, [&](const Vec& v) { return dot(D, layernorm_ref(X, W, v, N, C)); });
        CHECK(scaled_error(added(dx, dx0), want_dx) <= 1);
        CHECK(scaled_error(added(dw, dw0), want_dw) <= 1);
        CHECK(scaled_error(added(db, db0), want_db) <= 1);
    }

    TEST_CASE("matmul_backward: dinp, dweight, dbias accumulate; the output stride is honoured") {
        const int N = 7, IC = 13, OC = 19;
        for (int ldd : {OC, 23}) {
            CAPTURE(ldd);
            auto dout = random_vector(N * ldd, 11);
            for (int n = 0; n < N; ++n)  // columns OC..ldd-1 are not part of the matrix
                for (int o = OC; o < ldd; ++o) dout[n * ldd + o] = std::numeric_limits<float>::quiet_NaN();
            const auto inp = random_vector(N * IC, 12), w = random_vector(OC * IC, 13);
            const auto dinp0 = random_vector(N * IC, 14), dw0 = random_vector(OC * IC, 15), db0 = random_vector(OC, 16);
            auto dinp = dinp0, dw = dw0, db = db0;
            nograd::matmul_backward(dinp.data(), dw.data(), db.data(), dout.data(), inp.data(), w.data(), N, IC, OC,
                                    ldd);
            Vec want_dinp(N * IC, 0.0), want_dw(OC * IC, 0.0), want_db(OC, 0.0);
            for (int n = 0; n < N; ++n)
                for (int o = 0; o < OC; ++o) {
                    const double g = dout[n * ldd + o];
                    want_db[o] += g;
                    for (int i = 0; i < IC; ++i) {
                        want_dinp[n * IC + i] += g * w[o * IC + i];
                        want_dw[o * IC + i] += g * inp[n * IC + i];
                    }
                }
            CHECK(scaled_error(added(dinp, dinp0), want_dinp) <= 1);
            CHECK(scaled_error(added(dw, dw0), want_dw) <= 1);
            CHECK(scaled_error(added(db, db0), want_db) <= 1);
            // Null dinp and dbias are skipped; dweight still gets the same sum.
            auto dw_only = dw0;
            nograd::matmul_backward(nullptr, dw_only.data(), nullptr, dout.data(), inp.data(), w.data(), N, IC, OC, ldd);
            CHECK(std::memcmp(dw_only.data(), dw.data(), dw.size() * sizeof(float)) == 0);
        }
    }

    TEST_CASE("matmul_backward gives the same bits on 1 and 2 threads") {
        const int N = 300, IC = 70, OC = 130;  // large enough for both threads to get column blocks and gemm work
        const auto dout = random_vector(N * OC, 17), inp = random_vector(N * IC, 18), w = random_vector(OC * IC, 19);
        std::vector<float> dinp[2], dw[2], db[2];
        for (int threads : {1, 2}) {
            auto& a = dinp[threads - 1];
            auto& b = dw[threads - 1];
            auto& c = db[threads - 1];
            a = random_vector(N * IC, 20), b = random_vector(OC * IC, 21), c = random_vector(OC, 22);
            with_threads(threads, [&] {
                nograd::matmul_backward(a.data(), b.data(), c.data(), dout.data(), inp.data(), w.data(), N, IC, OC);
            });
        }
        CHECK(std::memcmp(dinp[0].data(), dinp[1].data(), dinp[0].size() * sizeof(float)) == 0);
        CHECK(std::memcmp(dw[0].data(), dw[1].data(), dw[0].size() * sizeof(float)) == 0);
        CHECK(std::memcmp(db[0].data(), db[1].data(), db[0].size() * sizeof(float)) == 0);
    }

    TEST_CASE("attention_backward matches central differences and overwrites dqkv") {
        const int B = 2, T = 5, NH = 3, C = 12;  // hs = 4
        const auto qkv = random_vector(B * T * 3 * C, 23), dout = random_vector(B * T * C, 24);
        std::vector<float> out(B * T * C), att(B * NH * T * T);
        nograd::attention_forward(out.data(), att.data(), qkv.data(), B, T, C, NH);
        std::vector<float> dqkv(qkv.size(), std::numeric_limits<float>::quiet_NaN());  // assigned, not added to
        nograd::attention_backward(dqkv.data(), dout.data(), qkv.data(), att.data(), B, T, C, NH);
        const Vec D = widen(dout);
        const Vec want = numeric_gradient(widen(qkv), [&](const Vec& v) { return dot(D, attention_ref(v, B, T, C, NH)); });
        CHECK(scaled_error(dqkv, want) <= 1);
    }

    TEST_CASE("gelu_backward matches the derivative by central differences, also in place") {
        const long N = 1001;
        std::vector<float> x(N);
        for (long i = 0; i < N; ++i) x[i] = -6.0f + 12.0f * float(i) / float(N - 1);
        const auto dout = random_vector(N, 25);
        std::vector<float> dx(N);
        nograd::gelu_backward(dx.data(), dout.data(), x.data(), N);
        Vec want(N);
        for (long i = 0; i < N; ++i) {
            const double h = 1e-6;
            want[i] = dout[i] * (gelu_ref(x[i] + h) - gelu_ref(x[i] - h)) / (2 * h);
        }
        CHECK(scaled_error(dx, want) <= 1);
        auto in_place = dout;
        nograd::gelu_backward(in_place.data(), in_place.data(), x.data(), N);
        CHECK(std::memcmp(in_place.data(), dx.data(), N * sizeof(float)) == 0);
    }

    TEST_CASE("residual_backward adds the gradient to both inputs") {
        const long N = 37;
        const auto dout = random_vector(N, 26), da0 = random_vector(N, 27), db0 = random_vector(N, 28);
        auto da = da0, db = db0;
        nograd::residual_backward(da.data(), db.data(), dout.data(), N);
        for (long i = 0; i < N; ++i) {
            CHECK(da[i] == da0[i] + dout[i]);
            CHECK(db[i] == db0[i] + dout[i]);
        }
    }

    TEST_CASE("crossentropy_backward: central differences over the real vocabulary, zero on padding, in place") {
        const int N = 7, V = 19, Vp = 32;
        auto logits = random_vector(N * Vp, 29, 3.0f);
        for (int n = 0; n < N; ++n)  // padded columns must never be read
            for (int v = V; v < Vp; ++v) logits[n * Vp + v] = std::numeric_limits<float>::quiet_NaN();
        const std::vector<int> targets = {0, 18, 5, 5, 11, 2, 18};
        const float dloss = 1.0f / N;
        std::vector<float> dlogits(N * Vp, 123.0f);
        nograd::crossentropy_backward(dlogits.data(), logits.data(), targets.data(), dloss, N, V, Vp);
        Vec want = numeric_gradient(widen(logits), [&](const Vec& v) {
            return crossentropy_ref(v, targets, dloss, N, V, Vp);
        });
        for (int n = 0; n < N; ++n)
            for (int v = V; v < Vp; ++v) want[n * Vp + v] = 0.0;  // the NaN columns: expect exactly 0
        CHECK(scaled_error(dlogits, want, 1e-6, 1e-4) <= 1);
        for (int n = 0; n < N; ++n)
            for (int v = V; v < Vp; ++v) CHECK(dlogits[n * Vp + v] == 0.0f);
        auto in_place = logits;
        nograd::crossentropy_backward(in_place.data(), in_place.data(), targets.data(), dloss, N, V, Vp);
        CHECK(std::memcmp(in_place.data(), dlogits.data(), dlogits.size() * sizeof(float)) == 0);
    }
}
