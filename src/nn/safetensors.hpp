// The safetensors container: 8-byte little-endian header length N, N bytes of JSON
// ({"__metadata__": {string: string}, name: {dtype, shape, data_offsets}}), then raw data.
// Storage F32, F16 or BF16 (round to nearest even); values are always float in memory. Every file
// written carries CRC-32 checksums (safetensors_checksum.hpp) that every read verifies.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace etude::nn {

enum class DType { f32, f16, bf16 };
DType parse_dtype(const std::string& name);  // "f32"/"F32", "f16", "bf16"; InvalidArgument otherwise
const char* dtype_name(DType d);             // "F32", "F16", "BF16" (the safetensors spelling)

uint16_t float_to_half(float f);
float half_to_float(uint16_t h);
uint16_t float_to_bf16(float f);
float bf16_to_float(uint16_t h);

struct TensorView {  // what a writer stores
  std::string name;
  std::vector<int64_t> shape;
  std::span<const float> data;
};

struct StoredTensor {  // what a reader returns
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  std::vector<float> data;
};

struct SafetensorsFile {
  std::map<std::string, std::string> metadata;  // without etude.checksums (verified, then removed)
  std::map<std::string, StoredTensor> tensors;
  // One line each, for the caller to show: a file without checksums (an older etude's or another
  // tool's) loads, but its corruption cannot be detected.
  std::vector<std::string> warnings;
};

// Encodes to bytes / writes atomically, with etude.checksums computed here (a caller's entry of
// that name is replaced). Tensor names must be unique; data sizes must match shapes.
std::vector<uint8_t> encode_safetensors(std::span<const TensorView> tensors,
                                        const std::map<std::string, std::string>& metadata, DType dtype);
void write_safetensors(const std::filesystem::path& path, std::span<const TensorView> tensors,
                       const std::map<std::string, std::string>& metadata, DType dtype);

// Decodes with full validation before any tensor allocation: header length within the file,
// JSON well formed, dtypes known, shapes non-negative and matching their byte ranges, ranges in
// bounds, non-overlapping and covering the data exactly, checksums matching when the file has
// them (a warning when not). `what` names the source in errors; every error is one line quoting
// at most ~200 bytes of the file, escaped.
SafetensorsFile decode_safetensors(std::span<const uint8_t> bytes, const std::string& what);
SafetensorsFile read_safetensors(const std::filesystem::path& path);

}  // namespace etude::nn
