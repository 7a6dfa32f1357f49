// libFuzzer target: the training-state file (train/train_state.*). Its checksum would stop a fuzzer at the
// first mutation, so the first input byte chooses: odd — the rest is written with a correct checksum spliced
// in where the reader expects it (so the JSON and vector parsing behind the checksum get fuzzed); even — the
// rest is written as it is. A state that loads must write back and load again to the same content.
#include <cstring>
#include <span>
#include <vector>

#include "fuzz_util.h"
#include "train/train_state.h"
#include "util/checksum.h"
#include "util/error.h"

using namespace nograd;

namespace {

// Walks the layout as load_train_state reads it, hashing the same chunks; returns the offset where the
// checksum belongs, or 0 when a length points past the end (the reader rejects those before the checksum).
size_t checksum_offset(const uint8_t* p, size_t size, uint64_t& hash) {
    hash = 0x1234567ull;  // the reader's seed
    size_t pos = 0;
    auto take = [&](size_t n) {
        if (n > size - pos) return false;
        hash = checksum64(p + pos, n, hash);
        pos += n;
        return true;
    };
    auto u64 = [&](uint64_t& v) {
        if (8 > size - pos) return false;
        std::memcpy(&v, p + pos, 8);
        return take(8);
    };
    uint64_t text = 0, count = 0;
    if (!take(16) || !u64(text) || !take(text) || !u64(count) || count > 64) return 0;
    for (uint64_t i = 0; i < count; ++i) {
        uint64_t n = 0;
        if (!u64(n) || n > size / 4 || !take(n * 4)) return 0;
    }
    return pos;
}

std::vector<uint8_t> with_checksum(const uint8_t* p, size_t size) {
    std::vector<uint8_t> out(p, p + size);
    uint64_t hash = 0;
    const size_t at = checksum_offset(p, size, hash);
    if (at == 0) return out;
    const uint8_t* h = reinterpret_cast<const uint8_t*>(&hash);
    out.insert(out.begin() + long(at), h, h + 8);
    return out;
}

void check_round_trip(const TrainState& state, const std::string& path) {
    std::vector<std::vector<float>> copies = state.vectors;
    std::vector<std::span<float>> spans(copies.begin(), copies.end());
    const std::string again_path = path + ".again";
    {
        AtomicOutputFile out(again_path);
        write_train_state(out, state.meta, spans);
        out.commit();
    }
    const TrainState again = load_train_state(again_path);
    std::remove(again_path.c_str());
    FUZZ_CHECK(again.meta == state.meta);
    FUZZ_CHECK(again.vectors.size() == state.vectors.size());
    for (size_t i = 0; i < again.vectors.size(); ++i) {
        FUZZ_CHECK(again.vectors[i].size() == state.vectors[i].size());
        FUZZ_CHECK(std::memcmp(again.vectors[i].data(), state.vectors[i].data(), 4 * state.vectors[i].size()) == 0);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    static const std::string path = fuzz::scratch_path("train-state", ".state");
    const bool fix_checksum = data[0] & 1;
    const std::vector<uint8_t> file = fix_checksum ? with_checksum(data + 1, size - 1)
                                                   : std::vector<uint8_t>(data + 1, data + size);
    fuzz::write_file(path, file.data(), file.size());
    try {
        const TrainState state = load_train_state(path);
        check_round_trip(state, path);
    } catch (const Error&) {
    }
    return 0;
}
