// libFuzzer target for the n-gram index reader (the bytes inside a model file's etude.ngrams and
// a corpus cache): any bytes; an index that reads answers queries and survives a round trip.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/error.hpp"
#include "corpus/ngram_index.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace etude;
  using fuzz::require;
  NgramIndex index;
  try {
    index = NgramIndex::deserialize({data, size}, "fuzz");
  } catch (const Error&) {
    return 0;
  }
  const std::vector<uint8_t> pitches{60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62, 60};
  const double share = index.copied_share(pitches, 4);
  require(share >= 0 && share <= 1);
  const CopiedRun run = index.longest_copied_run(pitches);
  require(run.length <= pitches.size() && (run.length == 0 || size_t(run.piece) < index.pieces().size()));
  const NgramIndex again = NgramIndex::deserialize(index.serialize(), "again");
  require(again.size() == index.size() && again.pieces() == index.pieces() && again.n() == index.n());
  return 0;
}
