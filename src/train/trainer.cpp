#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <unistd.h>

#include "kernels/gemm.h"
#include "model/backward.h"
#include "model/checkpoint.h"
#include "model/perturbed_forward.h"
#include "optim/zeroth_order.h"
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
            {"trained_parameters", subset.size()},
            {"trained_ranges", checksum64(subset.ranges.data(), subset.ranges.size() * sizeof(IndexRange))},
            {"train_data", train_data.pattern()}};
}

uint64_t model_checksum(const GPT2& model) { return checksum64(model.params.data(), model.params.size() * 4); }

uint64_t state_checksum(Optimizer& optimizer) {
    const std::string scalars = optimizer.state_scalars().dump();
    uint64_t h = checksum64(scalars.data(), scalars.size());
    for (const std::span<float> v : optimizer.state_vectors()) h = checksum64(v.data(), v.size_bytes(), h);
    return h;
}

const char* parallel_mode(const Communicator& comm, const TrainSettings& s) {
    if (comm.size() == 1) return "none";
    return s.data_parallel ? "data" : "population";
}

// The batch the current step trains on, and the buffers the objective evaluates it with.
struct StepData {
    std::vector<int> inputs, targets;
};

// Only rank 0 writes files and prints; the other processes get empty paths.
std::string rank0_path(const Communicator& comm, const std::string& path) { return comm.rank() == 0 ? path : ""; }

class Run {
public:
    Run(GPT2& model, Optimizer& optimizer, const TokenDataset& train_data, const TokenDataset* val_data,
        const ParameterSubset& subset, const TrainSettings& s, Communicator& comm)
        : model_(model), optimizer_(optimizer), train_data_(train_data), val_data_(val_data), s_(s), comm_(comm),
          sequences_(s.data_parallel ? comm.block_of(size_t(s.batch)) : Block{0, size_t(s.batch)}),
          order_(train_data.num_batches(s.batch, s.seq), s.shuffle, s.seed),
          log_(rank0_path(comm, s.log_path), !s.resume_path.empty()),
          curve_(rank0_path(comm, s.curve_path), !s.resume_path.empty()) {
        if (sequences_.size() == 0)
            throw UsageError("--data-parallel: expected --batch of at least one sequence per process (" +
                             std::to_string(comm.size()) + "), found " + std::to_string(s.batch));
        batch_.inputs.resize(size_t(s.batch) * s.seq);
        batch_.targets.resize(size_t(s.batch) * s.seq);
        objective_.params = model.params.span();
        objective_.trainable = subset.ranges;
        objective_.decays = subset.decays;
        objective_.loss = [this] { return batch_loss(batch_.inputs.data(), batch_.targets.data()); };
        if (!s.data_parallel && comm.size() > 1) objective_.population = &comm;
        if (!s.first_order) {
            // Every zeroth-order loss, the unperturbed ones and validation too, is a point of the lockstep forward.
            lockstep_ = std::make_unique<PerturbedForward>(model.config, int(sequences_.size()), s.seq);
            objective_.losses_along = [this](const Perturbation& p, std::span<const float> scales) {
                return batch_losses_along(batch_.inputs.data(), batch_.targets.data(), p, scales);
            };
        } else {
            acts_ = std::make_unique<Activations>(model.config, int(sequences_.size()), s.seq, ActivationLayout::training);
            act_grads_ = std::make_unique<ActivationGrads>(model.config, int(sequences_.size()), s.seq);
            grads_ = FloatBuffer(model.params.size());
            objective_.gradient = grads_.span();
            objective_.loss_and_gradient = [this] { return batch_loss_and_gradient(); };
        }
        fingerprint_ = run_fingerprint(optimizer, subset, s, train_data);
    }

    long resume();
    void check_replicas(const std::string& when);
    TrainResult run(long start_step);
    bool stopping_together() const { return stopping_together_; }

private:
    double batch_loss(const int* inputs, const int* targets);
    std::vector<double> batch_losses_along(const int* inputs, const int* targets, const Perturbation& perturbation,
                                           std::span<const float> scales);
    double batch_loss_and_gradient();
    std::vector<double> sequence_sums_of(const float* losses) const;  // (sequences, T) → per-sequence sums
    double gathered_loss(std::span<const double> sequence_sums);
    long restore_state(const std::string& state_path, bool resuming);
    long reload_pair(const std::string& model_path);
    long roll_back(long step, const std::string& why, bool at_saved_parameters);
    long after_divergence(long step, const std::string& why, bool at_saved_parameters, bool interrupted);
    [[noreturn]] void stop_together(const std::string& why);
    std::string divergence(double loss, const std::string& which) const;
    std::string loss_check_before_save(long step);
    double agreed_batch_loss();
    void check_room_to_save() const;
    double validate();
    double validate_and_log(long step);
    std::string step(long step, TrainResult& result);
    void save(long step, bool keep_previous = true);
    void write_pair(long step, bool keep_previous);
    long last_step(long step, const StepReport& report) const;
    void progress(long step, const StepReport& report, double step_seconds);

