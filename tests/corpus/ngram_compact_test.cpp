// The compact binary form of the n-gram index (ETNGRAM3: 32-bit hashes as delta varints): under 5
// bytes an entry on random pitch lines, the same queries after a round trip, files in the older
// 64-bit forms (ETNGRAM2 varints, ETNGRAM1 fixed entries) still read and merge into a new index,
// and damaged varints or widths refused with a FormatError.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "base/error.hpp"
#include "corpus/hash.hpp"
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

template <class T>
void put(std::vector<uint8_t>& out, T v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), p, p + sizeof v);
}

void put_varint(std::vector<uint8_t>& out, uint64_t v) {
  for (; v >= 0x80; v >>= 7) out.push_back(uint8_t(v) | 0x80);
  out.push_back(uint8_t(v));
}

// Offset of the entry count in a serialized ETNGRAM3 index (after magic, n, width, pieces, names).
size_t entries_offset(const std::vector<uint8_t>& b) {
  uint64_t pieces;
  std::memcpy(&pieces, b.data() + 13, 8);
  size_t at = 21;
  for (uint64_t i = 0; i < pieces; ++i) {
    uint64_t len;
    std::memcpy(&len, b.data() + at, 8);
    at += 8 + len;
  }
  return at;
}

// An index in an older 64-bit form, written here byte by byte as those versions wrote it.
std::vector<uint8_t> old_form(const std::vector<std::vector<uint8_t>>& lines, bool fixed) {
  struct E {
    uint64_t hash;
    int32_t piece;
  };
  std::vector<E> entries;
  for (size_t p = 0; p < lines.size(); ++p)
    for (size_t i = 0; i + 8 <= lines[p].size(); ++i)
      entries.push_back({fnv1a(std::span<const uint8_t>(lines[p].data() + i, 8)), int32_t(p)});
  std::sort(entries.begin(), entries.end(),
            [](const E& a, const E& b) { return a.hash != b.hash ? a.hash < b.hash : a.piece < b.piece; });
  std::vector<uint8_t> out(8);
  std::memcpy(out.data(), fixed ? "ETNGRAM1" : "ETNGRAM2", 8);
  put<int32_t>(out, 8);
  put<uint64_t>(out, lines.size());
  for (size_t p = 0; p < lines.size(); ++p) {
    const std::string name = "old-" + std::to_string(p) + ".mid";
    put<uint64_t>(out, name.size());
    out.insert(out.end(), name.begin(), name.end());
  }
  put<uint64_t>(out, entries.size());
  uint64_t previous = 0;
  for (const E& e : entries) {
    if (fixed) {
      put<uint64_t>(out, e.hash);
      put<int32_t>(out, e.piece);
      put<int32_t>(out, 0);
    } else {
      put_varint(out, e.hash - previous);
      put_varint(out, uint64_t(e.piece));
      previous = e.hash;
    }
  }
  return out;
}

TEST(NgramCompact, SmallerThanFixedEntriesAndRoundTrips) {
  std::vector<std::vector<uint8_t>> lines;
  const NgramIndex index = random_index(40, 2000, lines);
  EXPECT_EQ(index.hash_bits(), 32);
  const std::vector<uint8_t> bytes = index.serialize();
  ASSERT_EQ(std::string(bytes.begin(), bytes.begin() + 8), "ETNGRAM3");
  const size_t body = bytes.size() - entries_offset(bytes) - 8;
  EXPECT_LT(double(body) / double(index.size()), 5.0);  // 64-bit varints took 9, the fixed form 16
  const NgramIndex back = NgramIndex::deserialize(bytes, "test");
  EXPECT_EQ(back.size(), index.size());
  EXPECT_EQ(back.serialize(), bytes);
  EXPECT_EQ(back.longest_copied_run(lines[3]).length, lines[3].size());
  EXPECT_EQ(back.longest_copied_run(lines[3]).piece, 3);
  EXPECT_EQ(NgramIndex::from_metadata(index.to_metadata(), "meta").serialize(), bytes);
}

TEST(NgramCompact, ThirtyTwoBitHashesFindNoFalseRuns) {
  // 40 random pieces of 2000 notes against 200 other random lines: 32-bit hashes must not invent
  // copied runs where 64-bit ones find none.
  std::vector<std::vector<uint8_t>> lines;
  const NgramIndex index = random_index(40, 2000, lines);
  std::mt19937 rng(99);
  for (int q = 0; q < 200; ++q) {
    std::vector<uint8_t> line(500);
    for (auto& x : line) x = uint8_t(36 + rng() % 48);
    EXPECT_LT(index.longest_copied_run(line).length, 9u);
  }
}

TEST(NgramCompact, ReadsTheOlderSixtyFourBitForms) {
  std::vector<std::vector<uint8_t>> lines;
  const NgramIndex fresh = random_index(3, 300, lines);
  for (bool fixed : {true, false}) {
    NgramIndex old = NgramIndex::deserialize(old_form(lines, fixed), "old");
    EXPECT_EQ(old.hash_bits(), 64);
    EXPECT_EQ(old.size(), fresh.size());
    EXPECT_EQ(old.longest_copied_run(lines[1]).piece, 1);
    EXPECT_EQ(old.longest_copied_run(lines[1]).length, lines[1].size());
    // re-saved, it keeps its width; merged into a new index, its hashes fold to the new width
    EXPECT_EQ(NgramIndex::deserialize(old.serialize(), "again").longest_copied_run(lines[2]).piece, 2);
    NgramIndex merged(8);
    merged.merge(old, "m/");
    EXPECT_EQ(merged.hash_bits(), 32);
    EXPECT_EQ(merged.longest_copied_run(lines[2]).piece, 2);
    EXPECT_EQ(merged.longest_copied_run(lines[2]).length, lines[2].size());
    EXPECT_EQ(merged.pieces()[0], "m/old-0.mid");
    EXPECT_THROW(old.merge(fresh, "x/"), InvalidArgument);
  }
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
  auto width = good;
  width[12] = 16;
  EXPECT_THROW(NgramIndex::deserialize(width, "t"), FormatError);
  auto wide = good;  // a first hash difference over 32 bits in a 32-bit index
  wide.erase(wide.begin() + long(at), wide.begin() + long(p) + 1);
  const std::vector<uint8_t> big = {0x80, 0x80, 0x80, 0x80, 0x20};
  wide.insert(wide.begin() + long(at), big.begin(), big.end());
  EXPECT_THROW(NgramIndex::deserialize(wide, "t"), FormatError);
  auto trailing = good;
  trailing.push_back(0);
  EXPECT_THROW(NgramIndex::deserialize(trailing, "t"), FormatError);
  auto cut = good;
  cut.resize(cut.size() - 2);
  EXPECT_THROW(NgramIndex::deserialize(cut, "t"), FormatError);
}

}  // namespace
}  // namespace etude
