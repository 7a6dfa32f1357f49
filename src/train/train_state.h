// The training-state file written beside a checkpoint (OUT.bin → OUT.state), everything `--resume`
// needs to continue bit-exactly: the step, the run's settings, the optimizer's scalars and vectors.
// Layout (little-endian):
//   "NOGRADST" | uint32 version (1) | uint32 0 | uint64 n | n bytes of JSON |
//   uint64 vector count | per vector: uint64 length, length × float32 | uint64 checksum of all before.
// The JSON holds "step", "settings" (what must match to resume), "optimizer" (its scalars) and
// "model_checksum" (of the parameters in OUT.bin), so a state is never paired with the wrong model.
#pragma once
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "util/file.h"

namespace nograd {

struct TrainState {
    nlohmann::json meta;                 // step, settings, optimizer scalars, model_checksum
    std::vector<std::vector<float>> vectors;
};

// Writes into an open temporary file (finished, not renamed: the caller commits it together with the
// checkpoint). Vectors are taken from spans, so nothing parameter-sized is copied.
void write_train_state(AtomicOutputFile& out, const nlohmann::json& meta, const std::vector<std::span<float>>& vectors);

TrainState load_train_state(const std::string& path);

// OUT.bin → OUT.state
std::string state_path_for(const std::string& model_path);
// OUT.state → OUT.bin (a path already ending in .bin is returned as it is)
std::string model_path_for(const std::string& state_path);

// What --resume names may be either file of the pair; this gives the state's path.
inline std::string resume_state_path(const std::string& arg) { return state_path_for(model_path_for(arg)); }

}  // namespace nograd
