// Little-endian byte writer and bounds-checked reader (fixed-size values, strings, arrays, LEB128
// varints) for Etude's binary files (corpus cache, n-gram index). A read past the end throws FormatError naming the file and byte offset.
#pragma once
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "base/error.hpp"

namespace etude {

class ByteWriter {
 public:
  template <class T>
    requires std::is_arithmetic_v<T>
  void put(T value) {
    const auto* p = reinterpret_cast<const uint8_t*>(&value);
    bytes_.insert(bytes_.end(), p, p + sizeof(T));
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    bytes_.insert(bytes_.end(), s.begin(), s.end());
  }
  template <class T>
    requires std::is_trivially_copyable_v<T>
  void put_array(std::span<const T> values) {
    put<uint64_t>(values.size());
    const auto* p = reinterpret_cast<const uint8_t*>(values.data());
    bytes_.insert(bytes_.end(), p, p + values.size_bytes());
  }
  // LEB128: 7 bits a byte, low first, the high bit set on all but the last.
  void put_varint(uint64_t v) {
    for (; v >= 0x80; v >>= 7) bytes_.push_back(uint8_t(v) | 0x80);
    bytes_.push_back(uint8_t(v));
  }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

class ByteReader {
 public:
  ByteReader(std::span<const uint8_t> bytes, std::string name) : bytes_(bytes), name_(std::move(name)) {}
  template <class T>
    requires std::is_arithmetic_v<T>
  T get() {
    T value;
    std::memcpy(&value, take(sizeof(T)), sizeof(T));
    return value;
  }
  std::string get_string() {
    auto n = get<uint64_t>();
    const auto* p = take(n);
    return std::string(reinterpret_cast<const char*>(p), n);
  }
  template <class T>
    requires std::is_trivially_copyable_v<T>
  std::vector<T> get_array() {
    auto n = get<uint64_t>();
    if (n > remaining() / sizeof(T)) fail("array of " + std::to_string(n) + " items does not fit");
    std::vector<T> values(n);
    std::memcpy(values.data(), take(n * sizeof(T)), n * sizeof(T));
    return values;
  }
  uint64_t get_varint() {
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      const auto b = get<uint8_t>();
      if (shift == 63 && b > 1) fail("varint overflows 64 bits");
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
  }
  void skip(uint64_t n) { take(n); }
  size_t offset() const { return pos_; }
  size_t remaining() const { return bytes_.size() - pos_; }
  [[noreturn]] void fail(const std::string& what) const {
    throw FormatError(name_ + ": byte " + std::to_string(pos_) + ": " + what +
                      " (the file is damaged or from another version; delete it and rebuild)");
  }

 private:
  const uint8_t* take(uint64_t n) {
    if (n > remaining()) fail("unexpected end of data (wanted " + std::to_string(n) + " bytes)");
    const uint8_t* p = bytes_.data() + pos_;
    pos_ += n;
    return p;
  }
  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
  std::string name_;
};

}  // namespace etude
