// safetensors encoding and strict decoding; see safetensors.hpp.
// Every refusal is a FormatError naming the file and the tensor or header field at fault.
#include "nn/safetensors.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

#include <nlohmann/json.hpp>

#include "base/error.hpp"
#include "base/file_io.hpp"
#include "base/input_text.hpp"
#include "nn/safetensors_checksum.hpp"

namespace etude::nn {
namespace {
using nlohmann::json;

size_t dtype_bytes(DType d) { return d == DType::f32 ? 4 : 2; }

void store(DType d, float v, uint8_t* out) {
  if (d == DType::f32) {
    const uint32_t b = std::bit_cast<uint32_t>(v);
    for (int i = 0; i < 4; ++i) out[i] = uint8_t(b >> (8 * i));
  } else {
    const uint16_t h = d == DType::f16 ? float_to_half(v) : float_to_bf16(v);
    out[0] = uint8_t(h);
    out[1] = uint8_t(h >> 8);
  }
}

float load(DType d, const uint8_t* in) {
  if (d == DType::f32)
    return std::bit_cast<float>(uint32_t(in[0]) | uint32_t(in[1]) << 8 | uint32_t(in[2]) << 16 | uint32_t(in[3]) << 24);
  const uint16_t h = uint16_t(in[0] | in[1] << 8);
  return d == DType::f16 ? half_to_float(h) : bf16_to_float(h);
}
}  // namespace

DType parse_dtype(const std::string& name) {
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(), ::toupper);
  if (n == "F32" || n == "FP32") return DType::f32;
  if (n == "F16" || n == "FP16") return DType::f16;
  if (n == "BF16") return DType::bf16;
  throw InvalidArgument("unknown storage dtype \"" + name + "\" (use f32, f16 or bf16)");
}

const char* dtype_name(DType d) { return d == DType::f32 ? "F32" : d == DType::f16 ? "F16" : "BF16"; }

uint16_t float_to_half(float f) {  // round to nearest even, after F. Giesen's float_to_half_fast3_rtne
  uint32_t x = std::bit_cast<uint32_t>(f);
  const uint32_t sign = x & 0x80000000u;
  x ^= sign;
  uint16_t o;
  if (x >= (127u + 16) << 23) {
    o = x > 0x7f800000u ? 0x7e00 : 0x7c00;  // NaN or overflow to infinity
  } else if (x < 113u << 23) {              // subnormal half or zero
    const uint32_t magic = ((127u - 15) + (23 - 10) + 1) << 23;
    o = uint16_t(std::bit_cast<uint32_t>(std::bit_cast<float>(x) + std::bit_cast<float>(magic)) - magic);
  } else {
    const uint32_t odd = (x >> 13) & 1;
    x += (uint32_t(15 - 127) << 23) + 0xfff + odd;
    o = uint16_t(x >> 13);
  }
  return uint16_t(o | (sign >> 16));
}

float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  if (exp == 0) {
    const float v = float(mant) * 0x1.0p-24f;
    return sign ? -v : v;
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7f800000u | mant << 13);
  return std::bit_cast<float>(sign | (exp + 112) << 23 | mant << 13);
}

uint16_t float_to_bf16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 0x40);  // quiet NaN
  return uint16_t((x + 0x7fffu + ((x >> 16) & 1)) >> 16);
}

float bf16_to_float(uint16_t h) { return std::bit_cast<float>(uint32_t(h) << 16); }

std::vector<uint8_t> encode_safetensors(std::span<const TensorView> tensors,
                                        const std::map<std::string, std::string>& metadata, DType dtype) {
  std::vector<TensorRecord> table;
  size_t offset = 0;
  for (const TensorView& t : tensors) {
    size_t n = 1;
    for (int64_t d : t.shape) n *= size_t(d);
    if (n != t.data.size())
      throw InvalidArgument("safetensors: tensor " + t.name + " has " + std::to_string(t.data.size()) +
                            " values but its shape needs " + std::to_string(n));
    if (t.name == "__metadata__" || std::any_of(table.begin(), table.end(), [&](const TensorRecord& r) { return r.name == t.name; }))
      throw InvalidArgument("safetensors: tensor name " + t.name + " appears twice");
    table.push_back({t.name, dtype_name(dtype), t.shape, offset, offset + n * dtype_bytes(dtype)});
    offset += n * dtype_bytes(dtype);
  }
  std::vector<uint8_t> data(offset);
  uint8_t* p = data.data();
  for (const TensorView& t : tensors)
    for (float v : t.data) {
      store(dtype, v, p);
      p += dtype_bytes(dtype);
    }
  std::map<std::string, std::string> meta = metadata;
  meta.erase(kMetaChecksums);
  meta[kMetaChecksums] = make_checksums(meta, table, data);
  json header = json::object();
  header["__metadata__"] = meta;
  for (const TensorRecord& r : table)
    header[r.name] = {{"dtype", r.dtype}, {"shape", r.shape}, {"data_offsets", {r.begin, r.end}}};
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // pad so the data starts 8-byte aligned
  std::vector<uint8_t> out(8 + text.size() + data.size());
  for (int i = 0; i < 8; ++i) out[i] = uint8_t(uint64_t(text.size()) >> (8 * i));
  std::memcpy(out.data() + 8, text.data(), text.size());
  std::copy(data.begin(), data.end(), out.begin() + 8 + std::ptrdiff_t(text.size()));
  return out;
}

