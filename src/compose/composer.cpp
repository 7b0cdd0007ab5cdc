// Composing (see composer.hpp): options checked and turned into generate/'s sampling loop (the
// primer's tokens, the length, bars or seconds that end a stream), then each stream decoded.
#include "compose/composer.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "base/error.hpp"
#include "music/sequence_ops.hpp"

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
  if (o.count < 1 || o.count > kMaxCount) throw InvalidArgument("compose: --count must be 1.." + std::to_string(kMaxCount));
  if (o.seconds < 0 || o.seconds > kMaxSeconds)
    throw InvalidArgument("compose: --seconds must be 0.." + std::to_string(int(kMaxSeconds)));
  if (o.bars < 0 || o.bars > kMaxBars) throw InvalidArgument("compose: --bars must be 1.." + std::to_string(kMaxBars));
  const Tokenizer& tok = *style.tokenizer;
  const int32_t bar_token = tok.bar_token();
  if (o.bars > 0 && bar_token < 0)
    throw InvalidArgument("compose: --bars needs a model whose tokenizer writes bar lines; " + style.path.filename().string() +
                          "'s " + tok.name() + " tokenizer has none (use --seconds)");
  nn::validate_sampling(o.sampling);
  const bool conditioned = style.model->spec().styles > 0;
  if (!conditioned && (!o.style_weights.empty() || o.style_strength))
    throw InvalidArgument(style.path.string() + " has no style rows, so it cannot be asked for a style, a blend or a strength");
  StreamOptions so;
  so.sampling = o.sampling, so.pitch_temperature = o.pitch_temperature, so.seed = o.seed, so.count = o.count;
  so.style_strength = o.style_strength.value_or(kDefaultStyleStrength);
  so.precision = o.precision, so.device = o.device;
  if (!(so.style_strength >= 0.0f && so.style_strength <= kMaxStyleStrength))
    throw InvalidArgument("style strength " + std::to_string(so.style_strength) + ": use 0.." +
                          std::to_string(int(kMaxStyleStrength)) + " (1 = as trained)");
  if (!o.style_weights.empty()) so.style_weights = {o.style_weights};
  if (o.primer) so.primer = primer_tokens(tok, o);
  const std::vector<int32_t>& primer = so.primer;
  // In seconds mode the length is a cap (dense piano needs well under 200 tokens a second).
  so.max_new = o.seconds <= 0 && o.bars <= 0 ? size_t(o.length)
               : o.max_tokens > 0            ? o.max_tokens
               : o.bars > 0                  ? size_t(o.bars) * 400 + 500
                                             : size_t(o.seconds * 200) + 500;
  if (o.bars > 0) so.end_token = bar_token, so.end_count = o.bars + 1;  // the bar line closing the last bar

  std::vector<int32_t> bos_primer{kBosToken};
  bos_primer.insert(bos_primer.end(), primer.begin(), primer.end());
  const NoteSequence primer_seq = primer.empty() ? NoteSequence{} : tok.decode(bos_primer).seq;
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
  const bool by_seconds = o.seconds > 0 && o.bars <= 0;
  if (by_seconds)
    so.long_enough = [&](int, const std::vector<int32_t>& tokens) {
      ComposedPiece p;
      p.tokens = tokens;
      finish(p);
      return p.seq.total_time >= o.seconds;
    };

  std::vector<std::vector<int32_t>> streams = sample_streams(*style.model, tok, so);
  std::vector<ComposedPiece> pieces(streams.size());
  for (size_t s = 0; s < pieces.size(); ++s) {
    ComposedPiece& p = pieces[s];
    p.seed = o.seed + uint64_t(s);
    p.tokens = std::move(streams[s]);
    p.primer_tokens = primer.size();
    finish(p);
    if (by_seconds) p.seq = truncate_seconds(std::move(p.seq), o.seconds);
  }
  return pieces;
}

}  // namespace etude
