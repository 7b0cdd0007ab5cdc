// Writes the seed inputs of the fuzz targets (`make fuzz` runs it; nothing is committed): the first
// seconds of a few pieces of the shared corpus ($ETUDE_CORPUS) as token streams, model files,
// n-gram indexes, a corpus cache of a small folder of them, and HTTP requests for the server.
// Usage: make_fuzz_seeds OUT_DIR  (writes OUT_DIR/<target>/... and OUT_DIR/cache-folder/)
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "base/file_io.hpp"
#include "corpus/corpus.hpp"
#include "fuzz_common.hpp"
#include "midi/midi_file.hpp"
#include "music/midi_convert.hpp"
#include "music/scan.hpp"
#include "music/sequence_ops.hpp"

namespace {
namespace fs = std::filesystem;
using namespace etude;

// The first `seconds` of a piece, merged to one piano part (a seed stays a few kilobytes).
NoteSequence opening(const fs::path& file, double seconds) {
  NoteSequence seq = merge_to_piano(load_note_sequence(file));
  std::erase_if(seq.notes, [&](const Note& n) { return n.end > seconds; });
  seq.total_ticks = 0, seq.total_time = 0;
  for (const Note& n : seq.notes)
    seq.total_ticks = std::max(seq.total_ticks, n.end_tick), seq.total_time = std::max(seq.total_time, n.end);
  const auto after = [&](const auto& e) { return e.tick > seq.total_ticks; };
  std::erase_if(seq.tempos, after);
  std::erase_if(seq.time_signatures, after);
  std::erase_if(seq.key_signatures, after);
  std::erase_if(seq.control_changes, after);
  std::erase_if(seq.program_changes, after);
  return seq;
}

std::string bytes_of(const std::vector<uint8_t>& b) { return std::string(b.begin(), b.end()); }

std::string request(const std::string& method, const std::string& path, const std::string& type,
                    const std::string& body) {
  std::string r = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n";
  if (!type.empty()) r += "Content-Type: " + type + "\r\n";
  if (method == "POST") r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return r + "\r\n" + body;
}

// multipart/form-data with text fields and MIDI files.
std::string multipart(const std::vector<std::pair<std::string, std::string>>& fields,
                      const std::string& file_field, const std::vector<std::string>& files) {
  std::string b;
  for (const auto& [name, value] : fields)
    b += "--XyZ\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value + "\r\n";
  for (size_t i = 0; i < files.size(); ++i)
    b += "--XyZ\r\nContent-Disposition: form-data; name=\"" + file_field + "\"; filename=\"p" + std::to_string(i) +
         ".mid\"\r\nContent-Type: audio/midi\r\n\r\n" + files[i] + "\r\n";
  return b + "--XyZ--\r\n";
}

void put(const fs::path& file, const std::string& bytes) {
  fs::create_directories(file.parent_path());
  write_file_atomic(file, std::string_view(bytes));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_fuzz_seeds OUT_DIR\n");
    return 2;
  }
  const fs::path out = argv[1];
  const char* env = std::getenv("ETUDE_CORPUS");
  const fs::path corpus = env && *env ? env : "../shared/corpora/piano-midi";
  std::vector<NoteSequence> pieces;
  std::vector<fs::path> files = find_midi_files(corpus);
  for (size_t i = 0; i < files.size() && pieces.size() < 3; i += files.size() / 3 + 1)
    pieces.push_back(opening(files[i], 6.0 + 2.0 * pieces.size()));
  if (pieces.empty()) {
    std::fprintf(stderr, "make_fuzz_seeds: no MIDI files under %s; using a built-in phrase\n", corpus.c_str());
    pieces.push_back(fuzz::phrase());
  }
  std::vector<std::string> midi;
  for (const NoteSequence& p : pieces) midi.push_back(bytes_of(write_midi(midi_from_note_sequence(p))));

  // Token streams: byte = tokenizer index in tokenizer_names(), then int16 ids (notes and seed are
  // fitted on the phrase in the target, so their streams come from it).
  const auto names = tokenizer_names();
  for (size_t t = 0; t < names.size(); ++t) {
    const bool fitted = make_tokenizer(names[t])->needs_fit();
    const std::vector<NoteSequence> source = fitted ? std::vector<NoteSequence>{fuzz::phrase()} : pieces;
    const auto tok = fuzz::fitted_tokenizer(names[t], {fuzz::phrase()});
    for (size_t i = 0; i < source.size(); ++i) {
      std::string s(1, char(t));
      const auto ids = tok->encode(source[i]);
      for (size_t k = 0; k < ids.size() && k < 400; ++k) s += char(ids[k] & 0xff), s += char((ids[k] >> 8) & 0xff);
      put(out / "fuzz_tokenizers" / (names[t] + std::to_string(i)), s);
    }
    put(out / "fuzz_model_file" / (names[t] + ".safetensors"), bytes_of(fuzz::tiny_model_file(names[t], pieces)));
  }

