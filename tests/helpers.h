// Small utilities shared by the tests: random inputs, temporary folders, fixture paths.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace nograd::testing {

inline std::vector<float> random_vector(size_t n, uint32_t seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

// A fresh folder under /tmp, removed with everything in it at the end of the test.
class TempDir {
public:
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "nograd-test-XXXXXX").string();
        path_ = mkdtemp(pattern.data());
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    std::string file(const std::string& name) const { return (path_ / name).string(); }
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

inline std::vector<char> read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// n float32 values from a fixture file that must hold exactly that many (a mismatch fails the test).
inline std::vector<float> read_floats(const std::string& path, size_t n) {
    const auto bytes = read_bytes(path);
    if (bytes.size() != n * sizeof(float))
        throw std::runtime_error(path + ": expected " + std::to_string(n * sizeof(float)) + " bytes, found " +
                                 std::to_string(bytes.size()));
    std::vector<float> v(n);
    std::memcpy(v.data(), bytes.data(), bytes.size());
    return v;
}

inline void write_bytes(const std::string& path, const void* data, size_t bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(static_cast<const char*>(data), std::streamsize(bytes));
}

// AddressSanitizer's shadow memory and quarantine inflate resident memory: tests of peak RSS skip under it.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kUnderAddressSanitizer = true;
#else
inline constexpr bool kUnderAddressSanitizer = false;
#endif

inline const std::string kTinyFixture = "tests/fixtures/gpt2_tiny/";

// The tiny fixture's meta.json (config, batch shape, PyTorch's loss, AdamW settings), written by
// tools/make_fixtures.py.
inline nlohmann::json tiny_fixture_meta() {
    std::ifstream in(kTinyFixture + "meta.json");
    if (!in) throw std::runtime_error(kTinyFixture + "meta.json: cannot open");
    return nlohmann::json::parse(in);
}

// max |a - b| / (abs_tol + rel_tol · |b|) over all entries: ≤ 1 means within tolerance.
inline double worst_error(const float* a, const float* b, size_t n, double abs_tol, double rel_tol) {
    double worst = 0.0;
    for (size_t i = 0; i < n; ++i) {
        const double err = std::abs(double(a[i]) - double(b[i])) / (abs_tol + rel_tol * std::abs(double(b[i])));
        worst = err > worst ? err : worst;
    }
    return worst;
}

}  // namespace nograd::testing
