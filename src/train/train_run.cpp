// The training loop behind `etude train`; see train_run.hpp. Everything random in an epoch (the
// transpositions, the window offset and order, dropout masks) is drawn from generators seeded by
// (seed, epoch, rollbacks), so a run resumed after a crash repeats exactly what an uninterrupted one
// would do. A stop (Ctrl-C, the time limit) saves the epoch in progress as done, marked partial.
#include "train/train_run.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <optional>
#include <random>

#include "base/error.hpp"
#include "base/file_io.hpp"
#include "base/json_text.hpp"
#include "corpus/augment.hpp"
#include "corpus/corpus.hpp"
#include "corpus/hash.hpp"
#include "nn/model_io.hpp"
#include "nn/optimizer.hpp"
#include "nn/trainer.hpp"
#include "train/batches.hpp"
#include "train/copy_measure.hpp"
#include "train/plots.hpp"
#include "train/run_state.hpp"
#include "train/validation.hpp"

namespace etude::train {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
uint64_t mix(uint64_t seed, uint64_t epoch, uint64_t salt) {
  return nn::Rng::hash(seed * 0x9e3779b97f4a7c15ULL + nn::Rng::hash(epoch * 0x10001ULL + salt));
}

struct Data {
  Corpus corpus;
  std::unique_ptr<Tokenizer> tokenizer;
  std::vector<const Piece*> train, val;
  std::vector<int32_t> val_stream;
  std::string identity, note;
  size_t train_tokens = 0;
};

void check_writable(const fs::path& out) {
  std::error_code ec;
  fs::create_directories(out / "checkpoints", ec);
  if (ec) throw IoError("--out " + out.string() + ": cannot create the run folder (" + ec.message() +
                        "); pick a writable place");
  try {
    write_file_atomic(out / ".write-test", "ok");
    fs::remove(out / ".write-test", ec);
  } catch (const IoError& e) {
    throw IoError("--out " + out.string() + ": cannot write there (" + e.what() + "); pick a writable place");
  }
}

Data load_data(const TrainConfig& c) {
  if (!fs::is_directory(c.corpus_dir))
    throw IoError(c.corpus_dir.string() + ": not a folder; give etude train a folder of MIDI files");
  CorpusOptions o;
  o.tokenizer = c.tokenizer;
  o.tokenizer_config = c.tokenizer_config;
  o.validation_fraction = c.val_fraction;
  o.threads = unsigned(std::max(c.threads, 0));
  o.cache = c.cache;
  Data d;
  d.corpus = load_or_build_corpus(c.corpus_dir, o);
  if (d.corpus.pieces.empty()) {
    const std::string why = d.corpus.skipped.empty()
                                ? "it holds no MIDI files (.mid, .midi)"
                                : std::to_string(d.corpus.skipped.size()) + " MIDI files, none usable (" +
                                      d.corpus.skipped[0].path + ": " + d.corpus.skipped[0].reason + ")";
    throw InvalidArgument(c.corpus_dir.string() + ": nothing to train on: " + why +
                          "; point etude train at a folder of MIDI files");
  }
  d.tokenizer = make_tokenizer(d.corpus.tokenizer);
  PieceSplit split = split_pieces(d.corpus, c.corpus_dir);
  d.train = std::move(split.train), d.val = std::move(split.val), d.note = std::move(split.note);
  uint64_t h = fnv1a(corpus_options_key(o));
  for (const auto* group : {&d.train, &d.val})
    for (const Piece* p : *group) {
      h = fnv1a(p->path, h);
      h = fnv1a(std::span(reinterpret_cast<const uint8_t*>(p->tokens.data()), p->tokens.size() * 4), h);
    }
  d.val_stream = validation_stream(d.val);
  for (const Piece* p : d.train) d.train_tokens += p->tokens.size();
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  d.identity = d.tokenizer->name() + ":" + std::to_string(d.train.size()) + "+" + std::to_string(d.val.size()) +
               " pieces:" + hex;
  return d;
}

nn::ModelSpec make_spec(const TrainConfig& c, int vocab) {
  nn::ModelSpec s;
  if (c.model_json.is_null()) {
    s = nn::preset_spec(c.preset, vocab);
  } else {
    json j = c.model_json;
    if (!j.contains("vocab")) j["vocab"] = vocab;
    s = nn::parse_model_spec(j);
    if (s.vocab != vocab)
      throw InvalidArgument("--config: \"vocab\" is " + std::to_string(s.vocab) + " but the tokenizer has " +
                            std::to_string(vocab) + " tokens; leave \"vocab\" out of the file");
  }
  if (c.batch > 0) s.batch = c.batch;
  if (c.seq > 0) s.window = c.seq;
  if (c.lr > 0) s.optimizer.lr = float(c.lr);
  nn::validate_model_spec(s);
  return s;
}

// The training stream of one epoch: every training piece, randomly transposed when asked.
std::vector<int32_t> epoch_stream(const Data& d, const TrainConfig& c, std::mt19937_64& rng) {
  std::vector<int32_t> s;
  s.reserve(d.train_tokens + d.train_tokens / 8);
  const AugmentOptions ao{.min_semitones = c.transpose_min, .max_semitones = c.transpose_max};
  const bool augment = c.transpose_min != 0 || c.transpose_max != 0;
  for (const Piece* p : d.train) {
    if (!augment) {
      s.insert(s.end(), p->tokens.begin(), p->tokens.end());
      continue;
    }
    const std::vector<int32_t> t = augment_tokens(*d.tokenizer, p->tokens, ao, rng);
    s.insert(s.end(), t.begin(), t.end());
  }
  return s;
}

// Why a step looks like divergence ("" when it does not): a non-finite loss or gradient norm, a
// loss far worse than guessing, or a loss or gradient-norm spike over this epoch's recent steps.
std::string divergence(double loss, double norm, const std::vector<double>& losses,
                       const std::vector<double>& norms, int vocab) {
  char buf[160];
  if (!std::isfinite(loss)) return std::isnan(loss) ? "loss is NaN" : "loss is infinite";
  if (!std::isfinite(norm)) return "gradient norm is not finite";
  const double chance = std::log(double(vocab));
  if (loss > 3 * chance) {
    std::snprintf(buf, sizeof buf, "loss %.3g is far above chance level (%.3g)", loss, chance);
    return buf;
  }
  constexpr size_t kWindow = 50, kWarm = 20;
  auto recent_mean = [&](const std::vector<double>& v) {
    const size_t n = std::min(v.size(), kWindow);
    return std::accumulate(v.end() - long(n), v.end(), 0.0) / double(n);
  };
  if (losses.size() >= kWarm && loss > 2 * recent_mean(losses) + 0.5) {
    std::snprintf(buf, sizeof buf, "loss spike %.3g (recent mean %.3g)", loss, recent_mean(losses));
    return buf;
  }
  if (norms.size() >= kWarm && norm > 100 * recent_mean(norms) && recent_mean(norms) > 0) {
    std::snprintf(buf, sizeof buf, "gradient-norm spike %.3g (recent mean %.3g)", norm, recent_mean(norms));
    return buf;
  }
  return "";
}

bool all_finite(std::span<const float> v) {
  return std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); });
}

