// The corpus subcommands of `etude`: `corpus DIR` (a folder -> cached training corpus, with the
// files used and skipped) and `tokenize FILE` (one file's tokens, optionally decoded back to MIDI).
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/commands.hpp"
#include "base/error.hpp"
#include "base/input_text.hpp"
#include "corpus/corpus.hpp"
#include "music/midi_convert.hpp"
#include "tokenize/tokenizer.hpp"

namespace etude::app {
namespace {

using nlohmann::json;

json parse_config(const std::string& text) {
  if (text.empty()) return json::object();
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw InvalidArgument("--config: not JSON (" + json_error_text(e) + "), e.g. --config '{\"bars\":true}'");
  }
}

json corpus_json(const Corpus& c, const Tokenizer& tok) {
  json files = json::array();
  for (const auto& p : c.pieces)
    files.push_back({{"path", p.path}, {"style", c.styles[static_cast<size_t>(p.style)]}, {"split", split_name(p.split)},
                     {"tokens", p.tokens.size()}, {"notes", p.notes}, {"seconds", p.seconds}});
  for (const auto& s : c.skipped) files.push_back({{"path", s.path}, {"skipped", true}, {"reason", s.reason}});
  return {{"folder", c.root.string()},
          {"tokenizer", tok.name()},
          {"tokenizer_config", tok.config()},
          {"vocab_size", tok.vocab_size()},
          {"styles", c.styles},
          {"files_used", c.pieces.size()},
          {"files_skipped", c.skipped.size()},
          {"train", {{"pieces", c.piece_count(Split::train)}, {"tokens", c.token_count(Split::train)}}},
          {"validation", {{"pieces", c.piece_count(Split::validation)}, {"tokens", c.token_count(Split::validation)}}},
          {"ngram", {{"n", c.ngrams.n()}, {"entries", c.ngrams.size()}}},
          {"cache", {{"path", c.cache_path.string()}, {"reused", c.from_cache}, {"note", c.cache_note},
                     {"shards", c.store ? c.store->shard_count() : 0}}},
          {"seconds", c.seconds},
          {"files", std::move(files)}};
}

void print_corpus(const Corpus& c, const Tokenizer& tok) {
  std::printf("folder:      %s\n", c.root.string().c_str());
  std::printf("files:       %zu used, %zu skipped, %zu styles\n", c.pieces.size(), c.skipped.size(), c.styles.size());
  std::printf("tokenizer:   %s, vocabulary %d\n", tok.name().c_str(), tok.vocab_size());
  std::printf("train:       %zu pieces, %zu tokens\n", c.piece_count(Split::train), c.token_count(Split::train));
  std::printf("validation:  %zu pieces, %zu tokens\n", c.piece_count(Split::validation), c.token_count(Split::validation));
  std::printf("n-grams:     n=%d, %zu entries\n", c.ngrams.n(), c.ngrams.size());
  std::printf("cache:       %s (%s)%s%s\n", c.cache_path.string().c_str(), c.from_cache ? "reused" : "built",
              c.cache_note.empty() ? "" : ": ", c.cache_note.c_str());
  std::printf("shards:      %zu (%s.shard-%016llx-NNNN)\n", c.store ? c.store->shard_count() : 0,
              c.cache_path.string().c_str(), static_cast<unsigned long long>(c.build_id));
  for (const auto& s : c.skipped) std::printf("skipped:     %s: %s\n", s.path.c_str(), s.reason.c_str());
  std::printf("seconds:     %.3f\n", c.seconds);
}

void run_tokenize(const std::string& file, const std::string& name, const std::string& config, bool as_json,
                  const std::string& roundtrip) {
  NoteSequence seq = load_note_sequence(file);
  auto tok = make_tokenizer(json{{"name", name}, {"config", parse_config(config)}});
  const bool fitted_here = tok->needs_fit();
  if (fitted_here) {
    const NoteSequence* one[] = {&seq};
    tok->fit(one);
  }
  auto tokens = tok->encode(seq);
  DecodeResult decoded;
  if (!roundtrip.empty()) {
    decoded = tok->decode(tokens);
    save_note_sequence(decoded.seq, roundtrip);
  }
  if (as_json) {
    json names = json::array();
    for (int32_t t : tokens) names.push_back(tok->vocab().name(t));
    json j{{"file", file}, {"tokenizer", tok->name()}, {"config", tok->config()}, {"vocab_size", tok->vocab_size()},
           {"fitted_on_this_file", fitted_here}, {"notes", seq.notes.size()}, {"tokens", tokens}, {"names", names}};
    if (!roundtrip.empty())
      j["roundtrip"] = {{"file", roundtrip}, {"notes", decoded.seq.notes.size()}, {"repairs", decoded.repairs}};
    std::cout << j.dump() << "\n";
    return;
  }
  std::printf("%s: %zu notes -> %zu tokens (%s, vocabulary %d%s)\n", file.c_str(), seq.notes.size(), tokens.size(),
              tok->name().c_str(), tok->vocab_size(), fitted_here ? ", fitted on this file" : "");
  for (size_t i = 0; i < tokens.size(); ++i)
    std::printf("%s%s", tok->vocab().name(tokens[i]).c_str(), (i + 1) % 16 == 0 || i + 1 == tokens.size() ? "\n" : " ");
  if (!roundtrip.empty())
    std::printf("roundtrip:   %s, %zu notes, %d repairs\n", roundtrip.c_str(), decoded.seq.notes.size(), decoded.repairs);
}

}  // namespace

