#include "model/safetensors.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <numeric>

#include "util/error.h"

namespace nograd {
namespace {

using nlohmann::json;

// Every dtype of the safetensors specification with its element size; a string not listed is an error.
size_t dtype_size(const std::string& dtype) {
    static const std::pair<const char*, size_t> kSizes[] = {
        {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2},
        {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4},     {"F64", 8},     {"I64", 8}, {"U64", 8}};
    for (const auto& [name, bytes] : kSizes)
        if (dtype == name) return bytes;
    return 0;
}

std::string tensor_label(const std::string& name) { return "tensor '" + name + "'"; }

size_t checked_unsigned(const json& value, const std::string& path, const std::string& what) {
    if (!value.is_number_unsigned()) throw file_error(path, what + " as a non-negative integer", value.dump());
    return value.get<size_t>();
}

// Element count × element size, refusing sizes that overflow size_t (a hostile shape).
size_t byte_size(const SafeTensorEntry& t, const std::string& path) {
    size_t bytes = t.dtype_bytes;
    for (size_t d : t.shape)
        if (__builtin_mul_overflow(bytes, d, &bytes))
            throw file_error(path, tensor_label(t.name) + " with a shape whose byte size fits in 64 bits",
                             "an overflowing shape");
    return bytes;
}

SafeTensorEntry parse_entry(const std::string& name, const json& value, const std::string& path) {
    const std::string label = tensor_label(name);
    if (!value.is_object() || !value.contains("dtype") || !value.contains("shape") || !value.contains("data_offsets"))
        throw file_error(path, label + " as an object with dtype, shape and data_offsets", value.dump());
    SafeTensorEntry t;
    t.name = name;
    const json& dtype = value["dtype"];
    t.dtype = dtype.is_string() ? dtype.get<std::string>() : dtype.dump();
    t.dtype_bytes = dtype.is_string() ? dtype_size(t.dtype) : 0;
    if (t.dtype_bytes == 0) throw file_error(path, label + " with a safetensors dtype (F32, F16, BF16, ...)", t.dtype);
    const json& shape = value["shape"];
    if (!shape.is_array()) throw file_error(path, label + " with a shape array", shape.dump());
    for (const json& d : shape) t.shape.push_back(checked_unsigned(d, path, label + " shape entries"));
    const json& offsets = value["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2)
        throw file_error(path, label + " with data_offsets [begin, end]", offsets.dump());
    t.begin = checked_unsigned(offsets[0], path, label + " data_offsets");
    t.end = checked_unsigned(offsets[1], path, label + " data_offsets");
    const size_t bytes = byte_size(t, path);
    if (t.end < t.begin || t.end - t.begin != bytes)
        throw file_error(path, label + " to span " + std::to_string(bytes) + " bytes (" + t.dtype + " × its shape)",
                         "data_offsets " + offsets.dump());
    return t;
}

std::map<std::string, std::string> parse_metadata(const json& value, const std::string& path) {
    if (!value.is_object()) throw file_error(path, "__metadata__ as an object of strings", value.dump());
    std::map<std::string, std::string> metadata;
    for (const auto& [key, v] : value.items()) {
        if (!v.is_string()) throw file_error(path, "__metadata__ values as strings", "'" + key + "': " + v.dump());
        metadata[key] = v.get<std::string>();
    }
    return metadata;
}

// The tensors must tile the data region: sorted by offset, each starts where the previous one ended,
// and the last ends at the end of the file. Sorts `tensors` into data order.
void check_tiling(std::vector<SafeTensorEntry>& tensors, size_t data_bytes, const std::string& path) {
    std::stable_sort(tensors.begin(), tensors.end(), [](const SafeTensorEntry& a, const SafeTensorEntry& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    size_t cursor = 0;
    std::string previous = "the start of the data";
    for (const SafeTensorEntry& t : tensors) {
        std::string range = "[";  // built with += : GCC 12 warns falsely (-Wrestrict) on "[" + to_string(...)
        range += std::to_string(t.begin) + ", " + std::to_string(t.end) + ")";
        if (t.end > data_bytes)
            throw file_error(path, tensor_label(t.name) + " inside the " + std::to_string(data_bytes) +
                                       "-byte data region", "bytes " + range + " (past the end of the file)");
        if (t.begin < cursor)
            throw file_error(path, tensor_label(t.name) + " not overlapping another",
                             "bytes " + range + " overlapping " + previous + " (ends at " + std::to_string(cursor) + ")");
        if (t.begin > cursor)
            throw file_error(path, tensor_label(t.name) + " to start at byte " + std::to_string(cursor) + ", where " +
                                       previous + " ends", "bytes " + range + " (a gap)");
        cursor = t.end;
        previous = tensor_label(t.name);
    }
    if (cursor != data_bytes)
        throw file_error(path, std::to_string(cursor) + " bytes of tensor data after the header",
                         std::to_string(data_bytes) + " bytes (trailing data no tensor claims)");
}

}  // namespace

size_t SafeTensorEntry::count() const {
    return std::accumulate(shape.begin(), shape.end(), size_t(1), std::multiplies<size_t>());
}

const SafeTensorEntry* SafetensorsHeader::find(const std::string& name) const {
    for (const SafeTensorEntry& t : tensors)
        if (t.name == name) return &t;
    return nullptr;
}

SafetensorsHeader parse_safetensors_header(const std::string& json_text, size_t data_bytes, const std::string& path) {
    json header;
    try {
        header = json::parse(json_text);
    } catch (const json::parse_error& e) {
        throw file_error(path, "a JSON safetensors header", std::string("invalid JSON: ") + e.what());
    }
    if (!header.is_object()) throw file_error(path, "a JSON object as the safetensors header", header.type_name());
    SafetensorsHeader result;
    for (const auto& [key, value] : header.items()) {
        if (key == "__metadata__") result.metadata = parse_metadata(value, path);
        else result.tensors.push_back(parse_entry(key, value, path));
    }
    check_tiling(result.tensors, data_bytes, path);
    return result;
}

SafetensorsHeader read_safetensors_header(InputFile& file) {
    const std::string& path = file.path();
    if (file.size() < 8)
        throw file_error(path, "a safetensors file (8-byte header length, JSON header, data)",
                         std::to_string(file.size()) + " bytes");
    uint64_t length = 0;  // little-endian, as the host (x86-64, as llm.c's formats assume)
    file.seek(0);
    file.read_exact(&length, 8, "safetensors header length");
    if (length > kMaxSafetensorsHeader || length > file.size() - 8)
        throw file_error(path, "a safetensors header length of at most " +
                                   std::to_string(std::min<size_t>(kMaxSafetensorsHeader, file.size() - 8)) +
                                   " bytes (the file holds " + std::to_string(file.size()) + ")",
                         std::to_string(length));
    std::string text(length, '\0');
    file.read_exact(text.data(), length, "safetensors header");
    SafetensorsHeader header = parse_safetensors_header(text, file.size() - 8 - length, path);
    header.data_start = 8 + length;
    return header;
}

float half_to_float(uint16_t bits) {
    const uint32_t sign = uint32_t(bits & 0x8000) << 16;
    const uint32_t exponent = (bits >> 10) & 0x1F, mantissa = bits & 0x3FF;
    uint32_t out;
    if (exponent == 0x1F) {
        out = sign | 0x7F800000u | (mantissa << 13);  // ±inf, or NaN with its payload
    } else if (exponent != 0) {
        out = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);  // rebias the exponent 15 → 127
    } else if (mantissa == 0) {
        out = sign;  // ±0
    } else {
        // Subnormal: mantissa · 2^-24. Shift until the leading 1 reaches the implicit-bit position (0x400);
        // then the value is 1.m' · 2^(-14 - shift), a normal fp32.
        uint32_t m = mantissa, shift = 0;
        while (!(m & 0x400)) { m <<= 1; ++shift; }
        out = sign | ((127 - 14 - shift) << 23) | ((m & 0x3FF) << 13);
    }
    float f;
    std::memcpy(&f, &out, 4);
    return f;
}

float bfloat16_to_float(uint16_t bits) {
    const uint32_t widened = uint32_t(bits) << 16;
    float f;
    std::memcpy(&f, &widened, 4);
    return f;
}

void read_tensor_f32(InputFile& file, const SafetensorsHeader& header, const SafeTensorEntry& entry, float* out) {
    const bool f16 = entry.dtype == "F16", bf16 = entry.dtype == "BF16";
    if (entry.dtype != "F32" && !f16 && !bf16)
        throw file_error(file.path(), tensor_label(entry.name) + " as F32, F16 or BF16", entry.dtype);
    file.seek(header.data_start + entry.begin);
    const size_t count = entry.count();
    if (entry.dtype == "F32") {
        file.read_exact(out, count * 4, tensor_label(entry.name));
        return;
    }
    std::vector<uint16_t> chunk(std::min<size_t>(count, 1 << 20));
    for (size_t done = 0; done < count; done += chunk.size()) {
        const size_t n = std::min(chunk.size(), count - done);
        file.read_exact(chunk.data(), n * 2, tensor_label(entry.name));
        for (size_t i = 0; i < n; ++i) out[done + i] = f16 ? half_to_float(chunk[i]) : bfloat16_to_float(chunk[i]);
    }
}

void write_safetensors(AtomicOutputFile& out, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata,
                       const std::function<void(size_t, float*)>& fill) {
    json header = json::object();  // keys sorted, so "__metadata__" comes first, as in Hugging Face's files
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::vector<size_t> counts;
    size_t offset = 0;
    for (const TensorToWrite& t : tensors) {
        counts.push_back(std::accumulate(t.shape.begin(), t.shape.end(), size_t(1), std::multiplies<size_t>()));
        const size_t end = offset + 4 * counts.back();
        header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", json::array({offset, end})}};
        offset = end;
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
    const uint64_t length = text.size();
    out.write(&length, 8);
    out.write(text.data(), text.size());
    std::vector<float> buffer;
    for (size_t i = 0; i < tensors.size(); ++i) {
        buffer.assign(counts[i], 0.0f);
        fill(i, buffer.data());
        out.write(buffer.data(), buffer.size() * 4);
    }
    out.finish();
}

}  // namespace nograd
