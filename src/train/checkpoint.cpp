// The checkpoint step of run_training; see checkpoint.hpp.
#include "train/checkpoint.hpp"

#include <cmath>
#include <cstdio>

#include "base/file_io.hpp"
#include "base/json_text.hpp"
#include "nn/model_io.hpp"
#include "train/history.hpp"
#include "train/plots.hpp"
#include "train/run_record.hpp"

namespace etude::train {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;

std::string epoch_name(int epoch) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "epoch-%04d.safetensors", epoch);
  return buf;
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

std::string preset_name(const TrainConfig& c) { return c.model_json.is_null() ? c.preset : "custom"; }
}  // namespace

RunFiles::RunFiles(const RunSetup& run)
    : run_(run), tokenizer_json_(run.data.tokenizer_json.dump()), ngrams_text_(run.data.ngrams.to_metadata()) {}

std::map<std::string, std::string> RunFiles::model_meta(const EpochRow& r, const RunState& st) const {
  const TrainConfig& c = run_.config;
  const TrainData& d = run_.data;
  const json card{{"epoch", r.epoch}, {"val_loss", r.val_loss}, {"val_accuracy", r.val_accuracy},
                  {"train_loss", r.train_loss}, {"best_epoch", st.best_epoch},
                  {"corpus", fs::absolute(c.corpus_dir).string()}, {"styles", d.styles},
                  {"folders", summary_folders(d)}, {"train_pieces", d.train.size()}, {"validation_pieces", d.val.size()},
                  {"tokenizer", d.tokenizer->name()}, {"preset", preset_name(c)},
                  {"seed", c.seed}, {"seconds", st.seconds}, {"copied_share", r.copied_share},
                  {"device", run_.device_label}, {"precision", c.precision},
                  {"from", c.from.string()}, {"val_loss_by_kind", kind_losses(r)}};
  std::map<std::string, std::string> meta{
      {nn::kMetaTokenizer, tokenizer_json_}, {nn::kMetaTraining, utf8_dump(card)}, {kMetaNgrams, ngrams_text_}};
  if (run_.model.spec().styles > 0) meta[nn::kMetaStyles] = utf8_dump(json(d.styles));
  return meta;
}

json RunFiles::summary(const nn::Model& model, const RunState& st, const std::optional<StopReason>& stop,
                       const EpochEvents& pending) const {
  const TrainConfig& c = run_.config;
  const TrainData& d = run_.data;
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
          {"model", {{"preset", preset_name(c)}, {"parameters", model.params().size()},
                     {"spec", nn::model_spec_to_json(model.spec())}}},
          {"config", config_to_json(c)},
          {"device", run_.device_json},  // this session's
          {"epochs_done", st.epoch},
          {"stop_reason", std::string(stop_reason_text(stop))},
          {"best", best},
          {"last", last},
          {"seconds", st.seconds},
          {"tokens_per_second", tps},
          {"rollbacks", st.rollbacks},
          {"lr_scale", st.lr_scale},
          {"events_after_last_epoch", pending}};  // rollbacks of an epoch that never completed
}

std::string RunFiles::save_epoch(const nn::Model& model, std::span<const float> optimizer, const RunState& st,
                                 const std::optional<StopReason>& stop) {
  const fs::path& out = run_.config.out;
  const EpochRow& row = st.history.back();
  const auto meta = model_meta(row, st);
  const bool checkpoint = row.events.has(EpochEvent::checkpoint);
  if (checkpoint) nn::save_model(out / "checkpoints" / epoch_name(row.epoch), model, nn::DType::f32, meta);
  if (row.events.has(EpochEvent::best)) nn::save_model(out / "best.safetensors", model, nn::DType::f32, meta);
  nn::save_model(out / "last.safetensors", model, nn::DType::f32, meta);
  save_run_state(out / kStateFile, model, optimizer, st);
  write_history(out, st.history);
  write_file_atomic(out / kSummaryFile, utf8_dump(summary(model, st, stop, {}), 2));
  if (!checkpoint || plots_failed_) return "";
  const std::string why = draw_plots(out, st.history, run_.config.checkpoint_every);
  plots_failed_ = !why.empty();
  return why;
}

void RunFiles::save_summary(const nn::Model& model, const RunState& st, StopReason stop, const EpochEvents& pending) {
  write_file_atomic(run_.config.out / kSummaryFile, utf8_dump(summary(model, st, stop, pending), 2));
}

}  // namespace etude::train
