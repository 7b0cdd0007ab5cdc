// The composing loop (see composer.hpp): primer fed to every stream, then one batched LSTM step
// per token, a grammar mask per stream, nn::Sampler with a per-stream Rng, decode at the end.
#include "compose/composer.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "base/error.hpp"
#include "compose/pitch_shape.hpp"
#include "compose/style_blend.hpp"
#include "music/sequence_ops.hpp"
#include "nn/inference.hpp"

namespace etude {
namespace {

// The full decode minus the notes the primer alone decodes to (matched by onset tick and pitch),
// shifted so the first composed note starts at zero (by `shift` ticks).
NoteSequence drop_primer(NoteSequence full, const NoteSequence& primer, int64_t& shift) {
  std::multimap<std::pair<int64_t, int>, int> primer_notes;
  for (const Note& n : primer.notes) primer_notes.emplace(std::pair(n.start_tick, n.pitch), 0);
  std::erase_if(full.notes, [&](const Note& n) {
    auto it = primer_notes.find({n.start_tick, n.pitch});
    if (it == primer_notes.end()) return false;
    primer_notes.erase(it);
    return true;
  });
  if (full.notes.empty()) return full;
  const int64_t t0 = full.notes.front().start_tick;
  shift = t0;
  for (Note& n : full.notes) n.start_tick -= t0, n.end_tick -= t0;
  std::erase_if(full.control_changes, [&](const ControlChange& c) { return c.tick < t0; });
  for (ControlChange& c : full.control_changes) c.tick -= t0;
  full.total_ticks = std::max<int64_t>(0, full.total_ticks - t0);
  retime_seconds(full);
  return full;
}

std::vector<int32_t> primer_tokens(const Tokenizer& tokenizer, const ComposeOptions& o) {
  NoteSequence primer = merge_to_piano(*o.primer);
  if (o.primer_seconds > 0) primer = truncate_seconds(std::move(primer), o.primer_seconds);
  std::vector<int32_t> tokens = tokenizer.encode(primer);  // BOS body EOS
  if (tokens.size() < 3)
    throw InvalidArgument("primer " + primer.source + " has no notes the " + tokenizer.name() +
                          " tokenizer keeps" + (o.primer_seconds > 0 ? " in its first seconds (raise --primer-seconds)" : ""));
  return {tokens.begin() + 1, tokens.end() - 1};
}

}  // namespace

std::vector<ComposedPiece> compose(const StyleModel& style, const ComposeOptions& o) {
  if (o.length < 1 && o.seconds <= 0) throw InvalidArgument("compose: --length must be at least 1 token");
  if (o.count < 1 || o.count > 256) throw InvalidArgument("compose: --count must be 1..256");
  if (o.seconds < 0 || o.seconds > 3600) throw InvalidArgument("compose: --seconds must be 0..3600");
  if (o.bars < 0 || o.bars > 2000) throw InvalidArgument("compose: --bars must be 1..2000");
  const int32_t bar_token = style.tokenizer->bar_token();
  if (o.bars > 0 && bar_token < 0)
    throw InvalidArgument("compose: --bars needs a model whose tokenizer writes bar lines; " + style.path.filename().string() +
                          "'s " + style.tokenizer->name() + " tokenizer has none (use --seconds)");
  nn::Sampler sampler(o.sampling);
  const Tokenizer& tok = *style.tokenizer;
  const int V = tok.vocab_size(), N = o.count;
  const std::vector<int32_t> primer = o.primer ? primer_tokens(tok, o) : std::vector<int32_t>{};
  // In seconds mode the length is a cap (dense piano needs well under 200 tokens a second).
  const size_t max_new = o.seconds <= 0 && o.bars <= 0 ? size_t(o.length)
                         : o.max_tokens > 0            ? o.max_tokens
                         : o.bars > 0                  ? size_t(o.bars) * 400 + 500
                                                       : size_t(o.seconds * 200) + 500;

  std::vector<ComposedPiece> pieces(N);
  std::vector<std::unique_ptr<TokenGrammar>> grammars;
  std::vector<nn::Rng> rngs;
  for (int s = 0; s < N; ++s) {
    pieces[s].seed = o.seed + uint64_t(s);
    pieces[s].tokens.reserve(1 + primer.size() + max_new);
    pieces[s].primer_tokens = primer.size();
    grammars.push_back(tok.grammar());
    rngs.emplace_back(pieces[s].seed);
  }
  const bool conditioned = style.model->spec().styles > 0;
  if (!conditioned && (!o.style_weights.empty() || o.style_strength))
    throw InvalidArgument(style.path.string() + " has no style rows, so it cannot be asked for a style, a blend or a strength");
  const float strength = o.style_strength.value_or(kDefaultStyleStrength);
  if (!(strength >= 0.0f && strength <= 8.0f))
    throw InvalidArgument("style strength " + std::to_string(strength) + ": use 0..8 (1 = as trained)");
  // Style strength other than 1: each piece has a twin stream in the all-styles blend, fed the same
  // tokens, and the logits sampled are twin + strength x (styled - twin) (classifier-free guidance).
  const bool guided = conditioned && strength != 1.0f;
  const int streams = guided ? 2 * N : N;
  nn::Stepper stepper(*style.model, streams, nn::LstmBackend::fast, o.precision, o.device);
  if (conditioned) {  // every stream in the asked style or blend (else all equally)
    const std::vector<float> w = o.style_weights.empty() ? style_weights(style.styles, "") : o.style_weights;
    const std::vector<float> all = style_weights(style.styles, "");
    for (int s = 0; s < streams; ++s) stepper.set_style(s, s < N ? w : all);
  }
  std::vector<int32_t> input(static_cast<size_t>(streams));
  std::vector<float> mixed(guided ? size_t(N) * V : 0);
  std::span<const float> logits;
  auto step = [&] {
    const std::span<const float> z = stepper.step(input);
    if (!guided) return z;
    for (size_t k = 0; k < mixed.size(); ++k) {
      const float twin = z[mixed.size() + k];
      mixed[k] = twin + strength * (z[k] - twin);
    }
    return std::span<const float>(mixed);
  };
  auto feed = [&](int32_t token) {  // the same token into every stream (BOS and the primer)
    for (int s = 0; s < N; ++s) {
      try {
        grammars[s]->advance(token);
      } catch (const InvalidArgument& e) {
        throw InvalidArgument("primer: token " + tok.vocab().name(token) + " is not well-formed here (" + e.what() + ")");
      }
      pieces[s].tokens.push_back(token);
    }
    std::fill(input.begin(), input.end(), token);
    logits = step();
  };
  feed(kBosToken);
  for (int32_t t : primer) feed(t);

  NoteSequence primer_seq;
  if (!primer.empty()) primer_seq = tok.decode(pieces[0].tokens).seq;
  const int primer_bars = int(std::count(primer.begin(), primer.end(), bar_token));
  auto finish = [&](ComposedPiece& p) {
    DecodeResult r = tok.decode(p.tokens);
    p.repairs = r.repairs;
    int64_t shift = 0;
    p.seq = primer.empty() || o.keep_primer ? std::move(r.seq) : drop_primer(std::move(r.seq), primer_seq, shift);
    // The bar line after the last bar asked: the (bars+1)-th BAR composed (the first opens bar 1).
    const size_t closing = size_t(primer_bars + o.bars);
    if (o.bars > 0 && r.bar_ticks.size() > closing) p.end_tick = r.bar_ticks[closing] - shift;
  };
  std::vector<int> bars_seen(N, 0);

  PitchShape pitch_shape(tok.token_kinds(), o.pitch_temperature);
  std::vector<uint8_t> mask(V), done(N, 0);
  int live = N;
  for (size_t i = 0; i < max_new && live > 0; ++i) {
    for (int s = 0; s < N; ++s) {
      if (done[s]) {
        input[s] = kPadToken;
        continue;
      }
      grammars[s]->legal_next(mask);
      mask[kEosToken] = 0;  // the piece runs for the length asked
      if (std::find(mask.begin(), mask.end(), 1) == mask.end()) {  // only EOS was left
        done[s] = 1, --live;
        input[s] = kPadToken;
        continue;
      }
      std::span<const float> row = logits.subspan(size_t(s) * V, V);
      if (pitch_shape.active()) row = pitch_shape.apply(row, mask);
      const int32_t t = sampler.sample(row, rngs[s], mask);
      grammars[s]->advance(t);
      pieces[s].tokens.push_back(t);
      input[s] = t;
      if (o.bars > 0 && t == bar_token && ++bars_seen[s] > o.bars) done[s] = 1, --live;
    }
    if (o.seconds > 0 && o.bars <= 0 && (i + 1) % 32 == 0)
      for (int s = 0; s < N; ++s)
        if (!done[s]) {
          finish(pieces[s]);
          if (pieces[s].seq.total_time >= o.seconds) done[s] = 1, --live;
        }
    if (guided) std::copy_n(input.begin(), N, input.begin() + N);  // the twins read what was sampled
    if (live > 0 && i + 1 < max_new) logits = step();
  }
  for (ComposedPiece& p : pieces) {
    finish(p);
    if (o.seconds > 0 && o.bars <= 0) p.seq = truncate_seconds(std::move(p.seq), o.seconds);
  }
  return pieces;
}

}  // namespace etude
