// Registers `etude compose` (a style model -> MIDI pieces, with audio, score and originality
// report) and `etude styles` (the installed models and their cards).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "app/commands.hpp"
#include "base/error.hpp"
#include "base/file_io.hpp"
#include "base/names.hpp"
#include "compose/composer.hpp"
#include "compose/ending.hpp"
#include "compose/style_blend.hpp"
#include "compose/style_temperature.hpp"
#include "compose/originality.hpp"
#include "generate/pitch_shape.hpp"
#include "music/midi_convert.hpp"
#include "music/sequence_ops.hpp"
#include "music/spelling.hpp"
#include "nn/trainer.hpp"
#include "render/score.hpp"
#include "render/wav.hpp"

namespace etude::app {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

// A default or limit as the help prints it ("2", "0.05").
std::string number_text(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", v);
  return text;
}

// OUT.mid for one piece; OUT-1.mid, OUT-2.mid ... for several.
fs::path numbered(const fs::path& path, int i, int count) {
  if (count == 1 || path.empty()) return path;
  fs::path p = path;
  return p.replace_filename(path.stem().string() + "-" + std::to_string(i + 1) + path.extension().string());
}

struct ComposeArgs {
  std::string model, style, models, out, primer, wav, soundfont = kDefaultSoundfont, score, report;
  ComposeOptions compose;
  double tempo = 0;
  int program = -1;
  std::string key;  // "D minor": each piece is moved to this key (its estimate's tonic on the asked one)
  double seconds = 0;  // the piece's length as played (the default when no length is given)
  int bars = 0;
  bool length_given = false, seconds_given = false, bars_given = false;
  bool pitch_temperature_given = false;  // else a conditioned model's calibrated one for the style, if it has one
  int threads = 0;
  std::string device = "cpu", precision = "f32";  // cpu: composing on the GPU has not been timed
};

void check_length(ComposeArgs& a) {
  const int given = int(a.length_given) + int(a.seconds_given) + int(a.bars_given);
  if (given > 1) throw InvalidArgument("compose: give one of --length (tokens), --seconds or --bars");
  if (a.seconds_given && !(a.seconds > 0 && a.seconds <= kMaxSeconds)) {
    char text[96];
    std::snprintf(text, sizeof text, "compose: --seconds %g: give a length above 0 and at most %g seconds", a.seconds,
                  kMaxSeconds);
    throw InvalidArgument(text);
  }
  if (a.bars_given && !(a.bars > 0 && a.bars <= kMaxBars))
    throw InvalidArgument("compose: --bars " + std::to_string(a.bars) + ": give 1.." + std::to_string(kMaxBars) + " bars");
  if (given == 0) a.seconds = kDefaultPieceSeconds;
}

void run_compose(ComposeArgs& a) {
  if (!a.key.empty()) parse_key(a.key);  // a bad key is refused before composing
  check_length(a);
  a.compose.precision = nn::parse_precision(a.precision);
  a.compose.device = nn::choose_device(nn::parse_device(a.device), a.compose.precision);  // no GPU: exit 2 now
  if (a.model.empty() && a.style.empty()) throw InvalidArgument("compose: give --style NAME or --model FILE");
  // --style alone: an installed model of that name, or the style rows of one; with --model, a style
  // or blend inside that model.
  const StyleChoice choice = a.model.empty() ? resolve_style(models_dir(a.models), a.style) : StyleChoice{a.model, a.style};
  const fs::path model_path = choice.model;
  if (!a.score.empty()) check_score_path(a.score);  // before composing, not after
  const StyleModel style = load_style_model(model_path);
  print_warnings(style.warnings);
  if (style.styles.empty() && !choice.blend.empty())
    throw InvalidArgument(model_path.string() + " has no style rows; compose with it without --style");
  // A model file found by its name that also has a row of that name (a fine-tuned style exported
  // under its own name): that row, not every row.
  const std::string blend = choice.blend.empty() && a.model.empty() && find_name(style.styles, a.style) >= 0 ? a.style : choice.blend;
  if (!style.styles.empty()) a.compose.style_weights = style_weights(style.styles, blend);
  // No --pitch-temperature: the style's calibrated one (etude.pitch_temperatures), a blend's weighted mean.
  if (!a.pitch_temperature_given)
    if (const auto t = style_pitch_temperature(style.pitch_temperatures, a.compose.style_weights)) a.compose.pitch_temperature = *t;
  nn::set_compute_threads(a.threads);
  if (!a.primer.empty()) a.compose.primer = load_note_sequence(a.primer);
  a.compose.bars = a.bars;
  if (a.seconds > 0) a.compose.seconds = seconds_to_compose(a.seconds, a.tempo, style.tokenizer->config().value("qpm", 120.0));
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<ComposedPiece> pieces = compose(style, a.compose);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  const std::string style_text = style.styles.empty() ? "" : describe_blend(style.styles, a.compose.style_weights);
  if (!style_text.empty())
    std::printf("style: %s (%s), pitch temperature %.3g%s\n", style_text.c_str(), model_path.filename().string().c_str(),
                a.compose.pitch_temperature, a.pitch_temperature_given ? "" : " (the style's)");
  json report{{"model", model_path.string()}, {"tokenizer", style.tokenizer->name()}, {"compose_ms", ms},
              {"style", style_text},
              {"settings", {{"temperature", a.compose.sampling.temperature}, {"pitch_temperature", a.compose.pitch_temperature},
                            {"top_k", a.compose.sampling.top_k},
                            {"top_p", a.compose.sampling.top_p}, {"greedy", a.compose.sampling.greedy},
                            {"precision", a.precision}, {"device", nn::device_name(a.compose.device)},
                            {"length", a.length_given ? json(a.compose.length) : json()}, {"seconds", a.seconds},
                            {"bars", a.bars}, {"primer", a.primer}}},
              {"pieces", json::array()}};
  size_t tokens = 0;
  const int count = int(pieces.size());
  for (int i = 0; i < count; ++i) {
    ComposedPiece& p = pieces[i];
    PieceFinish finish;
    if (!a.key.empty()) finish.key = parse_key(a.key);
    finish.tempo = a.tempo;
    finish.seconds = a.seconds;
    finish.end_tick = a.bars > 0 ? p.end_tick : -1;
    if (a.bars > 0 && p.end_tick < 0) finish.seconds = p.seq.total_time;  // the bars were not all composed
    FinishedPiece done;
    p.seq = finish_piece(std::move(p.seq), finish, &done);
    const KeyEstimate& reached = done.key;
    if (a.program >= 0) p.seq = set_program(std::move(p.seq), a.program);
    const fs::path out = numbered(a.out, i, count);
    save_note_sequence(p.seq, out);
    if (!a.wav.empty()) render_wav(p.seq, numbered(a.wav, i, count), {.soundfont = a.soundfont});
    if (!a.score.empty()) {
      const std::string by = "Etude, " + (style_text.empty() ? model_path.stem().string() : style_text) + " style, seed " +
                             std::to_string(p.seed);
      ScoreOptions score;
      score.title = out.stem().string();
      score.composer = by;
      render_score(p.seq, numbered(a.score, i, count), score);
    }
    const std::span<const int32_t> composed = std::span(p.tokens).subspan(1 + p.primer_tokens);
    tokens += composed.size();
    const OriginalityReport r = make_report(p.seq, composed, *style.tokenizer, style.ngrams ? &*style.ngrams : nullptr, p.repairs);
    json j = report_to_json(r);
    j["file"] = out.string();
    j["seed"] = p.seed;
    if (!a.key.empty()) j["key_asked"] = parse_key(a.key).name(), j["key_reached"] = reached.name();
    std::string ends;
    if (done.ending) {
      const Ending& e = *done.ending;
      j["ending"] = {{"kind", ending_kind_name(e.kind)}, {"final_onset", e.final_time}, {"end", e.end_time},
                     {"beats_per_minute", p.seq.tempos.empty() ? 120.0 : p.seq.tempos.front().qpm()}};
      char buf[96];
      std::snprintf(buf, sizeof buf, "; ends at %.2f s (%s from %.2f s)", e.end_time, ending_kind_name(e.kind), e.final_time);
      ends = buf;
    }
    report["pieces"].push_back(std::move(j));
    const std::string moved = a.key.empty() ? "" : "; moved to " + reached.name() + " (asked " + parse_key(a.key).name() + ")";
    std::printf("%s (seed %llu): %s%s%s\n", out.string().c_str(), (unsigned long long)p.seed, report_line(r).c_str(),
                moved.c_str(), ends.c_str());
  }
  std::printf("composed %zu tokens in %.0f ms (%d piece%s)\n", tokens, ms, count, count == 1 ? "" : "s");
  if (!a.report.empty()) write_file_atomic(a.report, report.dump(2) + "\n");
}

void run_styles(const std::string& models, bool as_json) {
  const fs::path dir = models_dir(models);
  const std::vector<StyleEntry> styles = list_styles(dir);
  json all = json::array();
  for (const StyleEntry& s : styles) {
    json j{{"name", s.name}, {"path", s.path.string()}, {"tokenizer", s.tokenizer}, {"card", s.card},
           {"styles", s.styles}};
    if (!s.error.empty()) j["error"] = s.error;
    all.push_back(j);
    if (as_json) continue;
    if (!s.error.empty()) {
      std::printf("%-20s unreadable: %s\n", s.name.c_str(), s.error.c_str());
      continue;
    }
    const json& c = s.card;
    std::string trained_on = c.contains("styles") && c["styles"].is_array() ? "" : "?";
    for (const auto& name : c.value("styles", json::array())) trained_on += (trained_on.empty() ? "" : ",") + name.get<std::string>();
    std::printf("%-20s style %s, tokenizer %s, validation loss %s, trained %.0f s (%s epochs)\n", s.name.c_str(),
                trained_on.c_str(), s.tokenizer.c_str(),
                c.contains("val_loss") ? std::to_string(c["val_loss"].get<double>()).c_str() : "?",
                c.value("seconds", 0.0), c.contains("epoch") ? c["epoch"].dump().c_str() : "?");
    if (!s.styles.empty()) {
      std::string rows;
      for (const auto& r : s.styles) rows += (rows.empty() ? "" : ", ") + r;
      std::printf("%-20s styles (--style NAME or a blend NAME:0.7,NAME:0.3): %s\n", "", rows.c_str());
    }
    // A shipped model's card (etude.card, written by `etude export`): preset, epoch and why, license.
    const json card = c.value("model_card", json::object());
    if (card.is_object() && !card.empty()) {
      auto text = [&](const char* key) -> std::string {
        if (!card.contains(key)) return "?";
        return card[key].is_string() ? card[key].get<std::string>() : card[key].dump();
      };
      std::printf("%-20s card: preset %s, %s weights, epoch %s of %s: %s; license %s\n", "", text("preset").c_str(),
                  text("storage").c_str(), text("epoch").c_str(), text("epochs_trained").c_str(), text("why").c_str(),
                  text("license").c_str());
    }
  }
  if (as_json) std::printf("%s\n", all.dump(2).c_str());
  else if (styles.empty()) std::printf("no models in %s (train one with `etude train`)\n", dir.string().c_str());
}

}  // namespace

