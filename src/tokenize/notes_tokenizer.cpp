// `notes` and `seed` tokenizers: onset grouping, music21-style names and normal order, fit,
// nearest-token fallback for unknown onsets, and the half-beat decoder.
#include "tokenize/notes_tokenizer.hpp"

#include <algorithm>
#include <bit>
#include <map>
#include <sstream>

#include "base/error.hpp"
#include "tokenize/token_common.hpp"

namespace etude {
namespace {

using tokenize_detail::GrammarBase;
constexpr const char* kPitchNames[12] = {"C", "C#", "D", "E-", "E", "F", "F#", "G", "G#", "A", "B-", "B"};
constexpr int kTicksPerBeat = 480;

// music21 spelling ("C4", "E-4", "F#4"); keys below C0 (octave -1) are written "Cm1" so that
// "E-1" stays E-flat 1.
std::string pitch_name(int p) {
  return kPitchNames[p % 12] + (p < 12 ? std::string("m1") : std::to_string(p / 12 - 1));
}

// The MIDI key of a pitch name, or -1.
int parse_pitch(const std::string& s) {
  static const std::map<std::string, int> table = [] {
    std::map<std::string, int> t;
    for (int p = 0; p < 128; ++p) t[pitch_name(p)] = p;
    return t;
  }();
  auto it = table.find(s);
  return it == table.end() ? -1 : it->second;
}

// Normal order after Rahn: the rotation of the sorted pitch classes with the smallest span; ties
// go to the rotation whose intervals from the first pitch class are smallest, from the right.
std::vector<int> normal_order(std::vector<int> pcs) {
  std::sort(pcs.begin(), pcs.end());
  pcs.erase(std::unique(pcs.begin(), pcs.end()), pcs.end());
  const size_t n = pcs.size();
  std::vector<int> best;
  for (size_t r = 0; r < n; ++r) {
    std::vector<int> rot(n);
    for (size_t i = 0; i < n; ++i) rot[i] = pcs[(r + i) % n];
    if (best.empty()) {
      best = rot;
      continue;
    }
    for (size_t k = n - 1; k >= 1; --k) {
      int a = (rot[k] - rot[0] + 12) % 12, b = (best[k] - best[0] + 12) % 12;
      if (a != b) {
        if (a < b) best = rot;
        break;
      }
    }
  }
  return best;
}

class NotesGrammar : public GrammarBase {
 public:
  using GrammarBase::GrammarBase;

