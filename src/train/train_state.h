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
#include <optional>
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

// A save renames the checkpoint, then its state: a crash between the two leaves the new checkpoint beside
// the old state, with the new state complete in a leftover temporary file. This finds that file (its own
// checksum intact and its model checksum equal to `model_checksum`), renames it into place and returns it,
// completing the save. Without one, it returns nothing.
std::optional<TrainState> complete_interrupted_save(const std::string& state_path, uint64_t model_checksum);

// Removes the temporary files of saves that died before renaming (they can be as large as a checkpoint).
void remove_leftover_temp_files(const std::string& model_path);

// Training checkpoints are named OUT.bin, their state OUT.state: the pair is found from either name.
bool has_checkpoint_suffix(const std::string& path);  // ends in ".bin" after a non-empty stem
bool has_state_suffix(const std::string& path);       // ends in ".state" after a non-empty stem

// OUT.bin → OUT.prev.bin: where --on-divergence rollback keeps the pair before the current one.
std::string previous_pair_path(const std::string& model_path);
// Makes OUT.prev.{bin,state} hard links to OUT.{bin,state} (replacing older ones), before a save replaces those.
void keep_as_previous_pair(const std::string& model_path);

// OUT.bin → OUT.state
std::string state_path_for(const std::string& model_path);
// OUT.state → OUT.bin (a path already ending in .bin is returned as it is)
std::string model_path_for(const std::string& state_path);

// What --resume names may be either file of the pair; this gives the state's path.
inline std::string resume_state_path(const std::string& arg) { return state_path_for(model_path_for(arg)); }

}  // namespace nograd
