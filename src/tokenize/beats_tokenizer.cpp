// `beats` tokenizer: notes on a beat grid from the file's ticks, bar lines from its time
// signatures; the decoder completes or drops partial PITCH/DURATION/VELOCITY triples.
#include "tokenize/beats_tokenizer.hpp"

#include <algorithm>
#include <bitset>
#include <cmath>

#include "base/error.hpp"
#include "tokenize/token_common.hpp"

namespace etude {
namespace {

using tokenize_detail::bin_velocity;
using tokenize_detail::velocity_bin;

// Where a note's triple stands: between notes, after PITCH, after DURATION.
enum class Slot { kFree, kPitch, kDuration };

class BeatsGrammar : public tokenize_detail::GrammarBase {
 public:
  explicit BeatsGrammar(const BeatsTokenizer::Ids& ids) : GrammarBase(ids.size), ids_(ids) {}

 protected:
  void body_legal(std::span<uint8_t> mask) const override {
    auto fill = [&](int32_t from, int32_t to) { std::fill(mask.begin() + from, mask.begin() + to, uint8_t{1}); };
    if (slot_ == Slot::kPitch) return fill(ids_.duration, ids_.velocity);
    if (slot_ == Slot::kDuration) return fill(ids_.velocity, ids_.size);
    if (ids_.bar >= 0) mask[static_cast<size_t>(ids_.bar)] = 1;
    fill(ids_.shift, ids_.pitch);
    for (int p = 0; p < 128; ++p) mask[static_cast<size_t>(ids_.pitch + p)] = !seen_[static_cast<size_t>(p)];
  }
  bool body_allows(int32_t t) const override {
    if (slot_ == Slot::kPitch) return t >= ids_.duration && t < ids_.velocity;
    if (slot_ == Slot::kDuration) return t >= ids_.velocity && t < ids_.size;
    if (t == ids_.bar) return true;  // bar is -1 when there is none, and t is never negative here
    if (t >= ids_.shift && t < ids_.pitch) return true;
    return t >= ids_.pitch && t < ids_.pitch + 128 && !seen_[static_cast<size_t>(t - ids_.pitch)];
  }
  bool eos_allowed() const override { return slot_ == Slot::kFree; }
  void body_advance(int32_t t) override {
    if (t >= ids_.velocity) {
      slot_ = Slot::kFree;
    } else if (t >= ids_.duration) {
      slot_ = Slot::kDuration;
    } else if (t >= ids_.pitch) {
      seen_.set(static_cast<size_t>(t - ids_.pitch));
      slot_ = Slot::kPitch;
    } else if (t >= ids_.shift) {
      seen_.reset();
    }
  }

