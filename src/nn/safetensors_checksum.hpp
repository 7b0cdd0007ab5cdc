// Checksums that make a safetensors file detect its own corruption: CRC-32 (zlib) of every tensor's
// bytes, of every metadata value and of the tensor table (names, dtypes, shapes, offsets), stored
// as JSON in the metadata entry "etude.checksums", written by every save and verified by every load.
#pragma once
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace etude::nn {

inline constexpr const char* kMetaChecksums = "etude.checksums";

// One tensor as the header describes it; begin/end are offsets into the data section.
struct TensorRecord {
  std::string name;
  std::string dtype;  // the safetensors spelling: F32, F16, BF16
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;
};

// The etude.checksums text for a file with this metadata (etude.checksums itself excluded), tensor
// table and data section:
// {"algorithm":"crc32","layout":"<hex>","metadata":{key:"<hex>",...},"tensors":{name:"<hex>",...}}
std::string make_checksums(const std::map<std::string, std::string>& metadata, std::span<const TensorRecord> table,
                           std::span<const uint8_t> data);

// Checks a file's content against its etude.checksums text: a FormatError naming `what` and the
// first tensor or metadata entry that does not match (or that was added or removed after saving).
void verify_checksums(const std::string& checksums, const std::map<std::string, std::string>& metadata,
                      std::span<const TensorRecord> table, std::span<const uint8_t> data, const std::string& what);

}  // namespace etude::nn
