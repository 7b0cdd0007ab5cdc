// NgramIndex: hashes of every pitch n-gram (n consecutive note pitches, default 8) of the training
// pieces, with the piece each came from. It travels with the corpus and into model files, and
// tells how much of a composed piece is copied from the training data. Hashes are 32 bits wide
// (64 in indexes read from older files): see gram_hash for why that is enough.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "music/note_sequence.hpp"

namespace etude {

// The model-file metadata key under which the training pieces' n-gram index travels.
inline constexpr const char* kMetaNgrams = "etude.ngrams";

// The pitch line of a sequence as the index sees it: non-drum notes in (start, pitch) order.
std::vector<uint8_t> pitch_line(const NoteSequence& seq);

struct CopiedRun {
  size_t start = 0;   // first note of the run in the queried pitches
  size_t length = 0;  // notes in the run (0: nothing copied)
  int32_t piece = -1; // index into NgramIndex::pieces()
};

class NgramIndex {
 public:
  explicit NgramIndex(int n = 8);
  int n() const { return n_; }
  int hash_bits() const { return hash_bits_; }  // 32, or 64 for an index read from an older file
  // Adds every n-gram of one piece; returns the piece id. Call finish() once after the last one.
  int32_t add_piece(const std::string& name, std::span<const uint8_t> pitches);
  void finish();  // sorts and deduplicates; queries need it
  void reserve(size_t grams) { entries_.reserve(grams); }  // room for that many n-grams in all
  // Adds every piece of `other` (same n), names prefixed with `prefix`; finishes. A 64-bit index
  // merged into a 32-bit one has its hashes folded to 32 bits (the same fold gram_hash uses).
  void merge(const NgramIndex& other, const std::string& prefix);
  const std::vector<std::string>& pieces() const { return pieces_; }
  size_t size() const { return entries_.size(); }

  // The longest run of consecutive n-grams found in one training piece, in notes (n-1 + grams).
  // Consecutive grams of one piece need not be consecutive there, so this is an upper estimate.
  CopiedRun longest_copied_run(std::span<const uint8_t> pitches) const;
  // Fraction (0..1) of the notes that lie in copied runs of at least min_run notes (min_run <= n
  // counts every note covered by a known n-gram). 0 when fewer than n notes.
  double copied_share(std::span<const uint8_t> pitches, size_t min_run = 0) const;

  std::vector<uint8_t> serialize() const;
  // name is used in error messages (a file, or "model metadata").
  static NgramIndex deserialize(std::span<const uint8_t> bytes, const std::string& name);
  // serialize() as base64 text for a model file's metadata (key kMetaNgrams), and back.
  std::string to_metadata() const;
  static NgramIndex from_metadata(const std::string& text, const std::string& name);

 private:
  struct Entry {
    uint64_t hash;
    int32_t piece;
    int32_t pad = 0;
    bool operator<(const Entry& o) const { return hash != o.hash ? hash < o.hash : piece < o.piece; }
    bool operator==(const Entry& o) const { return hash == o.hash && piece == o.piece; }
  };
  uint64_t gram_hash(const uint8_t* p) const;
  static uint64_t fold32(uint64_t h) { return (h ^ (h >> 32)) & 0xffffffffu; }
  // For every position i (gram i..i+n-1): (piece, grams in the run ending here) for each piece.
  template <class Fn>
  void for_each_run(std::span<const uint8_t> pitches, Fn&& fn) const;
  int n_;
  int hash_bits_ = 32;
  std::vector<std::string> pieces_;
  std::vector<Entry> entries_;
};

}  // namespace etude