    GPT2& model_;
    Optimizer& optimizer_;
    const TokenDataset& train_data_;
    const TokenDataset* val_data_;
    const TrainSettings& s_;
    Communicator& comm_;
    const Block sequences_;  // this process's sequences of each batch: all, unless data-parallel
    DataOrder order_;
    std::unique_ptr<Activations> acts_;         // first-order runs: the training layout
    std::unique_ptr<PerturbedForward> lockstep_;  // zeroth-order runs
    std::unique_ptr<ActivationGrads> act_grads_;
    FloatBuffer grads_;
    StepData batch_;
    Objective objective_;
    Counters counters_;
    JsonLog log_;
    CurveCsv curve_;
    json fingerprint_;
    double first_loss_ = NAN;
    uint64_t bytes_at_last_record_ = 0;
    double lr_scale_ = 1.0;  // halved by each divergence rollback; saved, so a resume continues with it
    long rollbacks_ = 0;
    bool have_batch_ = false;  // batch_ holds a step's batch (for the loss check before a save)
    long latest_saved_ = -1;   // steps of the pairs on disk (OUT, and OUT.prev in rollback mode), -1: none
    long previous_saved_ = -1;
    bool stopping_together_ = false;  // the error in flight was raised by every process at the same point
};

// The loss of one whole batch (B, T). Data-parallel, this process runs the forward pass on its own
// sequences and the per-sequence sums are gathered: the same bits as one process on the whole batch.
double Run::batch_loss(const int* inputs, const int* targets) {
    if (lockstep_) {
        const float theta[1] = {0.0f};
        return batch_losses_along(inputs, targets, Perturbation{}, theta)[0];  // θ itself
    }
    const size_t offset = sequences_.begin * size_t(s_.seq);
    const float loss = gpt2_forward(model_, *acts_, inputs + offset, targets + offset);
    return s_.data_parallel ? gathered_loss(sequence_sums_of(acts_->losses)) : double(loss);
}

std::vector<double> Run::batch_losses_along(const int* inputs, const int* targets, const Perturbation& perturbation,
                                            std::span<const float> scales) {
    const size_t offset = sequences_.begin * size_t(s_.seq);
    const std::vector<std::vector<double>> sums =
        lockstep_->sequence_sums(model_, inputs + offset, targets + offset, perturbation, scales);
    std::vector<double> losses;
    for (const std::vector<double>& point : sums)
        losses.push_back(s_.data_parallel ? gathered_loss(point) : double(batch_mean_loss(point, s_.seq)));
    return losses;
}

std::vector<double> Run::sequence_sums_of(const float* losses) const {
    std::vector<double> sums(sequences_.size());
    for (size_t b = 0; b < sums.size(); ++b) sums[b] = sequence_loss_sum(losses + b * size_t(s_.seq), s_.seq);
    return sums;
}

double Run::gathered_loss(std::span<const double> sequence_sums) {
    return double(batch_mean_loss(comm_.allgather_blocks(sequence_sums, size_t(s_.batch)), s_.seq));
}

// Backprop, data-parallel as llm.c does it: each process differentiates the mean loss of its own sequences,
// and the gradient of the batch's mean is Σ_r (n_r/B)·g_r, summed by MPI_Allreduce over the trained ranges.
double Run::batch_loss_and_gradient() {
    const size_t offset = sequences_.begin * size_t(s_.seq);
    const float loss = gpt2_forward_backward(model_, *acts_, *act_grads_, grads_.data(), batch_.inputs.data() + offset,
                                             batch_.targets.data() + offset);
    if (!s_.data_parallel) return double(loss);
    if (comm_.size() > 1) {
        const float share = float(double(sequences_.size()) / double(s_.batch));
        for (const IndexRange& range : objective_.trainable) {
            const std::span<float> g(grads_.data() + range.begin, range.end - range.begin);
            for (float& x : g) x *= share;
            comm_.allreduce_sum(g);
        }
    }
    return gathered_loss(sequence_sums_of(acts_->losses));
}