struct Snapshot {  // the last good state, in memory, for rollbacks
  std::vector<float> params, buffers, optimizer;
};

std::string epoch_name(int epoch) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "epoch-%04d.safetensors", epoch);
  return buf;
}

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

void add_event(std::string& events, const std::string& e) { events += (events.empty() ? "" : "; ") + e; }

json summary_json(const TrainConfig& c, const Data& d, const nn::Model& model, const RunState& st, const json& device,
                  const std::string& stop_reason, const std::string& pending_events = "") {
  const Corpus& k = d.corpus;
  size_t val_tokens = d.val_stream.size();
  json best = nullptr, last = nullptr;
  double tps = 0;
  for (const EpochRow& r : st.history) {
    if (r.epoch == st.best_epoch)
      best = {{"epoch", r.epoch}, {"val_loss", r.val_loss}, {"val_accuracy", r.val_accuracy},
              {"val_perplexity", std::exp(r.val_loss)}, {"train_loss", r.train_loss},
              {"why", "lowest validation loss (nats per token) of the " + std::to_string(st.history.size()) +
                          " epochs; best.safetensors holds it"}};
    tps += r.tokens_per_second / double(st.history.size());
  }
  if (!st.history.empty()) last = st.history.back();
  return {{"corpus", {{"folder", fs::absolute(c.corpus_dir).string()}, {"files_used", k.pieces.size()},
                      {"files_skipped", k.skipped.size()}, {"styles", k.styles},
                      {"train", {{"pieces", d.train.size()}, {"tokens", d.train_tokens}}},
                      {"validation", {{"pieces", d.val.size()}, {"tokens", val_tokens}}},
                      {"tokenizer", d.tokenizer->name()}, {"vocab", d.tokenizer->vocab_size()},
                      {"ngram", {{"n", k.ngrams.n()}, {"entries", k.ngrams.size()}}}, {"note", d.note},
                      {"cache", k.cache_path.string()}}},
          {"model", {{"preset", c.model_json.is_null() ? c.preset : "custom"}, {"parameters", model.params().size()},
                     {"spec", nn::model_spec_to_json(model.spec())}}},
          {"config", config_to_json(c)},
          {"device", device},  // this session's
          {"epochs_done", st.epoch},
          {"stop_reason", stop_reason},
          {"best", best},
          {"last", last},
          {"seconds", st.seconds},
          {"tokens_per_second", tps},
          {"rollbacks", st.rollbacks},
          {"lr_scale", st.lr_scale},
          {"events_after_last_epoch", pending_events}};  // rollbacks of an epoch that never completed
}

}  // namespace

