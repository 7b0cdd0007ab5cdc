// Composing for `etude serve`; see serve_compose.hpp.
#include "app/serve_compose.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string_view>

#include "app/serve_http.hpp"
#include "base/error.hpp"
#include "compose/ending.hpp"
#include "compose/originality.hpp"
#include "compose/style_blend.hpp"
#include "compose/style_temperature.hpp"
#include "music/midi_convert.hpp"
#include "music/spelling.hpp"
#include "render/score.hpp"
#include "render/wav.hpp"

namespace etude::app::serve {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
double ms(double seconds) { return std::round(seconds * 1000) / 1000; }

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// A file name part made of the style (or blend): letters, digits, '.', '_' and '-' only.
std::string slug(const std::string& text) {
  std::string out;
  for (char c : text) {
    const bool keep = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
    if (keep) out += c;
    else if (!out.empty() && out.back() != '-') out += '-';
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "piece" : out.substr(0, 80);
}

// A field of the request table, checked (400 naming it and its range); its default when absent.
std::optional<double> number(const json& body, const RequestNumber& f) {
  if (f.integer) {
    const auto v = integer_field(body, f.name, int64_t(f.min), int64_t(f.max));
    return v ? std::optional<double>(double(*v)) : f.absent;
  }
  const auto v = number_field(body, f.name, f.min, f.max);
  return v ? v : f.absent;
}

// A float default or limit as people write it (0.95, not 0.949999988079071).
double shortest(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.7g", v);
  return std::strtod(text, nullptr);
}
}  // namespace

json request_numbers_json(size_t max_tokens) {
  json fields = json::object();
  for (const RequestNumber& f : request::kNumbers) {
    const double max = std::string_view(f.name) == request::kLength.name ? std::min(f.max, double(max_tokens)) : f.max;
    json j{{"min", f.integer ? json(int64_t(f.min)) : json(shortest(f.min))},
           {"max", f.integer ? json(int64_t(max)) : json(shortest(max))}, {"integer", f.integer}};
    if (f.absent) j["default"] = f.integer ? json(int64_t(*f.absent)) : json(shortest(*f.absent));
    fields[f.name] = std::move(j);
  }
  return {{"fields", std::move(fields)}};
}

ComposeService::ComposeService(StyleCatalog& catalog, const fs::path& state, const ComposeLimits& limits)
    : catalog_(catalog),
      pool_(limits.workers, limits.queue),
      render_pool_(limits.workers, limits.queue),
      models_(limits.models),
      primers_(state / "primers", limits.primers),
      pieces_(state / "pieces", limits.pieces),
      max_tokens_(limits.tokens) {}

json ComposeService::compose(const json& body) {
  const auto style = string_field(body, "style"), run = string_field(body, "run"), model = string_field(body, "model");
  if (run && model) throw HttpError(400, "give \"model\" (a model file) or \"run\" (a training run), not both");
  if (!style && !run && !model)
    throw HttpError(400, "give \"style\" (a style or a blend from /api/styles, e.g. Chopin or Chopin:0.7,Pop:0.3), "
                         "\"model\" or \"run\" (a training run)");
  StyleTarget target;
  json about;
  if (run) {
    const std::string checkpoint = string_field(body, "checkpoint").value_or("best");
    target.file = catalog_.run_file(check_name(*run, "run"), check_name(checkpoint, "checkpoint"));
    target.model = *run;
    about = {{"run", *run}, {"checkpoint", checkpoint}};
  } else if (model) {
    target.file = catalog_.style_file(check_name(*model, "model"));
    target.model = *model;
  } else {
    target = catalog_.resolve(*style);
  }
  if (run || model) {
    target.styles = catalog_.styles_of(target.file);
    if (style) target.blend = check_style_text(*style, "style");
  }
  about["style"] = style.value_or(target.model);
  about["model"] = target.model;
  // The blend is checked against the model's rows before the request waits for a worker.
  auto weights_of = [&](const std::vector<std::string>& styles) {
    if (styles.empty()) {
      if (!target.blend.empty())
        throw HttpError(400, "style: " + target.model + " is a model without style rows; compose with it without "
                             "\"style\" (known styles: " + catalog_.known_styles() + ")");
      return std::vector<float>{};
    }
    try {
      return style_weights(styles, target.blend);
    } catch (const InvalidArgument& e) {
      const std::string what = e.what();
      throw HttpError(400, what.find("knows:") != std::string::npos
                               ? what.substr(0, what.find("; this model knows:")) + "; " + target.model + " knows: " + join(styles)
                               : what + "; " + target.model + " knows: " + join(styles));
    }
  };
  if (!target.styles.empty() || !target.blend.empty()) {
    const auto w = weights_of(target.styles);
    if (!w.empty()) about["blend"] = describe_blend(target.styles, w);
  }
  using namespace request;
  const auto strength = number_field(body, kStyleStrength.name, kStyleStrength.min, kStyleStrength.max);
  ComposeOptions o;
  const auto length = number(body, kLength);
  const auto seconds = number_field(body, kSeconds.name, kSeconds.min, kSeconds.max);
  if (length && seconds) throw HttpError(400, "give \"length\" (tokens) or \"seconds\", not both");
  if (length && *length > double(max_tokens_))
    throw HttpError(400, "length: this server composes at most " + std::to_string(max_tokens_) + " tokens a piece");
  if (length) o.length = int(*length);
  // What the piece is made into after composing: key, tempo and (with seconds, the default) an
  // ending on a beat.
  PieceFinish finish;
  finish.tempo = number(body, kTempo).value_or(0);
  finish.seconds = length ? 0 : seconds.value_or(*kSeconds.absent);
  if (const auto key = string_field(body, "key"); key && !key->empty()) {
    try {
      finish.key = parse_key(*key);
    } catch (const InvalidArgument& e) {
      throw HttpError(400, std::string("key: ") + e.what());
    }
  }
  o.max_tokens = max_tokens_;  // seconds mode: bounded work per request, whatever the model plays
  o.sampling.temperature = float(*number(body, kTemperature));
  const auto pitch_temperature = number(body, kPitchTemperature);
  o.sampling.top_p = float(*number(body, kTopP));
  if (o.sampling.top_p <= 0) throw HttpError(400, "top_p: must be in (0, 1] (1 keeps every token)");
  o.sampling.top_k = int(*number(body, kTopK));
  o.count = int(*number(body, kCount));
  o.seed = uint64_t(integer_field(body, kSeed.name, int64_t(kSeed.min), int64_t(kSeed.max))
                        .value_or(int64_t(std::random_device{}() % 1000000)));
  o.primer_seconds = *number(body, kPrimerSeconds);
  if (o.primer_seconds == 0) o.primer_seconds = kPrimerSecondsMax;
  if (auto primer = string_field(body, "primer")) {
    if (!valid_id(*primer, "pr")) throw HttpError(400, "primer: \"" + primer->substr(0, 40) + "\" is not a primer id (pr-...)");
    o.primer = primers_.load(*primer);
    if (!o.primer) throw HttpError(404, "unknown primer " + *primer + " (upload it again with POST /api/primers)");
  }
  json pieces = json::array();
  const bool ran = pool_.run([&] {
    std::shared_ptr<const StyleModel> model;
    try {
      model = models_.get(target.file);
    } catch (const Error& e) {
      throw HttpError(500, "the model file of " + target.model + " could not be loaded: " + e.what());
    }
    o.style_weights = weights_of(model->styles);  // the loaded file's own rows (it may have changed)
    json about_model = about;
    about_model.erase("blend");
    if (!o.style_weights.empty()) {
      about_model["blend"] = describe_blend(model->styles, o.style_weights);
      if (strength) o.style_strength = float(*strength);
      about_model["style_strength"] = o.style_strength.value_or(kDefaultStyleStrength);
    }
    // "pitch_temperature" absent: the style's calibrated one, as `etude compose` does.
    o.pitch_temperature = pitch_temperature ? float(*pitch_temperature)
                                            : style_pitch_temperature(model->pitch_temperatures, o.style_weights)
                                                  .value_or(kDefaultPitchTemperature);
    about_model["pitch_temperature"] = std::round(o.pitch_temperature * 1000) / 1000;
    if (finish.seconds > 0) o.seconds = seconds_to_compose(finish.seconds, finish.tempo, model->tokenizer->config().value("qpm", 120.0));
    for (ComposedPiece& p : etude::compose(*model, o)) {
      FinishedPiece done;
      p.seq = finish_piece(std::move(p.seq), finish, &done);
      json about_piece = about_model;
      if (finish.key) about_piece["key_asked"] = finish.key->name();
      about_piece["key"] = done.key.name();
      if (done.ending) about_piece["ending"] = {{"kind", ending_kind_name(done.ending->kind)}, {"final_onset", ms(done.ending->final_time)}};
      about_piece["tempo"] = p.seq.tempos.empty() ? 120.0 : std::round(p.seq.tempos.front().qpm() * 100) / 100;
      pieces.push_back(keep(p, *model, about_piece)->info);
    }
  });
  if (!ran) throw HttpError(503, "the server is composing as much as it can; try again in a second");
  return {{"pieces", pieces}};
}

std::shared_ptr<Piece> ComposeService::keep(const ComposedPiece& p, const StyleModel& model, const json& about) {
  auto piece = std::make_shared<Piece>();
  piece->id = make_id("pc");
  const std::string style = about.contains("blend") ? about["blend"] : about["style"];
  piece->download_name = "etude-" + slug(style) + "-" + std::to_string(p.seed);
  fs::create_directories(pieces_.dir() / piece->id);
  piece->dir = pieces_.dir() / piece->id;
  save_note_sequence(p.seq, piece->dir / "piece.mid");
  const std::span<const int32_t> composed = std::span(p.tokens).subspan(1 + p.primer_tokens);
  const OriginalityReport r =
      make_report(p.seq, composed, *model.tokenizer, model.ngrams ? &*model.ngrams : nullptr, p.repairs);
  json roll = json::array();
  for (const Note& n : p.seq.notes) roll.push_back({n.pitch, ms(n.start), ms(n.end), n.velocity});
  const std::string base = "/api/pieces/" + piece->id + "/";
  piece->info = about;
  piece->info.update({{"id", piece->id}, {"seed", p.seed}, {"tokens", composed.size()}, {"primer_tokens", p.primer_tokens},
                      {"notes", p.seq.notes.size()},
                      {"seconds", ms(p.seq.total_time)}, {"repairs", p.repairs}, {"summary", report_line(r)},
                      {"report", report_to_json(r)}, {"roll", std::move(roll)},
                      {"files", {{"midi", base + "piece.mid"}, {"wav", base + "piece.wav"}, {"pdf", base + "score.pdf"},
                                 {"svg", base + "score.svg"}, {"musicxml", base + "score.musicxml"},
                                 {"report", base + "report.json"}}}});
  pieces_.add(piece);
  return piece;
}

json ComposeService::add_primer(const httplib::Request& req) {
  if (request_bytes(req) > kPrimerMax + 64 * 1024)
    throw HttpError(413, "a primer upload is at most 1 MiB (this request has " + std::to_string(request_bytes(req)) + " bytes)");
  const auto files = form_files(req, "file");
  if (files.size() != 1) throw HttpError(400, "send one MIDI file as the multipart/form-data field \"file\"");
  if (files[0]->content.size() > kPrimerMax) throw HttpError(413, "a primer MIDI file is at most 1 MiB");
  return primers_.add(files[0]->content, files[0]->filename);
}

std::shared_ptr<Piece> ComposeService::piece(const std::string& id) {
  std::shared_ptr<Piece> p = valid_id(id, "pc") ? pieces_.find(id) : nullptr;
  if (!p) throw HttpError(404, "no piece " + id.substr(0, 40) + " (pieces are kept for a while; compose it again)");
  return p;
}

fs::path ComposeService::file(Piece& piece, const std::string& name) {
  if (name != "piece.mid" && name != "piece.wav" && name != "score.pdf" && name != "score.svg" && name != "score.musicxml")
    throw HttpError(404, "a piece has piece.mid, piece.wav, score.pdf, score.svg, score.musicxml and report.json");
  const fs::path path = piece.dir / name;
  // One render per piece at a time; a second request for it gets 503 instead of piling up.
  std::unique_lock lock(piece.render, std::try_to_lock);
  if (!lock) throw HttpError(503, "this piece is being rendered; try again in a second");
  if (fs::exists(path)) return path;
  const bool ran = render_pool_.run([&] {
    try {
      const NoteSequence seq = load_note_sequence(piece.dir / "piece.mid");
      if (name == "piece.wav") render_wav(seq, path);
      else {
        const json& i = piece.info;  // the composer line says the style (or blend) and the seed, as `etude compose`'s
        const std::string by = "Etude, " + i.value("blend", i.value("style", std::string())) + " style, seed " +
                               std::to_string(i.value("seed", uint64_t{0}));
        ScoreOptions score;
        score.title = piece.download_name;
        score.composer = by;
        render_score(seq, path, score);
      }
    } catch (const Error& e) {
      throw HttpError(500, "could not render " + name + ": " + e.what());
    }
  });
  if (!ran) throw HttpError(503, "the server is rendering as much as it can; try again in a second");
  return path;
}

}  // namespace etude::app::serve