// Every process must hold the same parameters, optimizer state and data, or the replicas would drift
// apart silently: one checksum exchange, the same verdict on every process.
void Run::check_replicas(const std::string& when) {
    if (comm_.size() == 1) return;
    const uint64_t mine[3] = {model_checksum(model_), state_checksum(optimizer_), train_data_.total_tokens()};
    const std::vector<uint64_t> all = comm_.allgather(mine);
    const char* what[3] = {"parameters", "optimizer state", "training data (token count)"};
    for (int r = 1; r < comm_.size(); ++r)
        for (size_t k = 0; k < 3; ++k)
            if (all[3 * size_t(r) + k] != all[k])
                stop_together("process rank " + std::to_string(r) + " holds different " + what[k] + " than rank 0 " +
                              when + " (checksum " + std::to_string(all[3 * size_t(r) + k]) + " vs " +
                              std::to_string(all[k]) + "): every process must load the same files and flags");
}

long Run::resume() {
    if (s_.resume_path.empty()) return 0;
    return restore_state(s_.resume_path, true);
}

// Loads a state file of this run into the optimizer and returns its step. `resuming`: a new process
// continuing the run (also takes the counters and the learning-rate scale); otherwise a rollback, which
// keeps counting the compute it spent on the steps it discards.
long Run::restore_state(const std::string& state_path, bool resuming) {
    TrainState state = load_train_state(state_path);
    const std::string model_path = model_path_for(state_path);
    const uint64_t checksum = model_checksum(model_);
    if (state.meta.value("model_checksum", json()) != checksum) {
        std::optional<TrainState> completed = complete_interrupted_save(state_path, checksum);
        if (!completed)
            throw Error(state_path + ": expected the model it was saved with, found a different " + model_path +
                        " (checksum mismatch); resume from a matching pair");
        state = std::move(*completed);
    }
    try {
        const json& meta = state.meta;
        for (const auto& [key, value] : meta.at("settings").items())
            if (fingerprint_.value(key, json()) != value)
                throw UsageError("--resume " + state_path + ": the run was started with " + key + " = " +
                                 value.dump() + ", this one has " + fingerprint_.value(key, json()).dump());
        optimizer_.load_state_scalars(meta.at("optimizer"));
        std::vector<std::span<float>> vectors = optimizer_.state_vectors();
        if (vectors.size() != state.vectors.size())
            throw file_error(state_path, std::to_string(vectors.size()) + " optimizer vectors",
                             std::to_string(state.vectors.size()));
        for (size_t i = 0; i < vectors.size(); ++i) {
            if (vectors[i].size() != state.vectors[i].size())
                throw file_error(state_path, "optimizer vector of " + std::to_string(vectors[i].size()) + " floats",
                                 std::to_string(state.vectors[i].size()));
            std::copy(state.vectors[i].begin(), state.vectors[i].end(), vectors[i].begin());
        }
        if (resuming) {
            counters_.from_json(meta.at("counters"));
            first_loss_ = meta.value("first_loss", NAN);
            lr_scale_ = meta.value("lr_scale", 1.0);
            rollbacks_ = meta.value("rollbacks", 0L);
        }
        // A whole number in --steps' range: 1e300 would overflow the conversion, a negative count would
        // train (almost) forever before reaching --steps.
        const json& step = meta.at("step");
        if (!step.is_number_unsigned() || step.get<uint64_t>() > (uint64_t(1) << 40))
            throw file_error(state_path, "a step count from 0 to 2^40", step.dump());
        return long(step.get<uint64_t>());
    } catch (const json::exception& e) {  // a field missing or of the wrong type
        throw file_error(state_path, "a nograd training state's fields", e.what());
    }
}

