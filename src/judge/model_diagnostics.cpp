// The model diagnostics of the judge; see model_diagnostics.hpp. One inference forward per held-out
// piece over a batch of one row per style (every row the same tokens), in the CPU engine.
#include "judge/model_diagnostics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <numeric>

#include "base/error.hpp"
#include "base/names.hpp"
#include "music/key.hpp"

namespace etude::judge {
namespace fs = std::filesystem;

namespace {

// The MIDI pitch of every single-pitch token (PITCH_n, NOTE_ON_n), -1 for the rest.
std::vector<int> token_pitches(const Tokenizer& tokenizer) {
  std::vector<int> out(size_t(tokenizer.vocab_size()), -1);
  for (int32_t id = 0; id < tokenizer.vocab_size(); ++id)
    for (const char* prefix : {"PITCH_", "NOTE_ON_"}) {
      const std::string& name = tokenizer.vocab().name(id);
      if (name.starts_with(prefix)) out[size_t(id)] = std::atoi(name.c_str() + std::strlen(prefix));
    }
  return out;
}

double in_scale_share(const NoteSequence& seq, uint16_t mask) {
  size_t in = 0, all = 0;
  for (const Note& n : seq.notes) {
    if (n.is_drum) continue;
    ++all;
    in += (mask >> (n.pitch % 12)) & 1;
  }
  return all ? double(in) / double(all) : 0.0;
}
}  // namespace

ModelDiagnostics diagnose_model(const nn::Model& model, const Tokenizer& tokenizer,
                                const std::vector<std::string>& style_names, const std::vector<fs::path>& roots,
                                const DiagnosticsOptions& options) {
  const std::vector<int> pitch_of = token_pitches(tokenizer);
  if (std::all_of(pitch_of.begin(), pitch_of.end(), [](int p) { return p < 0; }))
    throw InvalidArgument("the model's tokenizer (" + tokenizer.name() +
                          ") has no single-pitch tokens, so its key diagnostic cannot be measured");
  const nn::ModelSpec& spec = model.spec();
  const int S = spec.styles, V = spec.vocab;
  if (S > 0 && int(style_names.size()) != S) throw InvalidArgument("diagnose: style names do not match the model's rows");
  nn::Model net(spec);
  std::copy(model.params().begin(), model.params().end(), net.params().begin());
  std::copy(model.buffers().begin(), model.buffers().end(), net.buffers().begin());
  const nlohmann::json tok_json = tokenizer.to_json();

  ModelDiagnostics out;
  std::map<std::string, size_t> style_total, style_right, style_pieces, style_seen;
  std::vector<Corpus> corpora;
  for (const fs::path& root : roots) {
    CorpusOptions o;
    o.tokenizer = tok_json.value("name", "");
    o.tokenizer_config = tok_json.value("config", nlohmann::json::object());
    o.validation_fraction = options.validation_fraction;
    o.threads = options.threads;
    corpora.push_back(load_or_build_corpus(root, o));
    if (corpora.back().tokenizer != tok_json)
      throw InvalidArgument(root.string() + ": tokenizes to another vocabulary than the model's; give the folders it was trained on");
    for (const Piece& p : corpora.back().pieces) ++style_pieces[lower_ascii(corpora.back().styles[size_t(p.style)])];
  }
  // The candidates of identification: the rows of styles with enough pieces (chance 1 in their count).
  std::vector<int> candidates;
  for (int r = 0; r < S; ++r)
    if (style_pieces[lower_ascii(style_names[size_t(r)])] >= options.min_style_pieces) candidates.push_back(r);
  out.candidates = candidates.size();
  for (size_t k = 0; k < roots.size(); ++k) {
    const fs::path& root = roots[k];
    const Corpus& corpus = corpora[k];
    for (const Piece& p : corpus.pieces) {
      if (p.split != Split::validation || p.tokens.size() < 3) continue;
      const std::string& style = corpus.styles[size_t(p.style)];
      if (++style_seen[style] > options.max_pieces_per_style) continue;
      const int own = S > 0 ? find_name(style_names, style) : -1;
      if (S > 0 && own < 0) continue;  // a style the model has no row for
      const size_t n = std::min(p.tokens.size() - 1, options.max_tokens);
      const int B = std::max(S, 1), T = int(n);
      std::vector<int32_t> tokens(size_t(B) * T), styles(S > 0 ? size_t(B) * T : 0);
      for (int b = 0; b < B; ++b) {
        std::copy_n(p.tokens.begin(), n, tokens.begin() + size_t(b) * T);
        if (S > 0) std::fill_n(styles.begin() + size_t(b) * T, T, b);
      }
      net.prepare(B, T);
      net.forward(tokens.data(), false, S > 0 ? styles.data() : nullptr);
      const std::span<const float> logits = net.logits();  // [T][B][V]

      PieceDiagnosis d;
      d.path = root.filename().string() + "/" + p.path, d.style = style;
      const NoteSequence seq = tokenizer.decode(std::span(p.tokens).first(n + 1)).seq;
      const KeyEstimate key = estimate_key(seq);
      const uint16_t mask = scale_mask(key.tonic, key.minor);
      d.key = key.name();
      d.piece_in_key = in_scale_share(seq, mask);
      std::vector<double> loss(size_t(B), 0.0);
      double in_key = 0;
      for (int t = 0; t < T; ++t) {
        const int32_t target = p.tokens[size_t(t) + 1];
        for (int b = 0; b < B; ++b) {
          const float* z = logits.data() + (size_t(t) * B + size_t(b)) * V;
          const float mx = *std::max_element(z, z + V);
          double sum = 0, pitch = 0, in = 0;
          for (int k = 0; k < V; ++k) {
            const double e = std::exp(double(z[k] - mx));
            sum += e;
            if (pitch_of[size_t(k)] >= 0) {
              pitch += e;
              if ((mask >> (pitch_of[size_t(k)] % 12)) & 1) in += e;
            }
          }
          loss[size_t(b)] += std::log(sum) + mx - z[target];
          if (b == std::max(own, 0) && pitch_of[size_t(target)] >= 0 && pitch > 0) {
            in_key += in / pitch;
            ++d.pitch_positions;
          }
        }
      }
      d.model_in_key = d.pitch_positions ? in_key / double(d.pitch_positions) : 0.0;
      if (S > 0 && !candidates.empty()) {
        int best = candidates[0];
        for (int r : candidates)
          if (loss[size_t(r)] < loss[size_t(best)]) best = r;
        d.identified = style_names[size_t(best)];
        d.own_loss = loss[size_t(own)] / T, d.best_loss = loss[size_t(best)] / T;
        ++style_total[lower_ascii(style)];
        style_right[lower_ascii(style)] += best == own;
      }
      out.pieces.push_back(std::move(d));
    }
  }
  double sum = 0;
  for (const PieceDiagnosis& d : out.pieces)
    if (d.piece_in_key >= options.min_piece_in_key) sum += d.model_in_key, ++out.in_key_pieces;
  out.in_key_mean = out.in_key_pieces ? sum / double(out.in_key_pieces) : 0.0;
  for (int r : candidates) {
    const std::string key = lower_ascii(style_names[size_t(r)]);
    if (!style_total.count(key)) continue;  // no held-out piece read
    const double acc = double(style_right[key]) / double(style_total[key]);
    out.identification[style_names[size_t(r)]] = acc;
    out.identification_mean += acc;
  }
  out.identification_styles = out.identification.size();
  if (out.identification_styles) out.identification_mean /= double(out.identification_styles);
  return out;
}

}  // namespace etude::judge
