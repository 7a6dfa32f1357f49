// Hugging Face's safetensors container: an 8-byte little-endian header length N, N bytes of JSON
// ({name: {"dtype", "shape", "data_offsets": [begin, end]}, optional "__metadata__": {string: string}}),
// then the data region, which the tensors tile exactly (no gaps, no overlaps), as the reference library
// requires. Reads F32/F16/BF16 tensors widened to fp32; writes F32. Knows nothing about GPT-2: the names
// and layouts live in model/model_file.*.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "util/file.h"

namespace nograd {

// The reference implementation's limit: a larger header is a corrupt or hostile file.
constexpr size_t kMaxSafetensorsHeader = 100'000'000;

struct SafeTensorEntry {
    std::string name;
    std::string dtype;          // as written: "F32", "F16", "BF16", "I64", ...
    size_t dtype_bytes = 0;     // bytes per element
    std::vector<size_t> shape;  // row-major; empty for a scalar
    size_t begin = 0, end = 0;  // byte range inside the data region
    size_t count() const;       // number of elements (1 for a scalar)
};

struct SafetensorsHeader {
    std::vector<SafeTensorEntry> tensors;        // in data order
    std::map<std::string, std::string> metadata; // "__metadata__"
    size_t data_start = 0;                       // file offset of the data region: 8 + N

    const SafeTensorEntry* find(const std::string& name) const;  // nullptr when absent
};

// Checks a header's JSON against the size of the data region after it; errors name `path` and the tensor.
SafetensorsHeader parse_safetensors_header(const std::string& json_text, size_t data_bytes, const std::string& path);

// Reads and checks the length prefix and the header of an open file.
SafetensorsHeader read_safetensors_header(InputFile& file);

// Reads one F32, F16 or BF16 tensor into out[entry.count()] as fp32; other dtypes are an error.
void read_tensor_f32(InputFile& file, const SafetensorsHeader& header, const SafeTensorEntry& entry, float* out);

// IEEE 754 binary16 → binary32, exact for every input: subnormals, ±0, ±inf and NaN (payload kept).
float half_to_float(uint16_t bits);
// bfloat16 is the top half of a binary32: widening is exact.
float bfloat16_to_float(uint16_t bits);

struct TensorToWrite {
    std::string name;
    std::vector<size_t> shape;
};

// Writes an F32 safetensors file into `out` (finished, not committed): the header with sorted keys and
// padded with spaces so the data starts at a multiple of 8, then the tensors' data in the order given.
// fill(i, dest) writes tensor i's elements, row-major, into dest.
void write_safetensors(AtomicOutputFile& out, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata,
                       const std::function<void(size_t, float*)>& fill);

}  // namespace nograd