 protected:
  void body_legal(std::span<uint8_t> mask) const override {
    std::fill(mask.begin() + kNumSpecialTokens, mask.end(), uint8_t{1});
  }
  bool body_allows(int32_t) const override { return true; }
  bool eos_allowed() const override { return true; }
  void body_advance(int32_t) override {}
};

}  // namespace

NotesTokenizer::NotesTokenizer(bool seed, NotesConfig config) : seed_(seed), config_(config) {
  if (config_.min_count < 1 || config_.max_size < 0)
    throw InvalidArgument("notes tokenizer: min_count must be >= 1 and max_size >= 0 (0 = no limit)");
  add_special_tokens();
  sets_.resize(kNumSpecialTokens);
}

std::vector<std::vector<int>> NotesTokenizer::onsets(const NoteSequence& seq) {
  std::map<int64_t, std::vector<int>> by_start;
  for (const auto& n : seq.notes) {
    if (n.is_drum) continue;
    // Tick-based files group by tick; SMPTE files (no ticks per beat) by the millisecond.
    int64_t key = seq.ticks_per_beat > 0 ? n.start_tick : static_cast<int64_t>(n.start * 1000.0 + 0.5);
    by_start[key].push_back(std::clamp(n.pitch, 0, 127));
  }
  std::vector<std::vector<int>> out;
  out.reserve(by_start.size());
  for (auto& [key, pitches] : by_start) {
    std::sort(pitches.begin(), pitches.end());
    pitches.erase(std::unique(pitches.begin(), pitches.end()), pitches.end());
    out.push_back(std::move(pitches));
  }
  return out;
}

std::string NotesTokenizer::onset_name(const std::vector<int>& pitches) const {
  if (pitches.size() == 1) return pitch_name(pitches[0]);
  std::string name;
  if (seed_) {
    std::vector<int> pcs;
    for (int p : pitches) pcs.push_back(p % 12);
    for (int pc : normal_order(pcs)) {
      if (!name.empty()) name += '.';
      name += std::to_string(pc);
    }
  } else {
    for (int p : pitches) {
      if (!name.empty()) name += '.';
      name += pitch_name(p);
    }
  }
  return name;
}

void NotesTokenizer::load_vocabulary(const std::vector<std::string>& names) {
  size_t skip = names.size() >= 3 && names[0] == "PAD" && names[1] == "BOS" && names[2] == "EOS" ? 3 : 0;
  vocab_ = Vocabulary{};
  add_special_tokens();
  sets_.assign(kNumSpecialTokens, PitchSet{0, 0});
  for (size_t i = skip; i < names.size(); ++i) {
    const std::string& name = names[i];
    PitchSet set{0, 0};
    std::stringstream parts(name);
    std::string part;
    bool pcs = !name.empty() && std::isdigit(static_cast<unsigned char>(name[0]));
    while (std::getline(parts, part, '.')) {
      int p = -1;
      if (pcs) {
        try {
          int pc = std::stoi(part);
          p = pc >= 0 && pc < 12 ? 60 + pc : -1;  // music21's default octave 4
        } catch (...) {
        }
      } else {
        p = parse_pitch(part);
      }
      if (p < 0)
        throw FormatError(this->name() + ": vocabulary entry '" + name +
                          "' is not a pitch name or pitch-class chord; the stored tokenizer is damaged");
      set[static_cast<size_t>(p / 64)] |= uint64_t{1} << (p % 64);
    }
    vocab_.add(name);
    sets_.push_back(set);
  }
}

void NotesTokenizer::fit(std::span<const NoteSequence* const> pieces) {
  std::map<std::string, int64_t> counts;
  for (const NoteSequence* seq : pieces)
    for (const auto& onset : onsets(*seq)) ++counts[onset_name(onset)];
  std::vector<std::pair<std::string, int64_t>> ranked(counts.begin(), counts.end());
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::vector<std::string> names;
  for (const auto& [name, count] : ranked) {
    if (count < config_.min_count) break;
    if (config_.max_size > 0 && static_cast<int>(names.size()) >= config_.max_size) break;
    names.push_back(name);
  }
  load_vocabulary(names);
}

int32_t NotesTokenizer::nearest(const PitchSet& set) const {
  int32_t best = -1;
  int best_distance = 1 << 30;
  for (size_t id = kNumSpecialTokens; id < sets_.size(); ++id) {
    int d = std::popcount(sets_[id][0] ^ set[0]) + std::popcount(sets_[id][1] ^ set[1]);
    if (d < best_distance) {
      best_distance = d;
      best = static_cast<int32_t>(id);
    }
  }
  return best;
}

std::vector<int32_t> NotesTokenizer::encode(const NoteSequence& seq) const {
  if (vocab_size() <= kNumSpecialTokens)
    throw InvalidArgument(name() + " tokenizer has no onset vocabulary yet: fit it on the "
                          "training pieces first (the corpus builder does)");
  std::vector<int32_t> out{kBosToken};
  for (const auto& pitches : onsets(seq)) {
    std::string name = onset_name(pitches);
    int32_t id = vocab_.id(name);
    if (id < 0) {
      PitchSet set{0, 0};
      if (seed_ && pitches.size() > 1) {
        for (int p : pitches) set[(60 + p % 12) / 64] |= uint64_t{1} << ((60 + p % 12) % 64);
      } else {
        for (int p : pitches) set[static_cast<size_t>(p / 64)] |= uint64_t{1} << (p % 64);
      }
      id = nearest(set);
    }
    out.push_back(id);
  }
  out.push_back(kEosToken);
  return out;
}

void NotesTokenizer::decode_body(std::span<const int32_t> body, bool ended, DecodeResult& out) const {
  int64_t t = 0;
  for (int32_t id : body) {
    const PitchSet& set = sets_[static_cast<size_t>(id)];
    for (int p = 0; p < 128; ++p) {
      if (!((set[static_cast<size_t>(p / 64)] >> (p % 64)) & 1)) continue;
      Note n;
      n.pitch = p;
      n.velocity = 80;
      n.start_tick = t;
      n.end_tick = t + kTicksPerBeat;
      out.seq.notes.push_back(n);
    }
    t += kTicksPerBeat / 2;
  }
  tokenize_detail::resolve_same_pitch_overlaps(out.seq.notes);
  tokenize_detail::finish_sequence(out.seq, kTicksPerBeat, 500000);
}

std::unique_ptr<TokenGrammar> NotesTokenizer::grammar() const {
  return std::make_unique<NotesGrammar>(vocab_size());
}

}  // namespace etude