  NgramIndex index(4);
  for (size_t i = 0; i < pieces.size(); ++i) index.add_piece("piece" + std::to_string(i), pitch_line(pieces[i]));
  index.finish();
  put(out / "fuzz_ngram_index" / "pieces.bin", bytes_of(index.serialize()));
  put(out / "fuzz_ngram_index" / "empty.bin", bytes_of(NgramIndex().serialize()));

  // A corpus folder of two styles and its cache (the target reads the same folder).
  const fs::path folder = out / "cache-folder";
  fs::remove_all(folder);
  for (size_t i = 0; i < midi.size(); ++i) put(folder / (i % 2 ? "b" : "a") / ("p" + std::to_string(i) + ".mid"), midi[i]);
  // Its cache, built aside; the seeds are the target's inputs: 0 + the manifest, 1 + shard 0.
  const fs::path built = out / "cache-build";
  fs::remove_all(built);
  CorpusOptions options = fuzz::cache_options();
  options.cache = built / "cache.bin";
  load_or_build_corpus(folder, options);
  fs::remove_all(out / "fuzz_corpus_cache");
  for (const auto& entry : fs::directory_iterator(built)) {
    const bool manifest = entry.path().filename() == "cache.bin";
    if (!manifest && !entry.path().filename().string().ends_with("-0000")) continue;
    const std::vector<uint8_t> bytes = read_file_bytes(entry.path());
    put(out / "fuzz_corpus_cache" / (manifest ? "manifest.bin" : "shard0.bin"),
        std::string(1, manifest ? '\0' : '\1') + std::string(bytes.begin(), bytes.end()));
  }
  fs::remove_all(built);

  const fs::path serve = out / "fuzz_serve";
  put(serve / "health", request("GET", "/api/health", "", ""));
  put(serve / "styles", request("GET", "/api/styles", "", ""));
  put(serve / "runs", request("GET", "/api/runs", "", ""));
  put(serve / "data", request("GET", "/api/data", "", ""));
  put(serve / "page", request("GET", "/", "", ""));
  put(serve / "piece", request("GET", "/api/pieces/pc-0123456789abcdef/piece.mid", "", ""));
  put(serve / "plot", request("GET", "/api/runs/r1/plots/loss.png", "", ""));
  put(serve / "stop", request("POST", "/api/runs/r1/stop", "", ""));
  put(serve / "compose_fields", request("GET", "/api/compose", "", ""));
  put(serve / "compose", request("POST", "/api/compose", "application/json",
                                 R"({"style": "tiny", "length": 24, "seed": 3, "temperature": 0.9, "top_k": 8})"));
  put(serve / "compose_model", request("POST", "/api/compose", "application/json",
                                       R"({"model": "tiny", "seconds": 5, "count": 2, "primer": "pr-0123456789abcdef"})"));
  put(serve / "compose_blend", request("POST", "/api/compose", "application/json",
                                       R"({"style": "tiny:0.5,tiny:0.5", "style_strength": 1.5, "length": 16})"));
  put(serve / "compose_key", request("POST", "/api/compose", "application/json",
                                     R"({"style": "tiny", "seconds": 6, "key": "F# minor", "tempo": 90, "top_p": 0.8})"));
  const std::string form = "multipart/form-data; boundary=XyZ";
  put(serve / "primer", request("POST", "/api/primers", form, multipart({}, "file", {midi[0]})));
  put(serve / "run_files", request("POST", "/api/runs", form,
                                   multipart({{"name", "r1"}, {"preset", "small"}, {"tokenizer", "beats"}, {"epochs", "1"},
                                              {"minutes", "0.5"}, {"batch", "4"}, {"seq", "32"}},
                                             "files", midi)));
  put(serve / "run_folder", request("POST", "/api/runs", form, multipart({{"name", "r2"}, {"folder", "empty"}, {"from", "tiny"}}, "files", {})));
  std::printf("make_fuzz_seeds: seeds from %zu pieces of %s written to %s\n", pieces.size(), corpus.c_str(), out.c_str());
  return 0;
}