// The divergence guard's second choice: back to the last saved pair, reloaded into the buffers the run
// already has (no parameter-sized copy is ever kept in memory), with the learning rate halved so the
// replayed steps (same batches, same directions) take a different path.
long Run::roll_back(long step, const std::string& why, bool at_saved_parameters) {
    // The loss of the step right after a save is measured at the saved parameters themselves: replaying
    // from them would meet the same loss, so that case goes back one pair further.
    const bool older = at_saved_parameters;
    if (older && previous_saved_ < 0)
        stop_together("step " + std::to_string(step) + ": " + why + ", at the parameters saved in " + s_.save_path +
                      ", and no older pair to roll back to; stopping (lower --lr)");
    const std::string path = older ? previous_pair_path(s_.save_path) : s_.save_path;
    ++rollbacks_;
    lr_scale_ *= 0.5;
    const long back_to = reload_pair(path);
    if (older) {
        save(back_to, false);  // the older pair becomes the current one again
        previous_saved_ = -1;  // (and there is nothing older than it)
    }
    if (comm_.rank() == 0)
        std::fprintf(stderr, "step %ld: %s; rolled back to step %ld (%s), learning rate x%g (rollback %ld of %ld)\n",
                     step, why.c_str(), back_to, path.c_str(), lr_scale_, rollbacks_, s_.max_rollbacks);
    log_.write({{"kind", "rollback"}, {"step", step}, {"reason", why}, {"to_step", back_to},
                {"lr_scale", lr_scale_}, {"rollbacks", rollbacks_}});
    return back_to;
}

// Every process reads the pair rank 0 wrote, so under mpirun they must all see the --save folder (as
// --resume needs). The barrier keeps any read after rank 0's last write; a process that cannot read stops
// them all, and the checksum exchange confirms that they reloaded the same bits.
long Run::reload_pair(const std::string& model_path) {
    comm_.barrier();
    long step = 0;
    try {
        setup_together(comm_, [&] {
            reload_checkpoint(model_, model_path);
            step = restore_state(state_path_for(model_path), false);
        });
    } catch (const Error&) {
        stopping_together_ = true;  // every process throws (setup_together)
        throw;
    }
    check_replicas("after reloading " + model_path);
    return step;
}

// A full disk is found now, not at the first save after hours of training. A save writes the checkpoint
// and the state beside the old pair before replacing it, so it needs their size in free space.
void Run::check_room_to_save() const {
    if (s_.save_path.empty() || comm_.rank() != 0) return;  // only rank 0 writes
    size_t state_bytes = 1 << 16;
    for (const std::span<float>& v : optimizer_.state_vectors()) state_bytes += v.size() * sizeof(float) + 8;
    check_free_space(s_.save_path, 1024 + model_.params.size() * sizeof(float) + state_bytes, "--save");
}

