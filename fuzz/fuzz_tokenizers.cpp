// libFuzzer target for every tokenizer's decode and grammar: the first byte picks the tokenizer
// (notes, seed, events, beats; notes and seed fitted on a short phrase), the rest are token ids
// (int16, so out-of-range and negative ids come up). decode never throws; the grammar accepts a
// token exactly when legal_next allows it, and what it accepted decodes with zero repairs.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "base/error.hpp"
#include "fuzz_common.hpp"
#include "tokenize/tokenizer.hpp"

namespace {
using namespace etude;
using fuzz::require;

std::vector<std::unique_ptr<Tokenizer>> make_all() {
  std::vector<std::unique_ptr<Tokenizer>> out;
  const std::vector<NoteSequence> pieces{fuzz::phrase()};
  for (const std::string& name : tokenizer_names()) out.push_back(fuzz::fitted_tokenizer(name, pieces));
  return out;
}

void check_decoded(const DecodeResult& r) {
  require(r.repairs >= 0);
  for (const Note& n : r.seq.notes)
    require(n.end >= n.start && n.end_tick >= n.start_tick && n.pitch >= 0 && n.pitch <= 127);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto tokenizers = make_all();
  if (size < 1) return 0;
  const Tokenizer& tok = *tokenizers[data[0] % tokenizers.size()];
  std::vector<int32_t> ids((size - 1) / 2);
  for (size_t i = 0; i < ids.size(); ++i) {
    int16_t v;
    std::memcpy(&v, data + 1 + 2 * i, 2);
    ids[i] = v;
  }
  check_decoded(tok.decode(ids));  // any exception escapes and fails the target

  // The grammar: a token is taken iff legal_next allows it; the taken stream decodes cleanly.
  const int32_t vocab = tok.vocab_size();
  auto grammar = tok.grammar();
  std::vector<uint8_t> mask(size_t(vocab), 0);
  std::vector<int32_t> taken;
  for (int32_t id : ids) {
    grammar->legal_next(mask);
    require(std::memchr(mask.data(), 1, mask.size()) != nullptr);  // some token is always allowed (PAD after EOS)
    const int32_t t = id < 0 ? id : id % (vocab + 2);  // mostly in range, sometimes just past it
    const bool legal = t >= 0 && t < vocab && mask[size_t(t)];
    try {
      grammar->advance(t);
      require(legal);
      taken.push_back(t);
    } catch (const InvalidArgument&) {
      require(!legal);
    }
  }
  const DecodeResult clean = tok.decode(taken);
  check_decoded(clean);
  require(clean.repairs == 0);
  return 0;
}
