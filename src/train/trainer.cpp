#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <unistd.h>

#include "kernels/gemm.h"
#include "model/backward.h"
#include "model/checkpoint.h"
#include "train/data_order.h"
#include "train/evaluate.h"
#include "train/interrupt.h"
#include "train/train_state.h"
#include "util/checksum.h"
#include "util/error.h"
#include "util/version.h"

namespace nograd {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Cumulative counts, carried across a resume through the state file.
struct Counters {
    double forward_passes = 0, backward_passes = 0, tokens = 0, elapsed_seconds = 0;
    json to_json() const {
        return {{"forward_passes", forward_passes}, {"backward_passes", backward_passes}, {"tokens", tokens},
                {"elapsed_seconds", elapsed_seconds}};
    }
    void from_json(const json& j) {
        forward_passes = j.at("forward_passes");
        backward_passes = j.at("backward_passes");
        tokens = j.at("tokens");
        elapsed_seconds = j.at("elapsed_seconds");
    }
    double forward_equivalents() const { return forward_passes + 2 * backward_passes; }  // a backward ≈ 2 forwards
};

class JsonLog {
public:
    JsonLog(const std::string& path, bool append) : path_(path) {
        if (path.empty()) return;
        out_.open(path, append ? std::ios::app : std::ios::trunc);
        if (!out_) throw Error("--log " + path + ": cannot open for writing");
    }
    void write(const json& record) {
        if (path_.empty()) return;
        out_ << record.dump() << '\n';
        out_.flush();
        if (!out_) throw Error("--log " + path_ + ": write failed (disk full?)");
    }

private:
    std::string path_;
    std::ofstream out_;
};

// Validation losses as CSV, for plotting (gnuplot reads it as it is).
class CurveCsv {
public:
    CurveCsv(const std::string& path, bool append) : path_(path) {
        if (path.empty()) return;
        out_.open(path, append ? std::ios::app : std::ios::trunc);
        if (!out_) throw Error("--curve " + path + ": cannot open for writing");
        if (!append) out_ << "step,forward_passes,seconds,val_loss\n";
    }
    void add(long step, const Counters& c, double val_loss) {
        if (path_.empty()) return;
        out_ << step << ',' << c.forward_equivalents() << ',' << c.elapsed_seconds << ',' << val_loss << '\n';
        out_.flush();
    }

private:
    std::string path_;
    std::ofstream out_;
};

// What must match for a resume to continue the same run bit for bit.
json run_fingerprint(const Optimizer& optimizer, const ParameterSubset& subset, const TrainSettings& s,
                     const TokenDataset& train_data) {
    json schedule = {{"kind", s.schedule.kind}, {"lr", s.schedule.lr}};
    if (s.schedule.kind != "constant")  // a constant rate lets a finished run be extended with more --steps
        schedule.update({{"warmup", s.schedule.warmup_steps}, {"final_fraction", s.schedule.final_fraction},
                         {"steps", s.steps}});
    return {{"optimizer", optimizer.name()}, {"hyperparameters", optimizer.hyperparameters()},
            {"batch", s.batch}, {"seq", s.seq}, {"seed", s.seed}, {"shuffle", s.shuffle},
            {"schedule", schedule},
            {"trained_parameters", subset.size()}, {"train_data", train_data.pattern()}};
}

uint64_t model_checksum(const GPT2& model) { return checksum64(model.params.data(), model.params.size() * 4); }

// The batch the current step trains on, and the buffers the objective evaluates it with.
struct StepData {
    std::vector<int> inputs, targets;
};

class Run {
public:
    Run(GPT2& model, Optimizer& optimizer, const TokenDataset& train_data, const TokenDataset* val_data,
        const ParameterSubset& subset, const TrainSettings& s)
        : model_(model), optimizer_(optimizer), train_data_(train_data), val_data_(val_data), s_(s),
          order_(train_data.num_batches(s.batch, s.seq), s.shuffle, s.seed),
          acts_(model.config, s.batch, s.seq, s.first_order ? ActivationLayout::training : ActivationLayout::inference),
          log_(s.log_path, !s.resume_path.empty()), curve_(s.curve_path, !s.resume_path.empty()) {
        batch_.inputs.resize(size_t(s.batch) * s.seq);
        batch_.targets.resize(size_t(s.batch) * s.seq);
        objective_.params = model.params.span();
        objective_.trainable = subset.ranges;
        objective_.decays = subset.decays;
        objective_.loss = [this] { return gpt2_forward(model_, acts_, batch_.inputs.data(), batch_.targets.data()); };
        if (s.first_order) {
            act_grads_ = std::make_unique<ActivationGrads>(model.config, s.batch, s.seq);
            grads_ = FloatBuffer(model.params.size());
            objective_.gradient = grads_.span();
            objective_.loss_and_gradient = [this] {
                return gpt2_forward_backward(model_, acts_, *act_grads_, grads_.data(), batch_.inputs.data(),
                                             batch_.targets.data());
            };
        }
        fingerprint_ = run_fingerprint(optimizer, subset, s, train_data);
    }

