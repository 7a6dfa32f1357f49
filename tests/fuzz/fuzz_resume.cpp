// libFuzzer target: what `--resume` does with a training state that passed its checksum (train/trainer.cpp's
// resume, the optimizers' load_state_scalars). The input is one byte choosing the optimizer, then the state's
// JSON; the target writes it as a real state file (correct vectors for that optimizer, the model's checksum
// and this process's data path patched in where the JSON has them) and resumes a tiny run from it. Resuming
// either continues to the last step or fails with nograd::Error (or a JSON type error, which main reports
// as exit 1); a run that continues saves parameters and state that load again.
#include <cmath>
#include <stdexcept>

#include "fuzz_util.h"
#include "model/checkpoint.h"
#include "resume_setup.h"
#include "train/train_state.h"
#include "util/error.h"

using namespace nograd;

namespace {

constexpr long kSteps = 3;

struct Scratch {
    std::string data = fuzz::scratch_path("resume-data", ".bin");
    std::string state = fuzz::scratch_path("resume", ".state");
    std::string save = fuzz::scratch_path("resume-out", ".bin");
    Scratch() { fuzz::write_resume_shard(data); }
};

// The JSON made to belong to this model and data, where it names them.
void patch_identity(nlohmann::json& meta, const GPT2& model, const std::string& data_path) {
    if (!meta.is_object()) return;
    if (meta.contains("model_checksum")) meta["model_checksum"] = fuzz::resume_model_checksum(model);
    auto settings = meta.find("settings");
    if (settings != meta.end() && settings->is_object() && settings->contains("train_data"))
        (*settings)["train_data"] = data_path;
}

void write_state(const std::string& path, const nlohmann::json& meta, size_t method) {
    GPT2 model = fuzz::resume_model();
    const ParameterSubset subset = select_parameters("all", model.table, model.config, 4);
    Flags flags("fuzz", "fuzz", optimizer_flag_specs());
    flags.parse(fuzz::resume_methods()[method].second);
    OptimizerChoice choice = make_optimizer(fuzz::resume_methods()[method].first, flags, 7, subset.size());
    std::vector<std::span<float>> vectors = choice.optimizer->state_vectors();
    for (std::span<float> v : vectors) std::fill(v.begin(), v.end(), 0.25f);
    AtomicOutputFile out(path);
    write_train_state(out, meta, vectors);
    out.commit();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const Scratch scratch;
    if (size == 0) return 0;
    const size_t method = data[0] % fuzz::resume_methods().size();
    nlohmann::json meta;
    // Deep enough to reach the reader's own limit (32), shallow enough for this harness to write it back.
    auto depth_limit = [](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
        if (depth > 40) throw std::invalid_argument("too deep");
        return true;
    };
    try {
        meta = nlohmann::json::parse(data + 1, data + size, depth_limit);
    } catch (const std::exception&) {
        return 0;  // the state file's own JSON parse is fuzz_train_state's business
    }
    GPT2 model = fuzz::resume_model();
    patch_identity(meta, model, scratch.data);
    write_state(scratch.state, meta, method);
    const TokenDataset dataset(scratch.data, model.config.vocab_size);
    try {
        fuzz::run_resume(method, model, dataset, kSteps, scratch.state, scratch.save);
        const GPT2 saved = load_checkpoint(scratch.save);
        for (size_t i = 0; i < saved.params.size(); ++i) FUZZ_CHECK(std::isfinite(saved.params.data()[i]));
        load_train_state(fuzz::scratch_path("resume-out", ".state"));
    } catch (const Error&) {
    } catch (const nlohmann::json::exception&) {
    }
    return 0;
}
