// libFuzzer target for the model loader: any bytes as a model file (safetensors header, tensor
// table, metadata JSON, tokenizer JSON, style names, n-gram index), read the way `etude compose`
// reads one. A clean error is fine; a crash, a leak or an unchecked vocabulary is not.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/error.hpp"
#include "compose/style_model.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace etude;
  using fuzz::require;
  static fuzz::MemFile file;
  StyleModel m;
  try {
    m = load_style_model(file.write({data, size}));
  } catch (const Error&) {
    return 0;
  }
  // What a loaded model promises the composer: vocabularies agree, every style row is named.
  require(m.tokenizer && m.model && m.tokenizer->vocab_size() == m.model->spec().vocab);
  require(int(m.styles.size()) == m.model->spec().styles);
  std::vector<uint8_t> mask(size_t(m.tokenizer->vocab_size()));
  m.tokenizer->grammar()->legal_next(mask);
  if (m.ngrams) {
    const std::vector<uint8_t> pitches{60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67};
    const double share = m.ngrams->copied_share(pitches);
    require(share >= 0 && share <= 1);
    m.ngrams->longest_copied_run(pitches);
  }
  return 0;
}