    TrainResult run();

private:
    long resume();
    double validate();
    double validate_and_log(long step);
    void step(long step, TrainResult& result);
    void save(long step);
    void progress(long step, const StepReport& report, double step_seconds);

    GPT2& model_;
    Optimizer& optimizer_;
    const TokenDataset& train_data_;
    const TokenDataset* val_data_;
    const TrainSettings& s_;
    DataOrder order_;
    Activations acts_;
    std::unique_ptr<ActivationGrads> act_grads_;
    FloatBuffer grads_;
    StepData batch_;
    Objective objective_;
    Counters counters_;
    JsonLog log_;
    CurveCsv curve_;
    json fingerprint_;
    double first_loss_ = NAN;
};

long Run::resume() {
    if (s_.resume_path.empty()) return 0;
    TrainState state = load_train_state(s_.resume_path);
    const json& meta = state.meta;
    const std::string model_path = model_path_for(s_.resume_path);
    if (meta.at("model_checksum") != model_checksum(model_))
        throw Error(s_.resume_path + ": expected the model it was saved with, found a different " + model_path +
                    " (checksum mismatch); resume from a matching pair");
    for (const auto& [key, value] : meta.at("settings").items())
        if (fingerprint_.value(key, json()) != value)
            throw UsageError("--resume " + s_.resume_path + ": the run was started with " + key + " = " + value.dump() +
                             ", this one has " + fingerprint_.value(key, json()).dump());
    optimizer_.load_state_scalars(meta.at("optimizer"));
    std::vector<std::span<float>> vectors = optimizer_.state_vectors();
    if (vectors.size() != state.vectors.size())
        throw file_error(s_.resume_path, std::to_string(vectors.size()) + " optimizer vectors",
                         std::to_string(state.vectors.size()));
    for (size_t i = 0; i < vectors.size(); ++i) {
        if (vectors[i].size() != state.vectors[i].size())
            throw file_error(s_.resume_path, "optimizer vector of " + std::to_string(vectors[i].size()) + " floats",
                             std::to_string(state.vectors[i].size()));
        std::copy(state.vectors[i].begin(), state.vectors[i].end(), vectors[i].begin());
    }
    counters_.from_json(meta.at("counters"));
    first_loss_ = meta.value("first_loss", NAN);
    // A whole number in --steps' range: 1e300 would overflow the conversion, a negative count would
    // train (almost) forever before reaching --steps.
    const json& step = meta.at("step");
    if (!step.is_number_unsigned() || step.get<uint64_t>() > (uint64_t(1) << 40))
        throw file_error(s_.resume_path, "a step count from 0 to 2^40", step.dump());
    return long(step.get<uint64_t>());
}

double Run::validate() {
    if (!val_data_) return NAN;
    // Validation always uses the inference layout's arithmetic; the training layout computes the same loss.
    const long available = long(val_data_->num_batches(s_.batch, s_.seq));
    return evaluate_loss(model_, acts_, *val_data_, std::min(s_.val_batches, available)).loss;
}

double Run::validate_and_log(long step) {
    const double loss = validate();
    if (!val_data_) return loss;
    json record = {{"kind", "val"}, {"step", step}, {"val_loss", loss}};
    record.update(counters_.to_json());
    log_.write(record);
    curve_.add(step, counters_, loss);
    return loss;
}

void Run::save(long step) {
    if (s_.save_path.empty()) return;
    const std::string state_path = state_path_for(s_.save_path);
    const json meta = {{"step", step}, {"settings", fingerprint_}, {"optimizer", optimizer_.state_scalars()},
                       {"model_checksum", model_checksum(model_)}, {"counters", counters_.to_json()},
                       {"first_loss", first_loss_}, {"nograd", nograd_version()}};
    // Both files are complete on disk before either replaces its predecessor, so a crash mid-save
    // leaves the previous pair in place.
    AtomicOutputFile model_out(s_.save_path), state_out(state_path);
    write_checkpoint(model_, model_out, s_.save_path);
    write_train_state(state_out, meta, optimizer_.state_vectors());
    model_out.commit();
    state_out.commit();
}

void Run::progress(long step, const StepReport& r, double step_seconds) {
    if (!s_.progress) return;
    const bool terminal = isatty(fileno(stderr));
    const long every = terminal ? 1 : std::max(1L, s_.steps / 20);
    if (step % every != 0 && step != s_.steps && step != 1) return;
    const double eta = step_seconds * double(s_.steps - step);
    std::fprintf(stderr, "step %5ld/%ld | loss %.4f | %7.1f ms | %8.0f tok/s | %5.1f fwd/s | ETA %.0fs\n", step,
                 s_.steps, r.loss, 1e3 * step_seconds, s_.batch * s_.seq / step_seconds,
                 (r.forward_passes + 2.0 * r.backward_passes) / step_seconds, eta);
}

void Run::step(long step, TrainResult& result) {
    const auto start = Clock::now();
    train_data_.read_batch(order_.batch_for_step(uint64_t(step)), s_.batch, s_.seq, batch_.inputs.data(),
                           batch_.targets.data());
    const double lr = s_.schedule.at(step);
    const StepReport report = optimizer_.step(objective_, StepContext{uint64_t(step), lr});
    const double step_seconds = seconds_since(start);
    if (!std::isfinite(report.loss))
        throw Error("step " + std::to_string(step) + ": the loss is " + std::to_string(report.loss) +
                    "; stopping without saving it (lower --lr?)");
    if (std::isnan(first_loss_)) first_loss_ = report.loss;
    counters_.forward_passes += report.forward_passes;
    counters_.backward_passes += report.backward_passes;
    counters_.tokens += double(s_.batch) * s_.seq;
    counters_.elapsed_seconds += step_seconds;
    json record = {{"kind", "step"}, {"step", step}, {"loss", report.loss}, {"loss_kind", report.loss_kind},
                   {"lr", lr}, {"step_seconds", step_seconds}, {"direction_generations", report.direction_generations}};
    record.update(counters_.to_json());
    record.update(report.fields);
    log_.write(record);
    progress(step, report, step_seconds);
    result.train_loss = report.loss;
    if (s_.divergence_factor > 0 && report.loss > s_.divergence_factor * first_loss_)
        throw Error("step " + std::to_string(step) + ": the loss " + std::to_string(report.loss) + " exceeds " +
                    std::to_string(s_.divergence_factor) + " x the first step's " + std::to_string(first_loss_) +
                    "; stopping without saving (see --divergence-factor)");
}

TrainResult Run::run() {
    TrainResult result;
    const long start_step = resume();
    log_.write({{"kind", "run"}, {"flags", s_.flags}, {"settings", fingerprint_}, {"resumed_from", start_step},
                {"backend", gemm_backend_name()}, {"nograd", nograd_version()}, {"rng", "counter-hash (triple32/lowbias32) v2"}});
    result.val_loss_before = validate_and_log(start_step);
    double last_val_loss = result.val_loss_before;  // a run that stops right after a validation reuses it
    long last_val_step = start_step;
    install_interrupt_handlers();
    long step = start_step;
    while (step < s_.steps) {
        if (s_.max_forward_passes > 0 && counters_.forward_equivalents() >= s_.max_forward_passes) {
            result.stop_reason = "forward-pass budget reached";
            break;
        }
        this->step(++step, result);
        result.steps_done = step;
        if (s_.val_every > 0 && step % s_.val_every == 0 && step < s_.steps) {
            last_val_loss = validate_and_log(step);
            last_val_step = step;
        }
        if (s_.save_every > 0 && step % s_.save_every == 0) save(step);
        if (interrupt_requested()) {
            result.interrupted = true;
            result.stop_reason = "interrupted";
            break;
        }
    }
    result.steps_done = step;
    result.val_loss_after = step == last_val_step ? last_val_loss : validate_and_log(step);
    save(step);
    result.forward_passes = counters_.forward_equivalents();
    result.seconds = counters_.elapsed_seconds;
    return result;
}

}  // namespace

TrainResult train(GPT2& model, Optimizer& optimizer, const TokenDataset& train_data, const TokenDataset* val_data,
                  const ParameterSubset& subset, const TrainSettings& settings) {
    Run run(model, optimizer, train_data, val_data, subset, settings);
    return run.run();
}

}  // namespace nograd
