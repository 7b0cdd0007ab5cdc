// What the fuzz targets share: a trap for a broken promise, bytes handed to a path-only reader
// through one memfd (no temporary files), and the small fitted tokenizers and model file the
// targets and fuzz/make_fuzz_seeds.cpp build from a few notes.
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "corpus/corpus.hpp"
#include "corpus/ngram_index.hpp"
#include "nn/model_io.hpp"
#include "nn/model_spec.hpp"
#include "tokenize/tokenizer.hpp"

namespace etude::fuzz {

inline void require(bool ok) {
  if (!ok) __builtin_trap();
}

// One in-memory file, rewritten per input; path() is /proc/self/fd/N.
class MemFile {
 public:
  MemFile() : fd_(memfd_create("etude-fuzz", 0)) { require(fd_ >= 0); }
  ~MemFile() { close(fd_); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
  std::filesystem::path write(std::span<const uint8_t> bytes) {
    require(ftruncate(fd_, 0) == 0);
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = pwrite(fd_, bytes.data() + done, bytes.size() - done, off_t(done));
      require(n > 0);
      done += size_t(n);
    }
    return "/proc/self/fd/" + std::to_string(fd_);
  }

 private:
  int fd_;
};

// The corpus options of the cache the corpus-cache target reads (and make_fuzz_seeds writes):
// shards of 64 tokens, so that the small seed folder spreads over several.
inline CorpusOptions cache_options() {
  CorpusOptions options;
  options.threads = 1;
  options.shard_tokens = 64;
  return options;
}

// A private scratch folder for this process, in memory where /dev/shm exists (files the targets
// write per input then cost no disk and no fsync).
inline std::filesystem::path scratch_folder(const std::string& name) {
  const std::filesystem::path base =
      std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
  return base / (name + "-" + std::to_string(getpid()));
}

// The bytes as the whole of a file, plainly (no fsync: the fuzzer rewrites it on every input).
inline void overwrite_file(const std::filesystem::path& path, std::span<const uint8_t> bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  require(f != nullptr);
  require(bytes.empty() || std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size());
  require(std::fclose(f) == 0);
}

// A short two-voice phrase: enough notes for a fitted vocabulary and an n-gram index.
inline NoteSequence phrase() {
  NoteSequence seq;
  seq.ticks_per_beat = 480;
  const int pitches[] = {60, 64, 67, 72, 71, 67, 65, 62, 60, 59, 60, 64, 62, 60};
  double t = 0;
  for (int i = 0; i < 14; ++i, t += 0.25) {
    Note n;
    n.pitch = pitches[i];
    n.velocity = 60 + 4 * i;
    n.start = t, n.end = t + (i % 3 == 0 ? 0.5 : 0.25);
    n.start_tick = int64_t(t * 960), n.end_tick = int64_t(n.end * 960);
    if (i % 4 == 0) {  // (start_tick, pitch) order: the lower voice first
      Note low = n;
      low.pitch = pitches[i] - 12;
      seq.notes.push_back(low);
    }
    seq.notes.push_back(n);
  }
  seq.total_ticks = seq.notes.back().end_tick;
  seq.total_time = seq.notes.back().end;
  return seq;
}

// A tokenizer by name, fitted on the pieces when it needs a fit.
inline std::unique_ptr<Tokenizer> fitted_tokenizer(const std::string& name, const std::vector<NoteSequence>& pieces) {
  auto tok = make_tokenizer(name);
  std::vector<const NoteSequence*> ptrs;
  for (const auto& p : pieces) ptrs.push_back(&p);
  if (tok->needs_fit()) tok->fit(ptrs);
  return tok;
}

// A model file as `etude train` writes one (tokenizer, training card, n-gram index), with a tiny
// network (embedding 4, one LSTM of 4 units) in F16 so it stays a few kilobytes.
inline std::vector<uint8_t> tiny_model_file(const std::string& tokenizer, const std::vector<NoteSequence>& pieces) {
  auto tok = fitted_tokenizer(tokenizer, pieces);
  nn::ModelSpec spec;
  spec.vocab = tok->vocab_size();
  spec.embed_dim = 4;
  spec.layers = {nn::LayerSpec{.kind = nn::LayerKind::lstm, .units = 4},
                 nn::LayerSpec{.kind = nn::LayerKind::dense, .units = nn::kVocabUnits}};
  spec.window = 16;
  nn::Model model(spec);
  model.init_random(1);
  NgramIndex index;
  for (size_t i = 0; i < pieces.size(); ++i) index.add_piece("piece" + std::to_string(i), pitch_line(pieces[i]));
  index.finish();
  const std::map<std::string, std::string> meta{{nn::kMetaTokenizer, tok->to_json().dump()},
                                                {nn::kMetaTraining, R"({"epoch": 1, "val_loss": 4.5})"},
                                                {kMetaNgrams, index.to_metadata()}};
  return nn::encode_model(model, nn::DType::f16, meta);
}

}  // namespace etude::fuzz