 private:
  BeatsTokenizer::Ids ids_;
  Slot slot_ = Slot::kFree;
  std::bitset<128> seen_;  // pitches already placed at the current onset
};

}  // namespace

BeatsTokenizer::BeatsTokenizer(BeatsConfig config) : config_(config) {
  if (config_.resolution < 1 || config_.resolution > 96 || config_.max_beats < 1 || config_.max_beats > 16 ||
      !(config_.qpm > 1.0 && config_.qpm < 1000.0))
    throw InvalidArgument("beats tokenizer: resolution must be 1..96, max_beats 1..16 and qpm 1..1000");
  add_special_tokens();
  const int m = max_steps();
  ids_.bar = config_.bars ? vocab_.add("BAR") : -1;
  ids_.shift = vocab_.size();
  for (int k = 1; k <= m; ++k) vocab_.add("SHIFT_" + std::to_string(k));
  ids_.pitch = vocab_.size();
  for (int p = 0; p < 128; ++p) vocab_.add("PITCH_" + std::to_string(p));
  ids_.duration = vocab_.size();
  for (int k = 1; k <= m; ++k) vocab_.add("DUR_" + std::to_string(k));
  ids_.velocity = vocab_.size();
  for (int b = 0; b < 32; ++b) vocab_.add("VEL_" + std::to_string(b));
  ids_.size = vocab_.size();
}

int64_t BeatsTokenizer::grid_of(const NoteSequence& seq, int64_t tick, double seconds) const {
  if (seq.ticks_per_beat <= 0) return std::llround(std::max(0.0, seconds) * 2.0 * config_.resolution);
  const int64_t num = std::max<int64_t>(0, tick) * config_.resolution * 2 + seq.ticks_per_beat;
  return num / (2 * int64_t{seq.ticks_per_beat});
}

std::vector<int32_t> BeatsTokenizer::encode(const NoteSequence& seq) const {
  struct GridNote {
    int64_t onset, duration;
    int pitch, velocity;
  };
  std::vector<GridNote> notes;
  for (const auto& n : seq.notes) {
    if (n.is_drum) continue;
    int64_t on = grid_of(seq, n.start_tick, n.start);
    int64_t dur = seq.ticks_per_beat > 0 ? grid_of(seq, n.end_tick - n.start_tick, n.end - n.start)
                                         : grid_of(seq, 0, n.end - n.start);
    notes.push_back({on, std::clamp<int64_t>(dur, 1, max_steps()), std::clamp(n.pitch, 0, 127), n.velocity});
  }
  std::sort(notes.begin(), notes.end(), [](const GridNote& a, const GridNote& b) {
    if (a.onset != b.onset) return a.onset < b.onset;
    if (a.pitch != b.pitch) return a.pitch < b.pitch;
    return a.duration > b.duration;
  });
  notes.erase(std::unique(notes.begin(), notes.end(),
                          [](const GridNote& a, const GridNote& b) { return a.onset == b.onset && a.pitch == b.pitch; }),
              notes.end());

  // Bar lines up to the last onset, from the time signatures (4/4 until the first one).
  std::vector<int64_t> bars;
  if (config_.bars && !notes.empty()) {
    const int64_t last = notes.back().onset;
    auto sigs = seq.time_signatures;
    if (sigs.empty() || sigs.front().tick > 0) sigs.insert(sigs.begin(), TimeSignature{});
    for (size_t i = 0; i < sigs.size(); ++i) {
      int64_t from = grid_of(seq, sigs[i].tick, sigs[i].time);
      int64_t to = i + 1 < sigs.size() ? grid_of(seq, sigs[i + 1].tick, sigs[i + 1].time) : last + 1;
      int64_t len = std::max<int64_t>(
          1, std::llround(sigs[i].numerator * 4.0 * config_.resolution / std::max(1, sigs[i].denominator)));
      for (int64_t b = from; b < to && b <= last; b += len) bars.push_back(b);
    }
  }

  std::vector<int32_t> out{kBosToken};
  int64_t now = 0;
  auto shift_to = [&](int64_t g) {
    for (int64_t gap = g - now; gap > 0; gap -= max_steps())
      out.push_back(ids_.shift + static_cast<int32_t>(std::min<int64_t>(gap, max_steps())) - 1);
    now = std::max(now, g);
  };
  size_t bar = 0;
  for (const auto& n : notes) {
    for (; bar < bars.size() && bars[bar] <= n.onset; ++bar) {
      shift_to(bars[bar]);
      out.push_back(ids_.bar);
    }
    shift_to(n.onset);
    out.push_back(ids_.pitch + n.pitch);
    out.push_back(ids_.duration + static_cast<int32_t>(n.duration) - 1);
    out.push_back(ids_.velocity + velocity_bin(n.velocity));
  }
  out.push_back(kEosToken);
  return out;
}

void BeatsTokenizer::decode_body(std::span<const int32_t> body, bool ended, DecodeResult& out) const {
  int64_t now = 0;
  int pitch = -1, duration = -1;
  std::bitset<128> seen;
  auto emit = [&](int velocity_bin_index) {
    if (seen[static_cast<size_t>(pitch)]) {
      ++out.repairs;  // the same key twice at one onset
    } else {
      seen.set(static_cast<size_t>(pitch));
      Note n;
      n.pitch = pitch;
      n.velocity = bin_velocity(velocity_bin_index);
      n.start_tick = now * kTicksPerStep;
      n.end_tick = (now + (duration > 0 ? duration : config_.resolution)) * kTicksPerStep;
      out.seq.notes.push_back(n);
    }
    pitch = duration = -1;
  };
  auto complete_pending = [&](bool count) {  // a triple cut short: one beat at a middle velocity
    if (pitch < 0) return;
    if (count) ++out.repairs;
    emit(15);
  };
  for (int32_t t : body) {
    if (t >= ids_.velocity) {
      if (pitch < 0 || duration < 0) {
        ++out.repairs;
        continue;
      }
      emit(t - ids_.velocity);
    } else if (t >= ids_.duration) {
      if (pitch < 0 || duration >= 0) {
        ++out.repairs;
        continue;
      }
      duration = t - ids_.duration + 1;
    } else if (t >= ids_.pitch) {
      complete_pending(true);
      pitch = t - ids_.pitch;
    } else {
      complete_pending(true);
      if (t >= ids_.shift) {
        now += t - ids_.shift + 1;
        seen.reset();
      } else if (t == ids_.bar) {
        out.bar_ticks.push_back(now * kTicksPerStep);
      }
    }
  }
  complete_pending(ended);
  tokenize_detail::resolve_same_pitch_overlaps(out.seq.notes);
  tokenize_detail::finish_sequence(out.seq, config_.resolution * kTicksPerStep,
                                   static_cast<uint32_t>(std::llround(60e6 / config_.qpm)));
}

std::unique_ptr<TokenGrammar> BeatsTokenizer::grammar() const { return std::make_unique<BeatsGrammar>(ids_); }

}  // namespace etude
