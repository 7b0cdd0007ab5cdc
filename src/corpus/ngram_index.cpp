// NgramIndex: building, the run queries (a per-piece dynamic programme over gram hits) and the
// binary form ("ETNGRAM3", n, hash width, piece names, sorted entries as delta varints).
#include "corpus/ngram_index.hpp"

#include <algorithm>
#include <cstring>

#include "base/error.hpp"
#include "corpus/binary_io.hpp"
#include "corpus/hash.hpp"

namespace etude {

std::vector<uint8_t> pitch_line(const NoteSequence& seq) {
  std::vector<const Note*> notes;
  for (const auto& n : seq.notes)
    if (!n.is_drum) notes.push_back(&n);
  std::stable_sort(notes.begin(), notes.end(), [](const Note* a, const Note* b) {
    return a->start_tick != b->start_tick ? a->start_tick < b->start_tick : a->pitch < b->pitch;
  });
  std::vector<uint8_t> line;
  line.reserve(notes.size());
  for (const Note* n : notes) line.push_back(static_cast<uint8_t>(std::clamp(n->pitch, 0, 127)));
  return line;
}

NgramIndex::NgramIndex(int n) : n_(n) {
  if (n < 2 || n > 64) throw InvalidArgument("n-gram index: n must be 2..64, got " + std::to_string(n));
}

// 32 bits are enough: a gram that is not in the index matches one of its E entries by chance with
// probability E / 2^32 (3e-4 for the 1.3 million grams of both corpora), and a copied run needs
// consecutive grams of one piece, so a false run of even 9 notes (2 grams) has odds near 1e-10.
// Half the width halves the index inside model files (hash differences fit 2 varint bytes, not 7).
uint64_t NgramIndex::gram_hash(const uint8_t* p) const {
  const uint64_t h = fnv1a(std::span<const uint8_t>(p, static_cast<size_t>(n_)));
  return hash_bits_ == 32 ? fold32(h) : h;
}

int32_t NgramIndex::add_piece(const std::string& name, std::span<const uint8_t> pitches) {
  auto id = static_cast<int32_t>(pieces_.size());
  pieces_.push_back(name);
  for (size_t i = 0; i + static_cast<size_t>(n_) <= pitches.size(); ++i)
    entries_.push_back({gram_hash(pitches.data() + i), id});
  return id;
}

void NgramIndex::finish() {
  std::sort(entries_.begin(), entries_.end());
  entries_.erase(std::unique(entries_.begin(), entries_.end()), entries_.end());
}

void NgramIndex::merge(const NgramIndex& other, const std::string& prefix) {
  if (other.n_ != n_)
    throw InvalidArgument("n-gram indexes of " + std::to_string(n_) + "- and " + std::to_string(other.n_) +
                          "-grams cannot be merged");
  if (other.hash_bits_ < hash_bits_)
    throw InvalidArgument("a 32-bit n-gram index cannot be merged into a 64-bit one (rebuild the corpus cache)");
  const bool fold = other.hash_bits_ > hash_bits_;
  const auto offset = static_cast<int32_t>(pieces_.size());
  for (const std::string& name : other.pieces_) pieces_.push_back(prefix + name);
  entries_.reserve(entries_.size() + other.entries_.size());
  for (const Entry& e : other.entries_) entries_.push_back({fold ? fold32(e.hash) : e.hash, e.piece + offset});
  finish();
}

template <class Fn>
void NgramIndex::for_each_run(std::span<const uint8_t> pitches, Fn&& fn) const {
  std::vector<std::pair<int32_t, size_t>> previous, current;  // (piece, grams), sorted by piece
  for (size_t i = 0; i + static_cast<size_t>(n_) <= pitches.size(); ++i) {
    current.clear();
    const uint64_t h = gram_hash(pitches.data() + i);
    auto it = std::lower_bound(entries_.begin(), entries_.end(), Entry{h, INT32_MIN});
    for (; it != entries_.end() && it->hash == h; ++it) {
      auto prev = std::lower_bound(previous.begin(), previous.end(), std::make_pair(it->piece, size_t{0}));
      size_t grams = prev != previous.end() && prev->first == it->piece ? prev->second + 1 : 1;
      current.emplace_back(it->piece, grams);
      fn(i, it->piece, grams);
    }
    std::swap(previous, current);
  }
}

CopiedRun NgramIndex::longest_copied_run(std::span<const uint8_t> pitches) const {
  CopiedRun best;
  for_each_run(pitches, [&](size_t i, int32_t piece, size_t grams) {
    size_t notes = grams + static_cast<size_t>(n_) - 1;
    if (notes > best.length) best = {i + 1 - grams, notes, piece};
  });
  return best;
}

double NgramIndex::copied_share(std::span<const uint8_t> pitches, size_t min_run) const {
  if (pitches.size() < static_cast<size_t>(n_)) return 0.0;
  // Every run that has reached min_run notes covers all of its notes (a difference array).
  std::vector<int> delta(pitches.size() + 1, 0);
  for_each_run(pitches, [&](size_t i, int32_t, size_t grams) {
    if (grams + static_cast<size_t>(n_) - 1 < min_run) return;
    ++delta[i + 1 - grams];
    --delta[i + static_cast<size_t>(n_)];
  });
  size_t covered = 0;
  int depth = 0;
  for (size_t k = 0; k < pitches.size(); ++k) {
    depth += delta[k];
    covered += depth > 0;
  }
  return static_cast<double>(covered) / static_cast<double>(pitches.size());
}

// ETNGRAM3 (written): n, the hash width (32 or 64), the piece names, then the sorted entries as
// LEB128 varints, each the hash's difference from the previous entry's and then the piece id:
// about 4 bytes an entry with 32-bit hashes (16 in the fixed form), which keeps the index of a
// large corpus small inside model files. ETNGRAM2 (the same with 64-bit hashes and no width
// field) and ETNGRAM1 (fixed 16-byte entries) still read, as 64-bit indexes.
std::vector<uint8_t> NgramIndex::serialize() const {
  ByteWriter w;
  for (char c : std::string("ETNGRAM3")) w.put<char>(c);
  w.put<int32_t>(n_);
  w.put<uint8_t>(uint8_t(hash_bits_));
  w.put<uint64_t>(pieces_.size());
  for (const auto& p : pieces_) w.put_string(p);
  w.put<uint64_t>(entries_.size());
  uint64_t previous = 0;
  for (const Entry& e : entries_) {
    w.put_varint(e.hash - previous);
    w.put_varint(uint64_t(uint32_t(e.piece)));
    previous = e.hash;
  }
  return std::move(w.bytes());
}

NgramIndex NgramIndex::deserialize(std::span<const uint8_t> bytes, const std::string& name) {
  ByteReader r(bytes, name);
  std::string magic;
  for (int i = 0; i < 8; ++i) magic += r.get<char>();
  if (magic != "ETNGRAM1" && magic != "ETNGRAM2" && magic != "ETNGRAM3")
    r.fail("not an Etude n-gram index (magic '" + magic + "')");
  int32_t n = r.get<int32_t>();
  if (n < 2 || n > 64) r.fail("n-gram size " + std::to_string(n) + " is outside 2..64");
  NgramIndex index(n);
  index.hash_bits_ = magic == "ETNGRAM3" ? r.get<uint8_t>() : 64;
  if (index.hash_bits_ != 32 && index.hash_bits_ != 64)
    r.fail("hash width " + std::to_string(index.hash_bits_) + " is neither 32 nor 64");
  auto count = r.get<uint64_t>();
  if (count > r.remaining() / 8) r.fail("piece count " + std::to_string(count) + " does not fit");
  for (uint64_t i = 0; i < count; ++i) index.pieces_.push_back(r.get_string());
  if (magic == "ETNGRAM1") {
    index.entries_ = r.get_array<Entry>();
  } else {
    const auto entries = r.get<uint64_t>();
    if (entries > r.remaining() / 2) r.fail("entry count " + std::to_string(entries) + " does not fit");
    index.entries_.resize(entries);
    uint64_t hash = 0;
    for (Entry& e : index.entries_) {
      hash += r.get_varint();
      const uint64_t piece = r.get_varint();
      if (piece >= count) r.fail("an entry names piece " + std::to_string(piece));
      e = {hash, int32_t(piece)};
    }
    if (r.remaining() != 0) r.fail(std::to_string(r.remaining()) + " bytes after the last entry");
  }
  for (const auto& e : index.entries_) {
    if (e.piece < 0 || static_cast<uint64_t>(e.piece) >= count) r.fail("an entry names piece " + std::to_string(e.piece));
    if (index.hash_bits_ == 32 && e.hash > 0xffffffffu) r.fail("a hash is wider than the index's 32 bits");
  }
  if (!std::is_sorted(index.entries_.begin(), index.entries_.end())) r.fail("entries are not sorted");
  return index;
}

}  // namespace etude
