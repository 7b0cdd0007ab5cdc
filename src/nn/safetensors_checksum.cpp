// CRC-32 checksums of a safetensors file's tensors, metadata and tensor table; see
// safetensors_checksum.hpp. zlib's crc32_z does the arithmetic.
#include "nn/safetensors_checksum.hpp"

#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>
#include <zlib.h>

#include "base/error.hpp"
#include "base/input_text.hpp"

namespace etude::nn {
namespace {
using nlohmann::json;

std::string crc_hex(const void* p, size_t n) {
  const uLong crc = crc32_z(crc32_z(0L, Z_NULL, 0), static_cast<const Bytef*>(p), n);
  char hex[16];
  std::snprintf(hex, sizeof hex, "%08lx", static_cast<unsigned long>(crc));
  return hex;
}
std::string crc_hex(const std::string& s) { return crc_hex(s.data(), s.size()); }

// The table in one canonical text, sorted by name: name NUL dtype NUL dims NUL begin,end NL.
std::string layout_text(std::span<const TensorRecord> table) {
  std::vector<const TensorRecord*> sorted;
  for (const TensorRecord& t : table) sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(), [](const TensorRecord* a, const TensorRecord* b) { return a->name < b->name; });
  std::string out;
  for (const TensorRecord* t : sorted) {
    out += t->name + '\0' + t->dtype + '\0';
    for (size_t i = 0; i < t->shape.size(); ++i) {
      if (i) out += ',';
      out += std::to_string(t->shape[i]);
    }
    out += '\0' + std::to_string(t->begin) + "," + std::to_string(t->end) + "\n";
  }
  return out;
}

std::string tensor_crc(const TensorRecord& t, std::span<const uint8_t> data) {
  return crc_hex(data.data() + t.begin, size_t(t.end - t.begin));
}
}  // namespace

std::string make_checksums(const std::map<std::string, std::string>& metadata, std::span<const TensorRecord> table,
                           std::span<const uint8_t> data) {
  json meta = json::object(), tensors = json::object();
  for (const auto& [key, value] : metadata)
    if (key != kMetaChecksums) meta[key] = crc_hex(value);
  for (const TensorRecord& t : table) tensors[t.name] = tensor_crc(t, data);
  return json{{"algorithm", "crc32"}, {"layout", crc_hex(layout_text(table))}, {"metadata", meta}, {"tensors", tensors}}
      .dump();
}

void verify_checksums(const std::string& checksums, const std::map<std::string, std::string>& metadata,
                      std::span<const TensorRecord> table, std::span<const uint8_t> data, const std::string& what) {
  const std::string corrupt = " (the file was damaged or edited after saving; re-download or re-export it)";
  const json sums = parse_json_input(checksums, what + ": etude.checksums");
  std::map<std::string, std::string> meta_sums, tensor_sums;
  std::string layout;
  try {
    if (sums.at("algorithm").get<std::string>() != "crc32")
      throw FormatError(what + ": etude.checksums names algorithm " + quote_input(sums["algorithm"].get<std::string>(), 40) +
                        "; this etude knows crc32");
    layout = sums.at("layout").get<std::string>();
    meta_sums = sums.at("metadata").get<std::map<std::string, std::string>>();
    tensor_sums = sums.at("tensors").get<std::map<std::string, std::string>>();
  } catch (const json::exception& e) {
    throw FormatError(what + ": etude.checksums is not of the expected shape (" + json_error_text(e) + ")" + corrupt);
  }
  for (const auto& [key, value] : metadata) {
    if (key == kMetaChecksums) continue;
    auto it = meta_sums.find(key);
    if (it == meta_sums.end())
      throw FormatError(what + ": metadata " + quote_input(key, 60) + " has no checksum (added after saving?)" + corrupt);
    if (it->second != crc_hex(value))
      throw FormatError(what + ": metadata " + quote_input(key, 60) + " does not match its checksum" + corrupt);
  }
  for (const auto& [key, sum] : meta_sums)
    if (!metadata.contains(key))
      throw FormatError(what + ": metadata " + quote_input(key, 60) + " is missing but has a checksum" + corrupt);
  if (layout != crc_hex(layout_text(table)))
    throw FormatError(what + ": the tensor table (names, dtypes, shapes, offsets) does not match its checksum" + corrupt);
  for (const TensorRecord& t : table) {
    auto it = tensor_sums.find(t.name);
    if (it == tensor_sums.end())
      throw FormatError(what + ": tensor " + quote_input(t.name, 60) + " has no checksum (added after saving?)" + corrupt);
    if (it->second != tensor_crc(t, data))
      throw FormatError(what + ": tensor " + quote_input(t.name, 60) + ": its " + std::to_string(t.end - t.begin) +
                        " bytes do not match their checksum" + corrupt);
  }
  if (tensor_sums.size() != table.size())
    throw FormatError(what + ": a tensor listed in etude.checksums is missing from the file" + corrupt);
}

}  // namespace etude::nn
