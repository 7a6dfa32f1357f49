#include "train/train_state.h"

#include <cstdio>
#include <cerrno>
#include <cstring>
#include <unistd.h>

#include "util/checksum.h"
#include "util/error.h"
#include "util/file.h"

namespace nograd {
namespace {

constexpr char kMagic[8] = {'N', 'O', 'G', 'R', 'A', 'D', 'S', 'T'};
constexpr uint32_t kVersion = 1;

// Appends bytes to the file and to the running checksum.
struct ChecksummedWriter {
    AtomicOutputFile& out;
    uint64_t hash = 0x1234567ull;
    void write(const void* data, size_t bytes) {
        out.write(data, bytes);
        hash = checksum64(data, bytes, hash);
    }
    void u64(uint64_t v) { write(&v, 8); }
};

struct ChecksummedReader {
    InputFile& in;
    uint64_t hash = 0x1234567ull;
    size_t bytes = 0;
    void read(void* data, size_t n, const std::string& what) {
        in.read_exact(data, n, what);
        bytes += n;
        hash = checksum64(data, n, hash);
    }
    uint64_t u64(const std::string& what) {
        uint64_t v;
        read(&v, 8, what);
        return v;
    }
};

}  // namespace

void write_train_state(AtomicOutputFile& out, const nlohmann::json& meta, const std::vector<std::span<float>>& vectors) {
    ChecksummedWriter w{out};
    const uint32_t version[2] = {kVersion, 0};
    w.write(kMagic, 8);
    w.write(version, 8);
    const std::string text = meta.dump();
    w.u64(text.size());
    w.write(text.data(), text.size());
    w.u64(vectors.size());
    for (const std::span<float>& v : vectors) {
        w.u64(v.size());
        w.write(v.data(), v.size() * sizeof(float));
    }
    const uint64_t sum = w.hash;
    out.write(&sum, 8);
    out.finish();
}

TrainState load_train_state(const std::string& path) {
    InputFile in(path);
    ChecksummedReader r{in};
    char magic[8];
    uint32_t version[2];
    r.read(magic, 8, "state magic");
    if (std::memcmp(magic, kMagic, 8) != 0) throw file_error(path, "a nograd training state (magic NOGRADST)", "other bytes");
    r.read(version, 8, "state version");
    if (version[0] != kVersion)
        throw file_error(path, "state version " + std::to_string(kVersion), "version " + std::to_string(version[0]));
    const uint64_t text_size = r.u64("JSON length");
    if (text_size > in.size()) throw file_error(path, "a JSON length within the file", std::to_string(text_size));
    std::string text(text_size, '\0');
    r.read(text.data(), text_size, "state JSON");
    TrainState state;
    const uint64_t count = r.u64("vector count");
    if (count > 64) throw file_error(path, "at most 64 state vectors", std::to_string(count));
    for (uint64_t i = 0; i < count; ++i) {
        const uint64_t n = r.u64("vector length");
        if (n > in.size() / 4) throw file_error(path, "a vector length within the file", std::to_string(n));
        state.vectors.emplace_back(n);
        r.read(state.vectors.back().data(), n * 4, "state vector");
    }
    const uint64_t computed = r.hash;
    uint64_t stored;
    in.read_exact(&stored, 8, "state checksum");
    if (stored != computed) throw file_error(path, "a matching checksum", "a corrupted file (checksum mismatch)");
    if (r.bytes + 8 != in.size())
        throw file_error(path, std::to_string(r.bytes + 8) + " bytes", std::to_string(in.size()) + " bytes");
    // Only a file whose checksum matches is trusted enough to parse. nograd's own states nest 3 deep; a
    // deeper one is refused while parsing, because printing a value in an error message recurses once
    // per level (a stack overflow at ~10^5 levels).
    constexpr int kMaxDepth = 32;
    auto depth_limit = [&](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
        if (depth > kMaxDepth) throw file_error(path, "JSON nested at most " + std::to_string(kMaxDepth) + " deep", "deeper");
        return true;
    };
    try {
        state.meta = nlohmann::json::parse(text, depth_limit);
    } catch (const nlohmann::json::exception& e) {
        throw file_error(path, "valid JSON in the state header", e.what());
    }
    return state;
}

std::optional<TrainState> complete_interrupted_save(const std::string& state_path, uint64_t model_checksum) {
    for (const std::string& candidate : leftover_temp_files(state_path)) {
        try {
            TrainState state = load_train_state(candidate);
            if (state.meta.value("model_checksum", uint64_t(0)) != model_checksum) continue;
            if (std::rename(candidate.c_str(), state_path.c_str()) != 0) continue;
            std::fprintf(stderr, "%s: completed a save that was interrupted between its two renames (from %s)\n",
                         state_path.c_str(), candidate.c_str());
            return state;
        } catch (const Error&) {  // unfinished or unrelated: not the one
        } catch (const nlohmann::json::exception&) {
        }
    }
    return std::nullopt;
}

std::string previous_pair_path(const std::string& model_path) {
    return model_path.substr(0, model_path.size() - 4) + ".prev.bin";
}

void keep_as_previous_pair(const std::string& model_path) {
    const std::string previous = previous_pair_path(model_path);
    for (const auto& [from, to] : {std::pair{model_path, previous},
                                   std::pair{state_path_for(model_path), state_path_for(previous)}}) {
        std::remove(to.c_str());
        if (link(from.c_str(), to.c_str()) != 0)
            throw Error(to + ": cannot keep the previous pair for --on-divergence rollback (hard link to " + from +
                        "): " + std::strerror(errno));
    }
}

void remove_leftover_temp_files(const std::string& model_path) {
    for (const std::string& path : {model_path, state_path_for(model_path)})
        for (const std::string& leftover : leftover_temp_files(path)) std::remove(leftover.c_str());
}

namespace {
bool ends_with_after_stem(const std::string& path, const std::string& suffix) {
    return path.size() > suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0 &&
           path[path.size() - suffix.size() - 1] != '/';
}
}  // namespace

bool has_checkpoint_suffix(const std::string& path) { return ends_with_after_stem(path, ".bin"); }
bool has_state_suffix(const std::string& path) { return ends_with_after_stem(path, ".state"); }

std::string state_path_for(const std::string& model_path) {
    const size_t dot = model_path.rfind(".bin");
    return (dot != std::string::npos && dot + 4 == model_path.size() ? model_path.substr(0, dot) : model_path) + ".state";
}

std::string model_path_for(const std::string& state_path) {
    if (state_path.size() > 4 && state_path.compare(state_path.size() - 4, 4, ".bin") == 0) return state_path;
    const size_t dot = state_path.rfind(".state");
    return (dot != std::string::npos && dot + 6 == state_path.size() ? state_path.substr(0, dot) : state_path) + ".bin";
}

}  // namespace nograd
