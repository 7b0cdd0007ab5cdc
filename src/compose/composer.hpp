// Composing: N token streams of one style model stepped together (batched), each sampled with its
// own seed under the tokenizer's grammar mask so every stream decodes with zero repairs (the loop:
// generate/sample_streams.hpp); started from BOS or continuing a primer; then decoded to NoteSequences.
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

#include "compose/style_model.hpp"
#include "generate/sample_streams.hpp"
#include "music/note_sequence.hpp"
#include "nn/device.hpp"
#include "nn/sampling.hpp"

namespace etude {

// What compose() accepts (app/ offers the same ranges on the command line).
inline constexpr int kMaxCount = 256;         // pieces at once
inline constexpr double kMaxSeconds = 3600;  // the longest piece in seconds
inline constexpr int kMaxBars = 2000;         // the most bars
// How long a piece lasts when neither a length in tokens nor bars are asked (`etude compose`, the
// page): the shipped piano model's pieces keep their texture over 45 s and more, but judged at 45 s
// some styles stray further from their key than at 30 s (README: composing, shipped styles).
inline constexpr double kDefaultPieceSeconds = 30.0;

struct ComposeOptions {
  nn::SamplingOptions sampling = nn::kDefaultSampling;  // temperature 1, top-p 0.95; argmax only if greedy
  // The temperature among the pitch tokens allowed at a step (kMinPitchTemperature..
  // kMaxPitchTemperature, generate/pitch_shape.hpp): below 1 the pieces keep to fewer pitch classes
  // (more tonal), while the chance of a pitch at all, and so rhythm and texture, stay the model's.
  // A style's calibrated value: style_temperature.hpp.
  float pitch_temperature = kDefaultPitchTemperature;
  int length = 500;             // tokens composed per piece after the primer (EOS is masked out)
  double seconds = 0.0;         // > 0: compose until the piece lasts this long (then cut there) instead
  int bars = 0;                 // > 0: compose this many bars instead (tokenizers with BAR tokens only)
  size_t max_tokens = 0;        // with seconds or bars: the most tokens composed (0: seconds x 200 + 500,
                                // bars x 400 + 500)
  uint64_t seed = 1;            // piece i uses seed + i, so piece i equals a single piece of that seed
  int count = 1;                // pieces composed at once (1..kMaxCount), stepped as one batch
  std::optional<NoteSequence> primer;  // music the model continues (none: start from BOS)
  double primer_seconds = 0.0;  // > 0: only the primer's first seconds are used
  bool keep_primer = false;     // true: the piece begins with the primer; false: only what follows
  // LSTM weights of the token steps: f32 (exactly the trained weights) or bf16 (rounded once: half
  // the memory traffic, about 2x faster steps; on a Chopin `default` model logits within 2e-3 of
  // the largest, and 9 of 20 seeds gave the same 500 tokens as f32).
  nn::Precision precision = nn::Precision::f32;  // f16: CUDA only (half LSTM steps); bf16: CPU only
  nn::Device device = nn::Device::cpu;  // cuda: the steps run on the GPU (the CUDA plugin's stepper)
  // A conditioned model's style: one weight per style row (style_weights(): a style or a blend);
  // empty: every style equally. A model without style rows refuses weights.
  std::vector<float> style_weights;
  // How strongly the style is followed (conditioned models, 0..kMaxStyleStrength): 1 = as trained;
  // above 1 the logits are pushed away from the all-styles blend's (classifier-free guidance, see
  // StreamOptions::style_strength). None: the default, kDefaultStyleStrength.
  std::optional<float> style_strength;
};

struct ComposedPiece {
  uint64_t seed = 0;
  std::vector<int32_t> tokens;  // BOS, the primer's tokens, the composed tokens (no EOS)
  size_t primer_tokens = 0;     // how many tokens after BOS came from the primer
  NoteSequence seq;             // decoded; without the primer unless keep_primer
  int repairs = 0;              // repairs the decoder still made (0 when masking works)
  int64_t end_tick = -1;        // with bars: the bar line closing the last bar composed (seq's ticks)
};

// InvalidArgument for bad options (length, count, seconds, bars for a tokenizer without BAR
// tokens, sampling, a style or strength for a model without style rows, strength out of range) or a
// primer with no notes the tokenizer keeps.
std::vector<ComposedPiece> compose(const StyleModel& style, const ComposeOptions& options);

}  // namespace etude