TrainResult run_training(TrainConfig c, const ProgressFn& progress, const std::function<bool()>& stop_requested) {
  const auto t_session = Clock::now();
  auto note = [&](const std::string& m) {
    TrainProgress p;
    p.kind = TrainProgress::Kind::event;
    p.message = m;
    progress(p);
  };
  const fs::path state_path = c.out / kStateFile;
  const bool has_state = fs::exists(state_path);
  if (c.resume && !has_state)
    throw InvalidArgument("--resume: " + c.out.string() + " holds no " + kStateFile +
                          " to resume; run without --resume to start training there");
  if (!c.resume && has_state)
    throw InvalidArgument("--out " + c.out.string() + " already holds a training run; add --resume to continue it "
                          "or pick another --out");
  std::optional<LoadedState> loaded;
  if (c.resume) {
    loaded.emplace(load_run_state(state_path));
    const TrainConfig runtime = c;
    try {
      config_from_json(loaded->state.config, c);  // the run's own settings; only these stay from the command
    } catch (const json::exception& e) {
      throw FormatError(state_path.string() + ": stored settings are damaged (" + e.what() + ")");
    }
    c.corpus_dir = runtime.corpus_dir;  // the data may have moved; its identity is checked below
    c.threads = runtime.threads;
    c.max_minutes = runtime.max_minutes;
    c.cache = runtime.cache;
    if (runtime.epochs > 0) c.epochs = runtime.epochs;  // 0: the run's own; more extends a finished run
  }
  c.corpus_dir = fs::absolute(c.corpus_dir);
  // Device and precision are the session's (not stored): resolved first, so a missing GPU is
  // reported before anything is loaded or written.
  const nn::Precision precision = nn::parse_precision(c.precision);
  const nn::DeviceChoice choice = nn::parse_device(c.device);
  const nn::Device device = nn::choose_device(choice, precision);
  const std::string gpu = device == nn::Device::cuda ? nn::cuda_status().name : "";
  const std::string device_label = gpu.empty() ? nn::device_name(device) : std::string("cuda (") + gpu + ")";
  const json device_json{{"device", nn::device_name(device)}, {"gpu", gpu}, {"precision", c.precision}};
  check_writable(c.out);
  nn::set_compute_threads(c.threads);
  const Data d = load_data(c);
  if (!d.note.empty()) note(d.note);
  note("training on " + device_label + ", " + c.precision +
       (device == nn::Device::cpu && choice == nn::DeviceChoice::automatic
            ? " (CUDA not used: " + nn::why_cpu(choice, precision) + ")"
            : ""));
  if (loaded && loaded->state.corpus_identity != d.identity)
    throw InvalidArgument("--resume: " + c.out.string() + " was trained on other data (" +
                          loaded->state.corpus_identity + ", now " + d.identity +
                          "); the files or tokenizer changed, so start a new run with another --out");

  nn::Model model = loaded ? std::move(loaded->model) : nn::Model(make_spec(c, d.tokenizer->vocab_size()));
  if (!loaded) model.init_random(c.seed);
  const nn::ModelSpec spec = model.spec();
  const int B = spec.batch, T = spec.window, V = spec.vocab;
  const size_t stride = window_stride(spec);
  if (d.train_tokens < size_t(T) + 1 || d.val_stream.size() < size_t(T) + 1)
    throw InvalidArgument(c.corpus_dir.string() + ": too little music for windows of " + std::to_string(T + 1) +
                          " tokens (training " + std::to_string(d.train_tokens) + ", validation " +
                          std::to_string(d.val_stream.size()) + " tokens); use a smaller --seq or more files");

  RunState st;
  if (loaded) st = std::move(loaded->state);
  else st.config = config_to_json(c), st.corpus_identity = d.identity;
  auto make_optimizer = [&](std::span<const float> state) {
    nn::OptimizerSpec o = spec.optimizer;
    o.lr = float(o.lr * st.lr_scale);
    nn::Optimizer opt(o, spec.schedule, spec.clip, model.params().size());
    if (state.size() == opt.state().size()) std::copy(state.begin(), state.end(), opt.state().begin());
    opt.set_steps_done(st.steps);
    return opt;
  };
  nn::Trainer trainer(model, B, T,
                      make_optimizer(loaded ? std::span<const float>(loaded->optimizer) : std::span<const float>()),
                      {.precision = precision, .device = device});
  loaded.reset();
  Snapshot good;
  auto take_snapshot = [&] {
    good = {{model.params().begin(), model.params().end()},
            {model.buffers().begin(), model.buffers().end()},
            {trainer.optimizer().state().begin(), trainer.optimizer().state().end()}};
  };
  take_snapshot();

  const std::string tokenizer_json = d.corpus.tokenizer.dump(), ngrams_text = d.corpus.ngrams.to_metadata();
  auto model_meta = [&](const EpochRow& r) {
    const json card{{"epoch", r.epoch}, {"val_loss", r.val_loss}, {"val_accuracy", r.val_accuracy},
                    {"train_loss", r.train_loss}, {"best_epoch", st.best_epoch},
                    {"corpus", fs::absolute(c.corpus_dir).string()}, {"styles", d.corpus.styles},
                    {"train_pieces", d.train.size()}, {"validation_pieces", d.val.size()},
                    {"tokenizer", d.tokenizer->name()}, {"preset", c.model_json.is_null() ? c.preset : "custom"},
                    {"seed", c.seed}, {"seconds", st.seconds}, {"copied_share", r.copied_share},
                    {"device", device_label}, {"precision", c.precision}};
    return std::map<std::string, std::string>{
        {nn::kMetaTokenizer, tokenizer_json}, {nn::kMetaTraining, utf8_dump(card)}, {kMetaNgrams, ngrams_text}};
  };

  const double limit_s = c.max_minutes > 0 ? c.max_minutes * 60 : 0;
  std::string stop_reason = "completed", pending, plot_note;
  int consecutive = 0;
  std::vector<int32_t> tokens(size_t(B) * T), targets(size_t(B) * T);
  std::vector<double> losses, norms;
  double epoch_seconds = 0;  // the last epoch's, for the ETA
  while (st.epoch < c.epochs) {
    const int epoch = st.epoch + 1;
    const auto t_epoch = Clock::now();
    std::mt19937_64 rng(mix(c.seed, uint64_t(epoch), uint64_t(st.rollbacks)));
    trainer.seed_dropout(mix(c.seed, uint64_t(epoch), 0xd509 + uint64_t(st.rollbacks)));
    const std::vector<int32_t> stream = epoch_stream(d, c, rng);
    std::vector<size_t> starts =
        window_starts(stream.size(), T, stride, spec.mode == nn::Mode::seq2seq ? size_t(rng() % size_t(T)) : 0);
    if (starts.empty()) starts = window_starts(stream.size(), T, stride, 0);
    std::shuffle(starts.begin(), starts.end(), rng);
    const int64_t batches = std::max<int64_t>(1, int64_t(starts.size()) / B);
    Score score;
    std::string diverged;
    int64_t done = 0, skipped = 0;
    losses.clear();
    norms.clear();
    for (int64_t b = 0; b < batches; ++b) {
      if (stop_requested()) { stop_reason = "interrupted"; break; }
      if (limit_s > 0 && since(t_session) > limit_s) { stop_reason = "time limit"; break; }
      const size_t first = size_t(b) * size_t(B), used = std::min(size_t(B), starts.size() - first);
      fill_batch(stream, std::span(starts).subspan(first, used), B, T, spec.mode, tokens.data(), targets.data());
      const double loss = trainer.forward_backward(tokens.data(), targets.data());
      trainer.add_score(targets.data(), int(used), score);
      const nn::StepStats s = trainer.update();
      ++done;
      // A skipped step (f16: the loss scale overflowed and was halved) made no update: only a
      // non-finite loss counts against it, and its gradient norm stays out of the spike window.
      diverged = s.skipped ? (std::isfinite(loss) ? "" : "loss is not finite") : divergence(loss, s.grad_norm, losses, norms, V);
      if (!diverged.empty()) break;
      if (s.skipped) {
        ++skipped;
      } else {
        losses.push_back(loss);
        norms.push_back(s.grad_norm);
      }
      TrainProgress p;
      p.epoch = epoch, p.epochs = c.epochs, p.batch = done, p.batches = batches;
      p.loss = score.loss();
      p.tokens_per_second = double(done) * B * T / since(t_epoch);
      const double per_epoch = epoch_seconds > 0 ? epoch_seconds : since(t_epoch) / double(done) * double(batches);
      p.eta_seconds = since(t_epoch) / double(done) * double(batches - done) + per_epoch * (c.epochs - epoch);
      if (limit_s > 0) p.eta_seconds = std::min(p.eta_seconds, limit_s - since(t_session));
      progress(p);
    }
    const double train_seconds = since(t_epoch);
    if (done == 0) break;
    Score val;
    if (diverged.empty()) {
      val = evaluate(trainer, d.val_stream, stride);
      trainer.sync_to_host();  // what follows (checks, snapshot, files, sample) reads the host copies
      if (!std::isfinite(val.loss()) || !all_finite(model.params()) || !all_finite(model.buffers()) ||
          !all_finite(trainer.optimizer().state()))
        diverged = "validation loss, weights or optimizer state not finite";
    }
    if (!diverged.empty()) {  // roll back to the last good state with a smaller learning rate
      std::copy(good.params.begin(), good.params.end(), model.params().begin());
      std::copy(good.buffers.begin(), good.buffers.end(), model.buffers().begin());
      ++st.rollbacks;
      ++consecutive;
      st.lr_scale *= c.lr_cut;
      trainer.set_optimizer(make_optimizer(good.optimizer));  // uploads the restored model too
      char buf[256];
      std::snprintf(buf, sizeof buf, "rollback in epoch %d at batch %lld: %s; learning rate cut to %.3g", epoch,
                    static_cast<long long>(done), diverged.c_str(), double(spec.optimizer.lr * st.lr_scale));
      add_event(pending, buf);
      note(buf);
      if (consecutive > c.max_rollbacks) { stop_reason = "diverged"; break; }
      continue;
    }
    consecutive = 0;
    EpochRow row{.epoch = epoch, .train_loss = score.loss(), .train_accuracy = score.accuracy(),
                 .val_loss = val.loss(), .val_accuracy = val.accuracy(),
                 .lr = nn::scheduled_lr(spec.optimizer, spec.schedule, trainer.optimizer().steps_done() - 1) * st.lr_scale,
                 .tokens_per_second = double(done) * B * T / train_seconds, .events = pending};
    pending.clear();
    if (device != nn::Device::cpu || precision != nn::Precision::f32) add_event(row.events, "on " + device_label + " " + c.precision);
    if (skipped > 0) add_event(row.events, std::to_string(skipped) + " steps skipped (f16 gradients overflowed; loss scale halved)");
    if (done < batches)
      add_event(row.events, "partial epoch (" + std::to_string(done) + "/" + std::to_string(batches) + " batches, " +
                                stop_reason + ")");
    st.epoch = epoch;
    st.steps = trainer.optimizer().steps_done();
    const bool best = st.best_epoch == 0 || row.val_loss < st.best_val_loss;
    if (best) {
      st.best_epoch = epoch, st.best_val_loss = row.val_loss, st.bad_epochs = 0;
      add_event(row.events, "best");
    } else {
      ++st.bad_epochs;
    }
    if (stop_reason == "completed" && c.patience > 0 && st.bad_epochs >= c.patience) {
      stop_reason = "early stop";
      add_event(row.events, "early stop: no better validation loss for " + std::to_string(c.patience) + " epochs");
    }
    const bool last_epoch = stop_reason != "completed" || epoch == c.epochs;
    const bool checkpoint = epoch % c.checkpoint_every == 0 || last_epoch;
    if (checkpoint) {
      row.copied_share = measure_copying(model, *d.tokenizer, d.corpus.ngrams, c.sample_tokens,
                                         mix(c.seed, uint64_t(epoch), 0x5a3)).copied_share;
      add_event(row.events, "checkpoint");
    }
    row.seconds = since(t_epoch);
    epoch_seconds = row.seconds;
    st.seconds += row.seconds;
    st.history.push_back(row);
    const auto meta = model_meta(row);
    if (checkpoint) nn::save_model(c.out / "checkpoints" / epoch_name(epoch), model, nn::DType::f32, meta);
    if (best) nn::save_model(c.out / "best.safetensors", model, nn::DType::f32, meta);
    nn::save_model(c.out / "last.safetensors", model, nn::DType::f32, meta);
    save_run_state(state_path, model, trainer.optimizer().state(), st);
    take_snapshot();
    write_file_atomic(c.out / "history.csv", history_csv(st.history));
    write_file_atomic(c.out / "summary.json", utf8_dump(summary_json(c, d, model, st, device_json, last_epoch ? stop_reason : "running"), 2));
    if (checkpoint && plot_note.empty()) {
      plot_note = draw_plots(c.out, st.history, c.checkpoint_every);
      if (!plot_note.empty()) note(plot_note);
    }
    TrainProgress p;
    p.kind = TrainProgress::Kind::epoch;
    p.epoch = epoch, p.epochs = c.epochs, p.row = &st.history.back();
    progress(p);
    if (last_epoch) break;
  }
  write_file_atomic(c.out / "summary.json", utf8_dump(summary_json(c, d, model, st, device_json, stop_reason, pending), 2));
  TrainResult r{st.epoch, st.best_epoch, st.best_val_loss, stop_reason, c.out / "best.safetensors"};
  if (stop_reason == "diverged")
    throw InvalidArgument("training diverged " + std::to_string(consecutive) + " times in a row in epoch " +
                          std::to_string(st.epoch + 1) + " even after cutting the learning rate to " +
                          number_text(spec.optimizer.lr * st.lr_scale) + "; " +
                          (st.best_epoch ? "best model kept: " + r.best_model.string() + " (epoch " +
                                               std::to_string(st.best_epoch) + ")"
                                         : std::string("no epoch completed")) +
                          "; try a smaller --lr");
  return r;
}

}  // namespace etude::train
