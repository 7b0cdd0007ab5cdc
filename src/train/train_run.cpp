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

#include <unistd.h>

#include "base/error.hpp"
#include "base/file_io.hpp"
#include "base/json_text.hpp"
#include "corpus/corpus.hpp"
#include "corpus/hash.hpp"
#include "nn/model_io.hpp"
#include "nn/optimizer.hpp"
#include "nn/trainer.hpp"
#include "train/batches.hpp"
#include "train/fine_tune.hpp"
#include "train/train_data.hpp"
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

// Before any work, without creating anything: the nearest existing folder on --out's path must be a
// folder we may write in (check_writable later creates the run folder and proves it).
void check_out_path(const fs::path& out) {
  fs::path p = fs::absolute(out);
  std::error_code ec;
  while (!p.empty() && !fs::exists(p, ec) && p != p.parent_path()) p = p.parent_path();
  if (!fs::is_directory(p, ec) || ::access(p.c_str(), W_OK) != 0)
    throw IoError("--out " + out.string() + ": cannot create the run folder (" + p.string() +
                  (fs::is_directory(p, ec) ? " is not writable" : " is not a folder") + "); pick a writable place");
}

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

TrainData load_data(const TrainConfig& c, const std::vector<std::string>& known_styles,
                    const json* base_tokenizer) {
  std::vector<fs::path> roots{c.corpus_dir};
  for (const fs::path& p : c.extra_dirs) roots.push_back(fs::absolute(p));
  DataOptions o;
  o.tokenizer = c.tokenizer;
  o.tokenizer_config = c.tokenizer_config;
  o.val_fraction = c.val_fraction;
  o.threads = unsigned(std::max(c.threads, 0));
  o.cache = c.cache;
  o.known_styles = known_styles;
  o.required_tokenizer = base_tokenizer;
  return load_train_data(roots, o);
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

// The validation loss of each kind of predicted token (TokenKind order), -1 where none was scored.
void set_kind_losses(EpochRow& row, const KindScores& k) {
  auto loss = [&](TokenKind kind) {
    const nn::RowScore& r = k.kinds.at(size_t(kind));
    return r.count ? r.loss_sum / double(r.count) : -1.0;
  };
  row.val_pitch_loss = loss(TokenKind::pitch), row.val_duration_loss = loss(TokenKind::duration);
  row.val_velocity_loss = loss(TokenKind::velocity), row.val_time_loss = loss(TokenKind::time);
}
json kind_losses(const EpochRow& r) {
  return {{"pitch", r.val_pitch_loss}, {"duration", r.val_duration_loss}, {"velocity", r.val_velocity_loss},
          {"time", r.val_time_loss}};
}
json summary_folders(const TrainData& d) {
  json out = json::array();
  for (const auto& r : d.roots) out.push_back(r.string());
  return out;
}

void add_event(std::string& events, const std::string& e) { events += (events.empty() ? "" : "; ") + e; }

json summary_json(const TrainConfig& c, const TrainData& d, const nn::Model& model, const RunState& st, const json& device,
                  const std::string& stop_reason, const std::string& pending_events = "") {
  size_t files = 0;
  json roots = json::array(), caches = json::array();
  for (size_t i = 0; i < d.corpora.size(); ++i)
    files += d.corpora[i].pieces.size(), roots.push_back(d.roots[i].string()),
        caches.push_back(d.corpora[i].cache_path.string());
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
  return {{"corpus", {{"folder", fs::absolute(c.corpus_dir).string()}, {"folders", roots}, {"files_used", files},
                      {"files_skipped", d.skipped_files}, {"styles", d.styles},
                      {"style_table", model.spec().styles > 0},
                      {"train", {{"pieces", d.train.size()}, {"tokens", d.train_tokens}}},
                      {"validation", {{"pieces", d.val.size()}, {"tokens", val_tokens}}},
                      {"tokenizer", d.tokenizer->name()}, {"vocab", d.tokenizer->vocab_size()},
                      {"ngram", {{"n", d.ngrams.n()}, {"entries", d.ngrams.size()}}}, {"note", d.note},
                      {"cache", caches.size() == 1 ? caches[0] : caches}}},
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
  check_out_path(c.out);
  nn::set_compute_threads(c.threads);
  std::optional<BaseModel> base;
  if (!c.from.empty() && !loaded) base.emplace(load_base_model(c.from));
  // The style rows: a resumed run's own (stored in its settings), else the base model's first.
  std::vector<std::string> known_styles = base ? base->styles : std::vector<std::string>{};
  if (loaded && loaded->state.config.contains("style_rows"))
    known_styles = loaded->state.config["style_rows"].get<std::vector<std::string>>();
  if (base) {  // the data is read with the base's tokenizer
    c.tokenizer = base->tokenizer.value("name", c.tokenizer);
    c.tokenizer_config = base->tokenizer.value("config", json::object());
  }
  const TrainData d = load_data(c, known_styles, base ? &base->tokenizer : nullptr);
  if (!d.note.empty()) note(d.note);
  note("training on " + device_label + ", " + c.precision +
       (device == nn::Device::cpu && choice == nn::DeviceChoice::automatic
            ? " (CUDA not used: " + nn::why_cpu(choice, precision) + ")"
            : ""));
  if (loaded && loaded->state.corpus_identity != d.identity)
    throw InvalidArgument("--resume: " + c.out.string() + " was trained on other data (" +
                          loaded->state.corpus_identity + ", now " + d.identity +
                          "); the files or tokenizer changed, so start a new run with another --out");

  const bool styled = c.style_table == StyleTable::on ||
                      (c.style_table == StyleTable::automatic &&
                       (d.styles.size() >= 2 || (base && base->model.spec().styles > 0)));
  auto new_model = [&] {
    nn::ModelSpec spec = base ? base->model.spec() : make_spec(c, d.tokenizer->vocab_size());
    if (base) {  // the base's network; the command may change batch, window and learning rate
      if (c.batch > 0) spec.batch = c.batch;
      if (c.seq > 0) spec.window = c.seq;
      if (c.lr > 0) spec.optimizer.lr = float(c.lr);
    }
    spec.styles = styled ? int(d.styles.size()) : 0;
    if (styled && spec.input != nn::InputKind::embedding)
      throw InvalidArgument("a style table needs a model with an embedding input (preset default or small); "
                            "use --styles off to train " + std::to_string(d.styles.size()) + " styles as one");
    nn::validate_model_spec(spec);
    if (base) return start_from_base(*base, spec);
    nn::Model m(spec);
    m.init_random(c.seed);
    return m;
  };
  nn::Model model = loaded ? std::move(loaded->model) : new_model();
  // Written only now: a base model, data or model settings that do not fit leave nothing behind.
  check_writable(c.out);
  const nn::ModelSpec spec = model.spec();
  if (spec.styles > 0 && size_t(spec.styles) != d.styles.size())
    throw InvalidArgument("--resume: the run's model has " + std::to_string(spec.styles) + " style rows but the data has " +
                          std::to_string(d.styles.size()) + " styles; start a new run with another --out");
  // Fine-tuning only the style rows: the rows of the styles in the data; the rest keeps the base's weights.
  std::vector<std::pair<size_t, size_t>> trainable;
  if (c.tune == FineTune::styles) {
    if (device != nn::Device::cpu) throw InvalidArgument("--tune styles trains on the CPU only; add --device cpu");
    std::vector<int> rows;
    for (int32_t r : d.train_style)
      if (std::find(rows.begin(), rows.end(), int(r)) == rows.end()) rows.push_back(int(r));
    trainable = style_row_ranges(model, rows);
  }
  const std::vector<int32_t> no_styles;
  const std::vector<int32_t>& val_styles = spec.styles > 0 ? d.val_styles : no_styles;
  const int B = spec.batch, T = spec.window, V = spec.vocab;
  const size_t stride = window_stride(spec);
  if (d.train_tokens < size_t(T) + 1 || d.val_stream.size() < size_t(T) + 1)
    throw InvalidArgument(c.corpus_dir.string() + ": too little music for windows of " + std::to_string(T + 1) +
                          " tokens (training " + std::to_string(d.train_tokens) + ", validation " +
                          std::to_string(d.val_stream.size()) + " tokens); use a smaller --seq or more files");

  RunState st;
  if (loaded) st = std::move(loaded->state);
  else st.config = config_to_json(c), st.corpus_identity = d.identity;
  if (spec.styles > 0) st.config["style_rows"] = d.styles;
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

  const std::string tokenizer_json = d.tokenizer_json.dump(), ngrams_text = d.ngrams.to_metadata();
  auto model_meta = [&](const EpochRow& r) {
    const json card{{"epoch", r.epoch}, {"val_loss", r.val_loss}, {"val_accuracy", r.val_accuracy},
                    {"train_loss", r.train_loss}, {"best_epoch", st.best_epoch},
                    {"corpus", fs::absolute(c.corpus_dir).string()}, {"styles", d.styles},
                    {"folders", summary_folders(d)}, {"train_pieces", d.train.size()}, {"validation_pieces", d.val.size()},
                    {"tokenizer", d.tokenizer->name()}, {"preset", c.model_json.is_null() ? c.preset : "custom"},
                    {"seed", c.seed}, {"seconds", st.seconds}, {"copied_share", r.copied_share},
                    {"device", device_label}, {"precision", c.precision},
                    {"from", c.from.string()}, {"val_loss_by_kind", kind_losses(r)}};
    std::map<std::string, std::string> meta{
        {nn::kMetaTokenizer, tokenizer_json}, {nn::kMetaTraining, utf8_dump(card)}, {kMetaNgrams, ngrams_text}};
    if (spec.styles > 0) meta[nn::kMetaStyles] = utf8_dump(json(d.styles));
    return meta;
  };

  const double limit_s = c.max_minutes > 0 ? c.max_minutes * 60 : 0;
  std::string stop_reason = "completed", pending, plot_note;
  int consecutive = 0;
  std::vector<int32_t> tokens(size_t(B) * T), targets(size_t(B) * T), styles(spec.styles > 0 ? size_t(B) * T : 0);
  std::vector<double> losses, norms;
  double epoch_seconds = 0;  // the last epoch's, for the ETA
  while (st.epoch < c.epochs) {
    const int epoch = st.epoch + 1;
    const auto t_epoch = Clock::now();
    std::mt19937_64 rng(mix(c.seed, uint64_t(epoch), uint64_t(st.rollbacks)));
    trainer.seed_dropout(mix(c.seed, uint64_t(epoch), 0xd509 + uint64_t(st.rollbacks)));
    const EpochStream epoch_data = epoch_stream(d, c.transpose_min, c.transpose_max, rng);
    const std::vector<int32_t>& stream = epoch_data.tokens;
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
      const auto window = std::span(starts).subspan(first, used);
      fill_batch(stream, window, B, T, spec.mode, tokens.data(), targets.data());
      if (!styles.empty()) fill_styles(epoch_data.styles, window, B, T, styles.data());
      const double loss = trainer.forward_backward(tokens.data(), targets.data(), styles.empty() ? nullptr : styles.data());
      trainer.add_score(targets.data(), int(used), score);
      if (!trainable.empty()) keep_gradients(model.grads(), trainable);
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
    KindScores by_kind;
    if (diverged.empty()) {
      by_kind = {d.token_kinds, std::vector<nn::RowScore>(kTokenKinds)};
      val = evaluate(trainer, d.val_stream, stride, val_styles, &by_kind);
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
    set_kind_losses(row, by_kind);
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
      row.copied_share = measure_copying(model, *d.tokenizer, d.ngrams, c.sample_tokens,
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
