// The compact binary form of the n-gram index (ETNGRAM2: delta varints): under 10 bytes an entry
// on random pitch lines, the same queries after a round trip, files in the older fixed-size form
// (ETNGRAM1) still read, and damaged varints refused with a FormatError.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "base/error.hpp"
#include "corpus/ngram_index.hpp"

namespace etude {
namespace {

NgramIndex random_index(size_t pieces, size_t notes, std::vector<std::vector<uint8_t>>& lines) {
  std::mt19937 rng(7);
  NgramIndex index(8);
  for (size_t p = 0; p < pieces; ++p) {
    std::vector<uint8_t> l(notes);
    for (auto& x : l) x = uint8_t(36 + rng() % 48);
    index.add_piece("piece-" + std::to_string(p) + ".mid", l);
    lines.push_back(std::move(l));
  }
  index.finish();
  return index;
}

uint64_t read_varint(const std::vector<uint8_t>& b, size_t& at) {
  uint64_t v = 0;
  for (int shift = 0;; shift += 7) {
    const uint8_t x = b.at(at++);
    v |= uint64_t(x & 0x7f) << shift;
    if (!(x & 0x80)) return v;
  }
}

template <class T>
void put(std::vector<uint8_t>& out, T v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), p, p + sizeof v);
}

// Offset of the entry count in a serialized index (after magic, n, pieces and their names).
size_t entries_offset(const std::vector<uint8_t>& b) {
  uint64_t pieces;
  std::memcpy(&pieces, b.data() + 12, 8);
  size_t at = 20;
  for (uint64_t i = 0; i < pieces; ++i) {
    uint64_t len;
    std::memcpy(&len, b.data() + at, 8);
    at += 8 + len;
  }
  return at;
}

TEST(NgramCompact, SmallerThanFixedEntriesAndRoundTrips) {
  std::vector<std::vector<uint8_t>> lines;
  const NgramIndex index = random_index(40, 2000, lines);
  const std::vector<uint8_t> bytes = index.serialize();
  ASSERT_EQ(std::string(bytes.begin(), bytes.begin() + 8), "ETNGRAM2");
  const size_t body = bytes.size() - entries_offset(bytes) - 8;
  EXPECT_LT(double(body) / double(index.size()), 10.0);  // the fixed form takes 16
  const NgramIndex back = NgramIndex::deserialize(bytes, "test");
  EXPECT_EQ(back.size(), index.size());
  EXPECT_EQ(back.serialize(), bytes);
  EXPECT_EQ(back.longest_copied_run(lines[3]).length, lines[3].size());
  EXPECT_EQ(back.longest_copied_run(lines[3]).piece, 3);
  EXPECT_EQ(NgramIndex::from_metadata(index.to_metadata(), "meta").serialize(), bytes);
}

TEST(NgramCompact, ReadsTheFixedSizeForm) {
  std::vector<std::vector<uint8_t>> lines;
  const NgramIndex index = random_index(3, 300, lines);
  const std::vector<uint8_t> v2 = index.serialize();
  const size_t at0 = entries_offset(v2);
  uint64_t count;
  std::memcpy(&count, v2.data() + at0, 8);
  std::vector<uint8_t> v1(v2.begin(), v2.begin() + long(at0));
  std::memcpy(v1.data(), "ETNGRAM1", 8);
  put<uint64_t>(v1, count);
  size_t at = at0 + 8;
  uint64_t hash = 0;
  for (uint64_t i = 0; i < count; ++i) {
    hash += read_varint(v2, at);
    put<uint64_t>(v1, hash);
    put<int32_t>(v1, int32_t(read_varint(v2, at)));
    put<int32_t>(v1, 0);
  }
  const NgramIndex old = NgramIndex::deserialize(v1, "old");
  EXPECT_EQ(old.serialize(), v2);
  EXPECT_EQ(old.longest_copied_run(lines[1]).piece, 1);
}

TEST(NgramCompact, RefusesDamage) {
  std::vector<std::vector<uint8_t>> lines;
  const std::vector<uint8_t> good = random_index(2, 100, lines).serialize();
  const size_t at = entries_offset(good) + 8;
  auto bad_piece = good;
  // first entry: skip its hash varint, then name piece 9 of 2
  size_t p = at;
  while (bad_piece[p] & 0x80) ++p;
  bad_piece[p + 1] = 9;
  EXPECT_THROW(NgramIndex::deserialize(bad_piece, "t"), FormatError);
  auto overflow = good;
  std::fill(overflow.begin() + long(at), overflow.begin() + long(at) + 10, uint8_t(0xff));
  EXPECT_THROW(NgramIndex::deserialize(overflow, "t"), FormatError);
  auto trailing = good;
  trailing.push_back(0);
  EXPECT_THROW(NgramIndex::deserialize(trailing, "t"), FormatError);
  auto cut = good;
  cut.resize(cut.size() - 2);
  EXPECT_THROW(NgramIndex::deserialize(cut, "t"), FormatError);
}

}  // namespace
}  // namespace etude