void add_corpus_commands(CLI::App& app) {
  struct CorpusArgs {
    std::string dir, out, config;
    CorpusOptions options;
    bool json = false, rebuild = false;
  };
  auto args = std::make_shared<CorpusArgs>();
  auto* corpus = app.add_subcommand("corpus", "Turn a folder of MIDI files into a cached training corpus");
  corpus->add_option("dir", args->dir, "Folder of MIDI files; each first-level subfolder is a style")->required();
  corpus->add_option("--tokenizer,-t", args->options.tokenizer, "notes | seed | events | beats")->capture_default_str();
  corpus->add_option("--config", args->config, "Tokenizer config as JSON, e.g. '{\"bars\":true}'");
  corpus->add_option("--out,-o", args->out, "Cache file (default: under $XDG_CACHE_HOME/etude or ~/.cache/etude)");
  corpus->add_option("--validation", args->options.validation_fraction, "Share of pieces held out (0..0.5)")->capture_default_str();
  corpus->add_option("--ngram", args->options.ngram, "n of the pitch n-gram index")->capture_default_str();
  corpus->add_option("--threads", args->options.threads, "Worker threads (0: all cores)")->capture_default_str();
  corpus->add_flag("--lenient", args->options.lenient, "Read damaged MIDI files leniently instead of skipping them");
  corpus->add_flag("--rebuild", args->rebuild, "Ignore a valid cache and build again");
  corpus->add_flag("--json", args->json, "Print JSON: totals and every file with its style, split and tokens");
  corpus->callback([args] {
    CorpusOptions options = args->options;
    options.tokenizer_config = parse_config(args->config);
    options.cache = args->out;
    options.use_cache = !args->rebuild;
    Corpus c = load_or_build_corpus(args->dir, options);
    auto tok = make_tokenizer(c.tokenizer);
    if (args->json) {
      std::cout << corpus_json(c, *tok).dump(1) << "\n";
    } else {
      print_corpus(c, *tok);
    }
    if (c.pieces.empty())
      throw FormatError(args->dir + ": no usable MIDI file (" + std::to_string(c.skipped.size()) +
                        " skipped); see the reasons above");
  });

  struct TokenizeArgs {
    std::string file, tokenizer = "events", config, roundtrip;
    bool json = false;
  };
  auto targs = std::make_shared<TokenizeArgs>();
  auto* tokenize = app.add_subcommand("tokenize", "Show the tokens of one MIDI file (and decode them back)");
  tokenize->add_option("file", targs->file, "MIDI file")->required();
  tokenize->add_option("--tokenizer,-t", targs->tokenizer, "notes | seed | events | beats")->capture_default_str();
  tokenize->add_option("--config", targs->config, "Tokenizer config as JSON");
  tokenize->add_option("--roundtrip", targs->roundtrip, "Decode the tokens back and write this MIDI file");
  tokenize->add_flag("--json", targs->json, "Print JSON: token ids and names");
  tokenize->callback([targs] { run_tokenize(targs->file, targs->tokenizer, targs->config, targs->json, targs->roundtrip); });
}

}  // namespace etude::app
