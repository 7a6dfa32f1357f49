// llm.c model checkpoints: a 256 × int32 header (magic 20240326, version, maxT, V, L, NH, C, Vp), then
// every parameter in table order. Version 3 stores fp32, version 5 bf16 (read and widened to fp32).
#pragma once
#include <string>

#include "model/gpt2.h"
#include "util/file.h"

namespace nograd {

constexpr int kCheckpointMagic = 20240326;

// Reads and checks only the header.
GPT2Config read_checkpoint_config(const std::string& path);

// Reads the parameters straight into the model's buffer (no second copy, even for bf16).
GPT2 load_checkpoint(const std::string& path);

// Reads a checkpoint of the model's own config into its existing buffer (the divergence guard's rollback:
// no second parameter-sized allocation).
void reload_checkpoint(GPT2& model, const std::string& path);

// Writes version 3 atomically. Refuses (nograd::Error) to write a non-finite parameter.
void save_checkpoint(const GPT2& model, const std::string& path);
// The same into an open temporary file, finished but not yet renamed (see AtomicOutputFile).
void write_checkpoint(const GPT2& model, AtomicOutputFile& out, const std::string& path);

}  // namespace nograd