void write_safetensors(const std::filesystem::path& path, std::span<const TensorView> tensors,
                       const std::map<std::string, std::string>& metadata, DType dtype) {
  write_file_atomic(path, encode_safetensors(tensors, metadata, dtype));
}

SafetensorsFile decode_safetensors(std::span<const uint8_t> bytes, const std::string& what) {
  auto bad = [&](const std::string& msg) -> FormatError {
    return FormatError(what + ": " + msg + " (not a valid safetensors model file)");
  };
  if (bytes.size() < 8) throw bad("file is " + std::to_string(bytes.size()) + " bytes, shorter than the 8-byte header length");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(bytes[i]) << (8 * i);
  if (n > bytes.size() - 8)
    throw bad("header length " + std::to_string(n) + " at offset 0 runs past the end of the file (" +
              std::to_string(bytes.size()) + " bytes): truncated or not safetensors");
  json header;
  try {
    header = json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  } catch (const json::exception& e) {
    throw bad("header JSON does not parse (" + json_error_text(e) + ")");
  }
  if (!header.is_object()) throw bad("header JSON is not an object");
  const size_t data_size = bytes.size() - 8 - n;
  SafetensorsFile file;
  std::vector<TensorRecord> ranges;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) throw bad("__metadata__ is not an object of strings");
      for (const auto& [k, v] : entry.items()) {
        if (!v.is_string()) throw bad("__metadata__." + quote_input(k, 60) + " is not a string");
        file.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    const std::string t = "tensor " + quote_input(name, 60) + ": ";
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets"))
      throw bad(t + "needs dtype, shape and data_offsets");
    if (!entry["dtype"].is_string()) throw bad(t + "dtype is not a string");
    const std::string dt = entry["dtype"].get<std::string>();
    if (dt != "F32" && dt != "F16" && dt != "BF16")
      throw bad(t + "dtype " + quote_input(dt, 20) + " is not supported (F32, F16, BF16)");
    StoredTensor& st = file.tensors[name];
    st.dtype = parse_dtype(dt);
    uint64_t count = 1;
    if (!entry["shape"].is_array()) throw bad(t + "shape is not an array");
    for (const json& d : entry["shape"]) {
      if (!d.is_number_unsigned()) throw bad(t + "shape has a negative or non-integer dimension");
      const uint64_t v = d.get<uint64_t>();
      if (v != 0 && count > (uint64_t{1} << 40) / v) throw bad(t + "shape is absurdly large");
      count *= v;
      st.shape.push_back(int64_t(v));
    }
    const json& off = entry["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      throw bad(t + "data_offsets must be two non-negative integers");
    const uint64_t b = off[0].get<uint64_t>(), e = off[1].get<uint64_t>();
    if (b > e || e > data_size)
      throw bad(t + "data_offsets [" + std::to_string(b) + ", " + std::to_string(e) + ") fall outside the " +
                std::to_string(data_size) + " data bytes (truncated file?)");
    if (e - b != count * dtype_bytes(st.dtype))
      throw bad(t + "data_offsets span " + std::to_string(e - b) + " bytes but shape and dtype need " +
                std::to_string(count * dtype_bytes(st.dtype)));
    ranges.push_back({name, dt, st.shape, b, e});
  }
  std::sort(ranges.begin(), ranges.end(), [](const TensorRecord& a, const TensorRecord& b) { return a.begin < b.begin; });
  size_t expect = 0;
  for (const TensorRecord& r : ranges) {
    if (r.begin != expect)
      throw bad("tensor " + quote_input(r.name, 60) + " starts at data byte " + std::to_string(r.begin) + ", expected " +
                std::to_string(expect) + " (gap or overlap between tensors)");
    expect = r.end;
  }
  if (expect != data_size)
    throw bad(std::to_string(data_size - expect) + " bytes after the last tensor are not described by the header");
  const std::span<const uint8_t> data = bytes.subspan(8 + n);
  if (auto sums = file.metadata.find(kMetaChecksums); sums != file.metadata.end()) {
    verify_checksums(sums->second, file.metadata, ranges, data, what);
    file.metadata.erase(sums);
  } else {
    file.warnings.push_back(what + ": no checksums (written by an older etude or another tool): damage to it cannot be "
                            "detected; re-save or re-export it to add them");
  }
  for (const TensorRecord& r : ranges) {  // validated: now allocate and convert
    StoredTensor& st = file.tensors[r.name];
    const size_t eb = dtype_bytes(st.dtype);
    st.data.resize((r.end - r.begin) / eb);
    for (size_t i = 0; i < st.data.size(); ++i) st.data[i] = load(st.dtype, data.data() + r.begin + i * eb);
  }
  return file;
}

SafetensorsFile read_safetensors(const std::filesystem::path& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  return decode_safetensors(bytes, path.string());
}

}  // namespace etude::nn
