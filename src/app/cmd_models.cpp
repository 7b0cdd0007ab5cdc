// Registers `etude export` (a training checkpoint -> a shipped style model: bf16/f16 storage, the
// model card in the metadata, its validation loss re-measured on the stored weights) and `etude
// evaluate` (a model's validation loss on the split `etude train` used, compared with its card).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "app/commands.hpp"
#include "base/error.hpp"
#include "base/file_io.hpp"
#include "base/input_text.hpp"
#include "compose/style_model.hpp"
#include "corpus/ngram_index.hpp"
#include "compose/style_temperature.hpp"
#include "judge/model_diagnostics.hpp"
#include "judge/temperature_calibration.hpp"
#include "nn/model_io.hpp"
#include "nn/trainer.hpp"
#include "tokenize/tokenizer.hpp"
#include "train/validation.hpp"

namespace etude::app {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

json parse_meta(const nn::LoadedModel& m, const char* key, const std::string& file) {
  auto it = m.metadata.find(key);
  if (it == m.metadata.end()) return json::object();
  try {
    return json::parse(it->second);
  } catch (const json::exception& e) {
    throw FormatError(file + ": metadata " + key + " is not valid JSON (" + json_error_text(e) + "); re-export the model");
  }
}

json validation_json(const train::Validation& v, double fraction) {
  json kinds = json::object(), styles = json::array();
  for (size_t k = 1; k < v.kind_loss.size(); ++k)
    if (v.kind_loss[k] >= 0) kinds[token_kind_name(TokenKind(k))] = v.kind_loss[k];
  for (const train::StyleValidation& s : v.styles)
    styles.push_back({{"style", s.style}, {"loss", s.score.loss()}, {"accuracy", s.score.accuracy()},
                      {"pieces", s.paths}});
  json out{{"loss", v.score.loss()}, {"accuracy", v.score.accuracy()}, {"perplexity", std::exp(v.score.loss())},
           {"pieces", v.pieces}, {"tokens", v.tokens}, {"fraction", fraction}, {"windows", "non-overlapping, as in training"},
           {"note", v.note}, {"loss_by_kind", kinds}};
  if (!styles.empty()) out["styles"] = styles;
  else out["paths"] = v.paths;
  return out;
}

// Validation on the stored weights of `m` (loaded from a file, so rounded to its dtype).
train::Validation validate(nn::LoadedModel& m, const std::string& file, const std::vector<std::string>& dirs,
                           double fraction, unsigned threads) {
  auto it = m.metadata.find(nn::kMetaTokenizer);
  if (it == m.metadata.end()) throw FormatError(file + ": no etude.tokenizer in the metadata (save it with `etude train`)");
  nn::set_compute_threads(int(threads));
  const json styles = parse_meta(m, nn::kMetaStyles, file);
  std::vector<std::string> names;
  if (styles.is_array())
    for (const auto& s : styles) names.push_back(s.get<std::string>());
  return train::validate_model(m.model, parse_json_input(it->second, file + ": etude.tokenizer"), std::vector<fs::path>(dirs.begin(), dirs.end()), names,
                               fraction, threads);
}
std::string joined(const std::vector<std::string>& dirs) {
  std::string out;
  for (const auto& d : dirs) out += (out.empty() ? "" : " ") + d;
  return out;
}

struct ExportArgs {
  std::string source, out, dtype = "bf16", card;
  std::vector<std::string> corpus;
  double val_fraction = 0.1;
  int threads = 0;
  bool calibrate = false;
};

// --calibrate: each style row with a folder of its name under one of the corpus roots gets the
// pitch temperature at which its pieces are as tonal as its training pieces
// (judge/temperature_calibration), measured on the stored weights just written to a.out.
void calibrate_styles(const ExportArgs& a, json& card, std::map<std::string, std::string>& meta) {
  if (a.corpus.empty()) throw InvalidArgument("export: --calibrate needs --corpus (the styles' folders)");
  const StyleModel model = load_style_model(a.out);
  if (model.styles.empty()) throw InvalidArgument("export: --calibrate: " + a.source + " has no style rows");
  nn::set_compute_threads(a.threads);
  std::vector<judge::StyleCalibration> done;
  json details = json::object();
  for (size_t row = 0; row < model.styles.size(); ++row) {
    const std::string& name = model.styles[row];
    auto root = std::find_if(a.corpus.begin(), a.corpus.end(), [&](const std::string& r) { return fs::is_directory(fs::path(r) / name); });
    if (root == a.corpus.end()) {
      std::printf("calibrate %-14s no folder of that name under the corpus roots: left at pitch temperature 1\n", name.c_str());
      continue;
    }
    judge::ReferenceOptions ro;
    ro.split_root = *root;
    ro.validation_fraction = a.val_fraction;
    ro.threads = unsigned(a.threads);
    judge::StyleReference ref;
    try {
      ref = judge::load_style_reference(fs::path(*root) / name, ro);
    } catch (const InvalidArgument& e) {  // fewer than two usable pieces: nothing to calibrate against
      std::printf("calibrate %-14s left at pitch temperature 1: %s\n", name.c_str(), e.what());
      continue;
    }
    judge::CalibrationOptions co;
    co.threads = unsigned(a.threads);
    const judge::StyleCalibration c = judge::calibrate_temperature(model, row, ref, co);
    json tries = json::array();
    std::string line;
    for (const judge::TemperatureTry& t : c.tries) {
      tries.push_back({{"pitch_temperature", t.temperature}, {"entropy", t.entropy}});
      char buf[40];
      std::snprintf(buf, sizeof buf, " %.2f:%.2f", t.temperature, t.entropy);
      line += buf;
    }
    details[name] = {{"pitch_temperature", c.temperature}, {"target_entropy", c.target_entropy},
                     {"excerpt_notes", c.excerpt_notes}, {"slope", c.slope}, {"tries", tries}};
    std::printf("calibrate %-14s pitch temperature %.3f (training excerpts' pitch-class entropy %.2f bits; "
                "pieces' at each point:%s)\n", name.c_str(), c.temperature, c.target_entropy, line.c_str());
    done.push_back(c);
  }
  meta[kMetaPitchTemperatures] = judge::temperatures_text(done);
  const judge::CalibrationOptions co;
  card["pitch_temperatures"] = {
      {"how", "per style: the pitch temperature (the distribution among the pitch tokens allowed at a step made "
              "p^(1/T), their total kept, so durations, velocities, time steps and chord sizes stay as trained) at which the mean pitch-class entropy of pieces composed in it meets the median of "
              "excerpts of the same note count from its training pieces: " + std::to_string(co.pieces) + " pieces of " +
              std::to_string(co.tokens) + " tokens at each of " + std::to_string(co.points) +
              " points from 0.5 to 1, a least-squares line solved for the target"},
      {"styles", details}};
}

void run_export(const ExportArgs& a) {
  const nn::DType dtype = nn::parse_dtype(a.dtype);  // a typo is refused before the model is loaded
  nn::LoadedModel src = nn::load_model(a.source);
  print_warnings(src.warnings);
  json card = json::object();
  if (!a.card.empty()) {
    const std::vector<uint8_t> bytes = read_file_bytes(a.card);
    try {
      card = json::parse(bytes.begin(), bytes.end());
    } catch (const json::exception& e) {
      throw FormatError(a.card + ": not valid JSON (" + json_error_text(e) + ")");
    }
    if (!card.is_object()) throw FormatError(a.card + ": a model card is a JSON object");
  }
  card["storage"] = nn::dtype_name(dtype);
  card["parameters"] = src.model.params().size();
  card["training_record"] = parse_meta(src, nn::kMetaTraining, a.source);
  std::map<std::string, std::string> meta = src.metadata;
  meta.erase(nn::kMetaModel);
  if (auto it = meta.find(kMetaNgrams); it != meta.end()) {  // rewritten in the current (compact, 32-bit) form
    const NgramIndex read = NgramIndex::from_metadata(it->second, a.source + " (etude.ngrams)");
    NgramIndex compact(read.n());
    compact.merge(read, "");
    it->second = compact.to_metadata();
  }
  // The stored weights are what the card describes: round-trip through the file format first.
  nn::LoadedModel stored = nn::decode_model(nn::encode_model(src.model, dtype, meta), a.out);
  if (!a.corpus.empty()) {
    const train::Validation v = validate(stored, a.out, a.corpus, a.val_fraction, unsigned(a.threads));
    card["validation"] = validation_json(v, a.val_fraction);
    std::printf("validation on the stored %s weights: loss %.4f nats/token, accuracy %.3f (%zu pieces, %zu tokens)\n",
                nn::dtype_name(dtype), v.score.loss(), v.score.accuracy(), v.pieces, v.tokens);
  }
  meta[kMetaCard] = card.dump();
  nn::save_model(a.out, src.model, dtype, meta);
  if (a.calibrate) {
    calibrate_styles(a, card, meta);
    meta[kMetaCard] = card.dump();
    nn::save_model(a.out, src.model, dtype, meta);
  }
  std::printf("%s: %.2f MB (%s weights, %zu parameters)\n", a.out.c_str(), double(fs::file_size(a.out)) / 1e6,
              nn::dtype_name(dtype), src.model.params().size());
}

json diagnostics_json(const judge::ModelDiagnostics& d) {
  json pieces = json::array();
  for (const judge::PieceDiagnosis& p : d.pieces)
    pieces.push_back({{"path", p.path}, {"style", p.style}, {"key", p.key}, {"piece_in_key", p.piece_in_key},
                      {"model_in_key", p.model_in_key}, {"pitch_positions", p.pitch_positions},
                      {"identified", p.identified}, {"own_loss", p.own_loss}, {"best_loss", p.best_loss}});
  return {{"in_key_mean", d.in_key_mean}, {"in_key_pieces", d.in_key_pieces}, {"candidates", d.candidates},
          {"identification", d.identification}, {"identification_mean", d.identification_mean},
          {"pieces", pieces}};
}

// The judge's model diagnostics on the held-out pieces: key probability and composer identification.
json run_diagnose(const std::string& file, const std::vector<std::string>& dirs, double fraction, int threads,
                  size_t tokens, bool as_json) {
  const StyleModel m = load_style_model(file);
  nn::set_compute_threads(threads);
  judge::DiagnosticsOptions o;
  o.validation_fraction = fraction;
  o.threads = unsigned(threads);
  o.max_tokens = tokens;
  const judge::ModelDiagnostics d =
      judge::diagnose_model(*m.model, *m.tokenizer, m.styles, std::vector<fs::path>(dirs.begin(), dirs.end()), o);
  if (!as_json) {
    std::printf("in-key probability at pitch positions: %.3f over %zu held-out pieces at least 90%% in their key "
                "(chance 7/12 = 0.583)\n", d.in_key_mean, d.in_key_pieces);
    if (d.identification_styles) {
      std::printf("composer identification: %.3f mean over %zu styles with 10+ pieces, each piece identified among "
                  "those %zu rows (chance 1/%zu)\n",
                  d.identification_mean, d.identification_styles, d.candidates, d.candidates);
      for (const auto& [style, acc] : d.identification) std::printf("  %-14s %.3f\n", style.c_str(), acc);
    }
  }
  return diagnostics_json(d);
}

void run_evaluate(const std::string& model, const std::vector<std::string>& dirs, double fraction, bool fraction_given,
                  int threads, bool as_json, bool diagnose, size_t tokens) {
  nn::LoadedModel m = nn::load_model(model);
  print_warnings(m.warnings);
  const json card = parse_meta(m, kMetaCard, model);
  const json recorded = card.value("validation", json::object());
  if (!fraction_given) fraction = recorded.value("fraction", fraction);
  const train::Validation v = validate(m, model, dirs, fraction, unsigned(threads));
  json out = validation_json(v, fraction);
  out["model"] = model;
  out["folder"] = joined(dirs);
  if (recorded.contains("loss")) {
    out["card_loss"] = recorded["loss"];
    out["difference"] = v.score.loss() - recorded["loss"].get<double>();
  }
  if (diagnose) out["diagnostics"] = run_diagnose(model, dirs, fraction, threads, tokens, as_json);
  if (as_json) {
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  std::printf("validation loss %.4f nats/token (perplexity %.2f), accuracy %.3f over %zu pieces (%zu tokens) of %s\n",
              v.score.loss(), std::exp(v.score.loss()), v.score.accuracy(), v.pieces, v.tokens, joined(dirs).c_str());
  for (const train::StyleValidation& s : v.styles)
    std::printf("  %-14s loss %.4f, accuracy %.3f (%zu pieces)\n", s.style.c_str(), s.score.loss(), s.score.accuracy(),
                s.paths.size());
  if (out.contains("card_loss"))
    std::printf("model card: %.4f (difference %+.5f)\n", out["card_loss"].get<double>(), out["difference"].get<double>());
}

}  // namespace

void add_model_commands(CLI::App& app) {
  auto e = std::make_shared<ExportArgs>();
  CLI::App* x = app.add_subcommand("export", "Store a trained model for shipping: bf16/f16 weights, a model card, re-measured validation");
  x->add_option("SOURCE", e->source, "model file: RUN/best.safetensors or RUN/checkpoints/epoch-NNNN.safetensors")->required();
  x->add_option("--out", e->out, "the shipped file, e.g. models/my-style.safetensors")->required();
  x->add_option("--dtype", e->dtype, "weight storage: bf16, f16 or f32")->capture_default_str();
  x->add_option("--card", e->card, "model card JSON (source, license, why this epoch, ...) stored as etude.card");
  x->add_option("--corpus", e->corpus, "the folders it was trained on: measure the stored weights' validation loss into the card")
      ->expected(1, -1);
  x->add_option("--val-fraction", e->val_fraction, "the training run's --val-fraction")->capture_default_str()->check(CLI::Range(0.0, 0.5));
  x->add_option("--threads", e->threads, "compute threads (0 = every core)")->capture_default_str()->check(CLI::Range(0, 1024));
  x->add_flag("--calibrate", e->calibrate, "conditioned models: give each style with a folder under --corpus the pitch "
                                          "temperature at which its pieces are as tonal as its training pieces "
                                          "(compose's default)");
  x->footer("The card gains storage, parameters, training_record (etude.training), validation and, with --calibrate, "
            "pitch_temperatures. Exit codes: 0 written, "
            "1 usage error, 2 unreadable model or card, corpus that does not fit the model, unwritable output.");
  x->callback([e] { run_export(*e); });

  struct EvalArgs {
    std::string model;
    std::vector<std::string> dir;
    double fraction = 0.1;
    int threads = 0;
    bool json = false, diagnose = false;
    size_t tokens = 512;
  };
  auto v = std::make_shared<EvalArgs>();
  CLI::App* ev = app.add_subcommand("evaluate", "Validation loss and accuracy of a model on the split `etude train` uses");
  ev->add_option("--model", v->model, "model file (.safetensors)")->required();
  ev->add_option("DIR", v->dir, "the folders the model was trained on")->required();
  CLI::Option* fraction = ev->add_option("--val-fraction", v->fraction, "share held out (default: the card's, else 0.1)")
                              ->check(CLI::Range(0.0, 0.5));
  ev->add_option("--threads", v->threads, "compute threads (0 = every core)")->capture_default_str()->check(CLI::Range(0, 1024));
  ev->add_flag("--json", v->json, "print JSON");
  ev->add_flag("--diagnose", v->diagnose, "also: the probability put on each held-out piece's key at pitch positions, "
                                          "and composer identification by the lowest-loss style row");
  ev->add_option("--diagnose-tokens", v->tokens, "tokens read from the start of each held-out piece")
      ->capture_default_str()->check(CLI::Range(16, 1 << 20));
  ev->footer("Loss in nats per token over non-overlapping windows, as training reports it; with a model card, also "
             "the difference from the card's. Exit codes: 0 measured, 1 usage error, 2 unreadable model, folder "
             "without usable pieces or with another vocabulary.");
  ev->callback([v, fraction] {
    run_evaluate(v->model, v->dir, v->fraction, fraction->count() > 0, v->threads, v->json, v->diagnose, v->tokens);
  });
}

}  // namespace etude::app
