// The training loop shared by every optimizer: picks each step's batch, asks the optimizer for one
// step through an Objective, validates, logs (JSON lines), saves checkpoint + state atomically,
// resumes bit-exactly, and stops cleanly on SIGINT/SIGTERM or a non-finite loss. With several processes
// (mpirun) it also splits the work: the step's evaluations or the batch's sequences.
#pragma once
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "data/shards.h"
#include "model/gpt2.h"
#include "optim/optimizer.h"
#include "train/param_subset.h"
#include "train/schedule.h"
#include "util/comm.h"

namespace nograd {

enum class DivergenceAction { stop, rollback };

struct TrainSettings {
    long steps = 0;                  // total steps, counting those done before a resume
    int batch = 4, seq = 64;
    uint64_t seed = 1337;            // data order and perturbation directions
    bool shuffle = true;
    long val_every = 0;              // 0: validate only before the first and after the last step
    long val_batches = 4;
    std::string save_path;           // checkpoint (state beside it); empty: do not save
    long save_every = 0;             // 0: save only at the end
    std::string log_path;            // JSON lines; empty: no log
    std::string curve_path;          // CSV of validations: step, forward_passes, seconds, val_loss
    std::string resume_path;         // a .state file written by an earlier run
    LrSchedule schedule;
    double max_forward_passes = 0;   // budget in forward-pass equivalents (a backward counts 2); 0 = none
    // Divergence guard: a step whose loss is non-finite, or above divergence_factor × the first step's loss
    // (0 = no threshold), either stops the run or rolls back to the last saved checkpoint and state with the
    // learning rate halved (at most max_rollbacks times; then it stops). Nothing diverged is ever saved.
    double divergence_factor = 3.0;
    DivergenceAction on_divergence = DivergenceAction::stop;
    long max_rollbacks = 3;
    bool first_order = false;        // the optimizer needs gradients (backprop)
    bool progress = true;            // progress lines on stderr
    bool data_parallel = false;      // several processes split each batch's sequences (else, when the
                                     // optimizer has them, the step's loss evaluations: Objective::population)
    nlohmann::json flags;            // everything the user asked for, for the log's run record
};

struct TrainResult {
    long steps_done = 0;             // the last step completed
    double train_loss = NAN;         // the last step's reported loss (NaN if no step ran)
    long rollbacks = 0;              // divergence rollbacks taken
    double val_loss_before = 0.0;    // NaN without validation data
    double val_loss_after = 0.0;
    double forward_passes = 0.0;     // forward-pass equivalents, cumulative
    double seconds = 0.0;            // wall time of the steps
    bool interrupted = false;
    std::string stop_reason;         // empty when all steps ran
};

// With comm.size() > 1, every process runs this with the same arguments; replicas stay bit-identical
// (checked at the start and the end) and only rank 0 prints, logs and saves. A failure while setting up
// (resume, log files) makes every process throw; one later aborts them all (Communicator::abort).
TrainResult train(GPT2& model, Optimizer& optimizer, const TokenDataset& train_data, const TokenDataset* val_data,
                  const ParameterSubset& subset, const TrainSettings& settings, Communicator& comm);

}  // namespace nograd