double Run::validate() {
    // Data-parallel, every process validates its sequences of each batch; otherwise rank 0 alone.
    if (!val_data_ || (!s_.data_parallel && comm_.rank() != 0)) return NAN;
    // Validation always uses the inference layout's arithmetic; the training layout computes the same loss.
    const long available = long(val_data_->num_batches(s_.batch, s_.seq));
    return evaluate_loss(*val_data_, s_.batch, s_.seq, std::min(s_.val_batches, available),
                         [this](const int* inputs, const int* targets) { return batch_loss(inputs, targets); })
        .loss;
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

void Run::save(long step, bool keep_previous) {
    if (s_.save_path.empty()) return;
    // Rollback keeps the pair before this one too, as hard links (no copy; its space is kept).
    const bool keep = keep_previous && s_.on_divergence == DivergenceAction::rollback && latest_saved_ >= 0;
    if (comm_.rank() == 0) write_pair(step, keep);
    // Every process keeps the bookkeeping, so all of them take the same rollback decisions.
    if (keep) previous_saved_ = latest_saved_;
    latest_saved_ = step;
}

void Run::write_pair(long step, bool keep_previous) {
    const std::string state_path = state_path_for(s_.save_path);
    const json meta = {{"step", step}, {"settings", fingerprint_}, {"optimizer", optimizer_.state_scalars()},
                       {"model_checksum", model_checksum(model_)}, {"counters", counters_.to_json()},
                       {"first_loss", first_loss_}, {"lr_scale", lr_scale_}, {"rollbacks", rollbacks_},
                       {"nograd", nograd_version()}};
    // Both files are complete on disk before either replaces its predecessor, so a crash mid-save
    // leaves the previous pair in place.
    AtomicOutputFile model_out(s_.save_path), state_out(state_path);
    write_checkpoint(model_, model_out, s_.save_path);
    write_train_state(state_out, meta, optimizer_.state_vectors());
    if (keep_previous) keep_as_previous_pair(s_.save_path);
    model_out.commit();
    state_out.commit();
    remove_leftover_temp_files(s_.save_path);  // of earlier saves that died before renaming
}

// The step the run will end at: --steps, or sooner where --max-forward-passes runs out at this step's cost.
long Run::last_step(long step, const StepReport& r) const {
    const double per_step = r.forward_passes + 2.0 * r.backward_passes;
    if (s_.max_forward_passes <= 0 || per_step <= 0) return s_.steps;
    const double left = std::max(0.0, s_.max_forward_passes - counters_.forward_equivalents());
    return long(std::min(double(s_.steps), double(step) + std::ceil(left / per_step)));
}

void Run::progress(long step, const StepReport& r, double step_seconds) {
    if (!s_.progress || comm_.rank() != 0) return;
    const long last = last_step(step, r);
    const bool terminal = isatty(fileno(stderr));
    const long every = terminal ? 1 : std::max(1L, last / 20);
    if (step % every != 0 && step != last && step != 1) return;
    const double eta = step_seconds * double(last - step);
    std::fprintf(stderr, "step %5ld/%ld | loss %.4f | %7.1f ms | %8.0f tok/s | %5.1f fwd/s | ETA %.0fs\n", step,
                 last, r.loss, 1e3 * step_seconds, s_.batch * s_.seq / step_seconds,
                 (r.forward_passes + 2.0 * r.backward_passes) / step_seconds, eta);
}

// One optimizer step, logged. Returns why the step diverged, or "" when it did not.
std::string Run::step(long step, TrainResult& result) {
    const auto start = Clock::now();
    train_data_.read_batch(order_.batch_for_step(uint64_t(step)), s_.batch, s_.seq, batch_.inputs.data(),
                           batch_.targets.data());
    const double lr = s_.schedule.at(step) * lr_scale_;
    const StepReport report = optimizer_.step(objective_, StepContext{uint64_t(step), lr});
    have_batch_ = true;
    const double step_seconds = seconds_since(start);
    if (std::isfinite(report.loss) && std::isnan(first_loss_)) first_loss_ = report.loss;
    counters_.forward_passes += report.forward_passes;
    counters_.backward_passes += report.backward_passes;
    counters_.tokens += double(s_.batch) * s_.seq;
    counters_.elapsed_seconds += step_seconds;
    json record = {{"kind", "step"}, {"step", step}, {"loss", report.loss}, {"loss_kind", report.loss_kind},
                   {"lr", lr}, {"step_seconds", step_seconds}, {"direction_generations", report.direction_generations}};
    record.update(counters_.to_json());
    record.update(report.fields);
    // Bytes this process sent since the previous step record: the step's own exchanges, plus any
    // validation and stop check in between.
    record["ranks"] = comm_.size();
    record["bytes_sent"] = comm_.bytes_sent() - bytes_at_last_record_;
    bytes_at_last_record_ = comm_.bytes_sent();
    log_.write(record);
    progress(step, report, step_seconds);
    result.train_loss = report.loss;
    return divergence(report.loss, "");
}

TrainResult Run::run(long start_step) {
    TrainResult result;
    if (!s_.resume_path.empty()) latest_saved_ = start_step;
    log_.write({{"kind", "run"}, {"flags", s_.flags}, {"settings", fingerprint_}, {"resumed_from", start_step},
                {"backend", gemm_backend_name()}, {"nograd", nograd_version()},
                {"rng", "counter-hash (triple32/lowbias32) v2"}, {"ranks", comm_.size()},
                {"parallel", parallel_mode(comm_, s_)}});
    bytes_at_last_record_ = comm_.bytes_sent();
    result.val_loss_before = validate_and_log(start_step);
    double last_val_loss = result.val_loss_before;  // a run that stops right after a validation reuses it
    long last_val_step = start_step;
    check_room_to_save();
    if (s_.on_divergence == DivergenceAction::rollback && start_step == 0) save(0);  // always a pair to go back to
    install_interrupt_handlers();
    long step = start_step;
    for (;;) {
        std::string diverged;
        bool at_saved_parameters = false;  // the diverged loss was measured at the last saved parameters
        while (step < s_.steps && diverged.empty()) {
            if (s_.max_forward_passes > 0 && counters_.forward_equivalents() >= s_.max_forward_passes) {
                result.stop_reason = "forward-pass budget reached";
                break;
            }
            diverged = this->step(++step, result);
            at_saved_parameters = !diverged.empty() && step == latest_saved_ + 1;
            const bool save_now = s_.save_every > 0 && step % s_.save_every == 0 && step < s_.steps;
            if (diverged.empty() && save_now) diverged = loss_check_before_save(step);
            if (!diverged.empty()) break;
            result.steps_done = step;
            if (s_.val_every > 0 && step % s_.val_every == 0 && step < s_.steps) {
                last_val_loss = validate_and_log(step);
                last_val_step = step;
            }
            if (save_now) save(step);
            // Every process stops after the same step, even if the signal reached them at different times.
            if (comm_.any(interrupt_requested())) {
                result.interrupted = true;
                result.stop_reason = "interrupted";
                break;
            }
        }
        if (diverged.empty()) diverged = loss_check_before_save(step);
        if (diverged.empty()) break;
        step = after_divergence(step, diverged, at_saved_parameters, result.interrupted);  // throws to stop
        result.stop_reason.clear();
    }
    result.steps_done = step;
    result.val_loss_after = step == last_val_step ? last_val_loss : validate_and_log(step);
    check_replicas("after step " + std::to_string(step));
    save(step);
    result.forward_passes = counters_.forward_equivalents();
    result.seconds = counters_.elapsed_seconds;
    result.rollbacks = rollbacks_;
    return result;
}

// A step's loss is measured before its own update, so the parameters a save would write have not been
// evaluated yet. They are, here, on the step's batch (one forward pass, not counted as training), so a
// checkpoint that has blown up is never written, and a rollback never returns to one.
std::string Run::loss_check_before_save(long step) {
    if (s_.save_path.empty() || !have_batch_) return "";
    return divergence(agreed_batch_loss(), "after its update");
}

// The step batch's loss at the current parameters, the same number on every process: data-parallel it is
// gathered anyway; otherwise rank 0 evaluates it and shares it (its block of one item), since processes on
// different hosts may round differently and must still take the same decision.
double Run::agreed_batch_loss() {
    if (s_.data_parallel || comm_.size() == 1) return batch_loss(batch_.inputs.data(), batch_.targets.data());
    std::vector<double> mine;
    if (comm_.rank() == 0) mine.push_back(batch_loss(batch_.inputs.data(), batch_.targets.data()));
    return comm_.allgather_blocks(mine, 1).at(0);
}

// Why a loss counts as divergence, or "" when it does not.
std::string Run::divergence(double loss, const std::string& which) const {
    const std::string what = which.empty() ? "the loss" : "the loss " + which;
    if (!std::isfinite(loss)) return what + " is " + std::to_string(loss);
    if (s_.divergence_factor > 0 && loss > s_.divergence_factor * first_loss_)
        return what + " (" + std::to_string(loss) + ") exceeds " + number_text(s_.divergence_factor) +
               " x the first step's " + std::to_string(first_loss_) + " (--divergence-factor)";
    return "";
}

// Stops the run (nothing of the diverged state is saved), or rolls back; returns the step to go on from.
long Run::after_divergence(long step, const std::string& why, bool at_saved_parameters, bool interrupted) {
    const bool rollback = s_.on_divergence == DivergenceAction::rollback && !interrupted;
    if (!rollback || rollbacks_ >= s_.max_rollbacks)
        stop_together("step " + std::to_string(step) + ": " + why + "; stopping without saving it " +
                      (rollback ? "after " + std::to_string(rollbacks_) + " rollbacks (lower --lr)"
                                : "(lower --lr, or --on-divergence rollback)"));
    return roll_back(step, why, at_saved_parameters);
}

// For a stop that every process decides at the same point from the same numbers (the losses are
// gathered): each ends with this error, as one process would, instead of MPI_Abort.
void Run::stop_together(const std::string& why) {
    stopping_together_ = true;
    throw Error(why);
}

}  // namespace

TrainResult train(GPT2& model, Optimizer& optimizer, const TokenDataset& train_data, const TokenDataset* val_data,
                  const ParameterSubset& subset, const TrainSettings& settings, Communicator& comm) {
    std::optional<Run> run;
    long start_step = 0;
    // Rank 0 resumes first: it may complete an interrupted save (a rename) that the others then read.
    for (const bool rank0_turn : {true, false})
        setup_together(comm, [&] {
            if ((comm.rank() == 0) != rank0_turn) return;
            run.emplace(model, optimizer, train_data, val_data, subset, settings, comm);
            start_step = run->resume();
        });
    run->check_replicas("at the start");
    if (comm.size() == 1) return run->run(start_step);
    // From here on the other processes may be waiting in a collective: an error ends them all, unless
    // every process raised it at the same point.
    try {
        return run->run(start_step);
    } catch (const Error& e) {
        if (run->stopping_together()) throw;
        comm.abort("train", e.what(), e.exit_status());
    } catch (const std::exception& e) {
        comm.abort("train", e.what(), kExitRuntime);
    }
}

}  // namespace nograd