void add_compose_commands(CLI::App& app) {
  auto a = std::make_shared<ComposeArgs>();
  CLI::App* c = app.add_subcommand("compose", "Compose new pieces with a trained style model");
  ComposeOptions& o = a->compose;
  c->add_option("--model", a->model, "model file (.safetensors) written by `etude train`");
  c->add_option("--style", a->style, "an installed style (see `etude styles`), or a blend of one model's styles: "
                                     "chopin:0.7,pop:0.3; with --model, a style or blend inside that model");
  c->add_option("--models", a->models, "models folder (default $ETUDE_MODELS, else the project's models/)");
  c->add_option("--out", a->out, "output MIDI file (OUT-1.mid, OUT-2.mid ... with --count)")->required();
  c->add_option("--length", o.length, "tokens to compose (instead of a length in seconds)")->check(CLI::Range(1, 1000000));
  c->add_option("--seconds", a->seconds, "the piece's length as played, ending on a beat (default " +
                                             number_text(kDefaultPieceSeconds) + ")");
  c->add_option("--bars", a->bars, "compose this many bars (models whose tokenizer writes bar lines)");
  c->add_option("--temperature", o.sampling.temperature, "sampling temperature")->capture_default_str();
  c->add_option("--pitch-temperature", o.pitch_temperature, "temperature among the pitch tokens alone (below 1: more tonal; "
                                                             "the chance of a pitch, so rhythm, unchanged); default: the "
                                                             "style's calibrated value (`etude styles`), else 1")
      ->check(CLI::Range(kMinPitchTemperature, kMaxPitchTemperature));
  c->add_option("--top-k", o.sampling.top_k, "sample among the k most likely tokens (0: all)")->capture_default_str();
  c->add_option("--top-p", o.sampling.top_p, "nucleus: the smallest set holding this probability")->capture_default_str();
  c->add_flag("--greedy", o.sampling.greedy, "always the most likely token (argmax; for comparison)");
  c->add_option("--precision", a->precision,
                "LSTM weights while stepping: f32 (exact), bf16 (CPU: half the memory traffic) or f16 (CUDA)")
      ->capture_default_str();
  c->add_option("--device", a->device, "cpu; cuda or auto (cuda when usable) to step the network on the GPU")
      ->capture_default_str();
  c->add_option("--seed", o.seed, "random seed (piece i of --count uses seed + i)")->capture_default_str();
  c->add_option("--count", o.count, "pieces composed at once (batched)")
      ->capture_default_str()
      ->check(CLI::Range(1, kMaxCount));
  c->add_option("--primer", a->primer, "a MIDI file the model continues");
  c->add_option("--primer-seconds", o.primer_seconds, "use only the primer's first seconds")->check(CLI::Range(0.0, 3600.0));
  c->add_flag("--keep-primer", o.keep_primer, "begin the output with the primer");
  c->add_option("--tempo", a->tempo, "play at this tempo (BPM)")->check(CLI::Range(kMinTempo, kMaxTempo));
  c->add_option("--style-strength", o.style_strength, "conditioned models: 1 = the style as trained; above 1 it is "
                                                     "followed more strongly (guidance against the all-styles blend); "
                                                     "default " + number_text(kDefaultStyleStrength))
      ->check(CLI::Range(0.0, double(kMaxStyleStrength)));
  c->add_option("--key", a->key, "move each piece to this key, e.g. \"D minor\" (its estimated tonic onto the asked "
                                 "one; the report says the key reached)");
  c->add_option("--program", a->program, "General MIDI program (0 = piano)")->check(CLI::Range(0, kMaxProgram));
  c->add_option("--wav", a->wav, "also render audio (FluidSynth) to this WAV file");
  c->add_option("--soundfont", a->soundfont, "soundfont for --wav")->capture_default_str();
  c->add_option("--score", a->score, "also engrave sheet music (LilyPond) to .pdf, .svg or .png, or write "
                                    "MusicXML to .musicxml or .mxl (compressed)");
  c->add_option("--report", a->report, "write the originality report as JSON");
  c->add_option("--threads", a->threads, "compute threads (0 = every core; 1 is faster on a busy machine)")
      ->capture_default_str()->check(CLI::Range(0, 1024));
  c->footer("Prints one report line per piece. Exit codes: 0 written, 1 usage error, 2 missing or corrupt model, "
            "unknown style, primer that is not MIDI, bad sampling value, unwritable output or missing renderer.");
  c->callback([a, c] {
    a->length_given = c->count("--length") > 0;
    a->seconds_given = c->count("--seconds") > 0;
    a->bars_given = c->count("--bars") > 0;
    a->pitch_temperature_given = c->count("--pitch-temperature") > 0;
    run_compose(*a);
  });

  auto models = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  CLI::App* s = app.add_subcommand("styles", "List the installed style models with their cards");
  s->add_option("--models", *models, "models folder (default $ETUDE_MODELS, else the project's models/)");
  s->add_flag("--json", *as_json, "print JSON");
  s->footer("Exit codes: 0 listed (unreadable files are listed with their error), 1 usage error, 2 no such folder.");
  s->callback([models, as_json] { run_styles(*models, *as_json); });
}

std::filesystem::path models_dir(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("ETUDE_MODELS"); env && *env) return env;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec && fs::is_directory(exe.parent_path().parent_path() / "models")) return exe.parent_path().parent_path() / "models";
  return "models";
}

}  // namespace etude::app
