// Registers `etude train DIR --out RUN`: the flags, Ctrl-C (first: stop cleanly after saving; a
// second one kills; see interrupts.hpp), and the progress display: a live line on a terminal, plain
// log lines otherwise.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "app/commands.hpp"
#include "app/interrupts.hpp"
#include "base/error.hpp"
#include "base/file_io.hpp"
#include "base/input_text.hpp"
#include "compose/style_model.hpp"
#include "nn/collective.hpp"
#include "nn/trainer.hpp"
#include "train/train_run.hpp"

namespace etude::app {
namespace fs = std::filesystem;
namespace {
using Clock = std::chrono::steady_clock;

std::string duration(double s) {
  char buf[32];
  const long t = long(s + 0.5);
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, t / 60 % 60);
  else std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  return buf;
}

void parse_transpose(const std::string& text, train::TrainConfig& c) {
  int lo = 0, hi = 0, used = 0;
  if (std::sscanf(text.c_str(), "%d..%d%n", &lo, &hi, &used) == 2 && used == int(text.size())) {
  } else if (std::sscanf(text.c_str(), "%d%n", &lo, &used) == 1 && used == int(text.size())) {
    hi = lo < 0 ? -lo : lo;
    lo = -hi;
  } else {
    throw InvalidArgument("--transpose: \"" + text + "\" (use a range like -5..6, a width like 3 for -3..3, or 0 for off)");
  }
  if (lo > hi || lo < -12 || hi > 12)
    throw InvalidArgument("--transpose: " + text + " must be a range LO..HI within -12..12 with LO <= HI");
  c.transpose_min = lo, c.transpose_max = hi;
}

class ProgressPrinter {
 public:
  // Under mpirun a rank's stdout is a pseudo-terminal whatever mpirun's own is: plain lines there.
  explicit ProgressPrinter(bool ranks) : tty_(!ranks && isatty(fileno(stdout)) != 0) {}
  void operator()(const train::TrainProgress& p) {
    using Kind = train::TrainProgress::Kind;
    if (p.kind == Kind::event) {
      line_break();
      std::printf("[train] %s\n", p.message.c_str());
    } else if (p.kind == Kind::epoch) {
      const train::EpochRow& r = *p.row;
      line_break();
      std::printf("epoch %d/%d  train loss %.4f acc %.3f | val loss %.4f acc %.3f ppl %.2f | lr %.3g | %.0f tok/s | %.1fs",
                  r.epoch, p.epochs, r.train_loss, r.train_accuracy, r.val_loss, r.val_accuracy, std::exp(r.val_loss),
                  r.lr, r.tokens_per_second, r.seconds);
      if (r.copied_share >= 0) std::printf(" | copied %.1f%%", 100 * r.copied_share);
      std::printf("%s%s\n", r.events.empty() ? "" : " | ", r.events.text().c_str());
    } else {
      const double now = std::chrono::duration<double>(Clock::now() - start_).count();
      if (now - last_ < (tty_ ? 0.25 : 30.0) && p.batch != p.batches) return;
      last_ = now;
      if (tty_) {
        std::printf("\r\033[Kepoch %d/%d  batch %lld/%lld  %.0f tok/s  loss %.4f  ETA %s", p.epoch, p.epochs,
                    static_cast<long long>(p.batch), static_cast<long long>(p.batches), p.tokens_per_second, p.loss,
                    duration(p.eta_seconds).c_str());
        open_ = true;
      } else if (p.batch != p.batches) {
        std::printf("epoch %d/%d batch %lld/%lld: %.0f tok/s, loss %.4f, ETA %s\n", p.epoch, p.epochs,
                    static_cast<long long>(p.batch), static_cast<long long>(p.batches), p.tokens_per_second, p.loss,
                    duration(p.eta_seconds).c_str());
      }
    }
    std::fflush(stdout);
  }

 private:
  void line_break() {
    if (open_) std::printf("\r\033[K");
    open_ = false;
  }
  bool tty_, open_ = false;
  Clock::time_point start_ = Clock::now();
  double last_ = -1e9;
};

}  // namespace

static std::string join_paths(const std::vector<std::string>& dirs) {
  std::string out;
  for (const auto& d : dirs) out += (out.empty() ? "" : " ") + d;
  return out;
}

void add_train_commands(CLI::App& app) {
  auto c = std::make_shared<train::TrainConfig>();
  auto transpose = std::make_shared<std::string>("-5..6");
  auto config_file = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("train", "Learn a style from a folder of MIDI files (checkpoints, graphs, resume)");
  auto dirs = std::make_shared<std::vector<std::string>>();
  auto from = std::make_shared<std::string>();
  auto models = std::make_shared<std::string>();
  auto styles = std::make_shared<std::string>("auto");
  auto tune = std::make_shared<std::string>("all");
  cmd->add_option("DIR", *dirs, "folders of MIDI files trained together (subfolders are styles)")->required();
  cmd->add_option("--from", *from, "fine-tune: start from this model file or installed model (e.g. piano); the "
                                   "folders' styles become new style rows");
  cmd->add_option("--models", *models, "where --from NAME is looked up (default: $ETUDE_MODELS, else models/)");
  cmd->add_option("--styles", *styles, "style table: auto (when 2+ styles or --from has one), on or off")
      ->capture_default_str()->check(CLI::IsMember({"auto", "on", "off"}));
  cmd->add_option("--tune", *tune, "with --from: train every weight (all) or only the style rows (styles)")
      ->capture_default_str()->check(CLI::IsMember({"all", "styles"}));
  cmd->add_option("--out", c->out, "run folder: checkpoints, best/last model, history.csv, plots, summary.json")
      ->required();
  cmd->add_option("--tokenizer", c->tokenizer, "beats, events, notes or seed")->capture_default_str();
  auto bars = std::make_shared<bool>(false);
  cmd->add_flag("--bars", *bars, "beats tokenizer: a BAR token on every bar line (so `compose --bars N` works)");
  auto* preset = cmd->add_option("--preset", c->preset, "model preset: default, small, seed-skuli, seed-voc")
                     ->capture_default_str();
  cmd->add_option("--config", *config_file, "a model JSON file instead of a preset (vocab is filled in)")
      ->excludes(preset);
  cmd->add_option("--epochs", c->epochs, "most epochs to train")->capture_default_str()->check(CLI::Range(1, 1000000));
  cmd->add_option("--checkpoint-every", c->checkpoint_every, "epochs between checkpoints, graphs and copy measures")
      ->capture_default_str()->check(CLI::Range(1, 1000000));
  cmd->add_option("--batch", c->batch, "windows per batch (default: the preset's, 64)")->check(CLI::Range(1, 65536));
  cmd->add_option("--seq", c->seq, "tokens per window (default: the preset's, 128)")->check(CLI::Range(2, 65536));
  cmd->add_option("--lr", c->lr, "learning rate (default: the preset's, 1e-3)")->check(CLI::Range(1e-12, 1e6));
  cmd->add_option("--threads", c->threads, "compute threads; 0 = every core")->check(CLI::Range(0, 1024));
  cmd->add_option("--device", c->device, "cpu, cuda or auto (cuda when usable); a run may resume on another")
      ->capture_default_str();
  cmd->add_option("--precision", c->precision, "f32; bf16 (CPU LSTM kernels) or f16 (CUDA mixed precision)")
      ->capture_default_str();
  cmd->add_option("--seed", c->seed, "seed for weights, batches, augmentation and samples")->capture_default_str();
  cmd->add_option("--val-fraction", c->val_fraction, "share of pieces held out for validation")
      ->capture_default_str()->check(CLI::Range(0.0, 0.5));
  cmd->add_option("--transpose", *transpose, "random transposition range per piece and epoch, e.g. -5..6; 0 = off")
      ->capture_default_str();
  cmd->add_option("--max-minutes", c->max_minutes, "stop cleanly after this many minutes; 0 = no limit")
      ->check(CLI::Range(0.0, 1e7));
  cmd->add_option("--patience", c->patience, "stop after this many epochs without a better validation loss; 0 = off")
      ->capture_default_str()->check(CLI::Range(0, 1000000));
  cmd->add_flag("--resume", c->resume, "continue the interrupted run in --out from its last saved state");
  cmd->callback([c, transpose, config_file, cmd, dirs, from, models, styles, tune, bars] {
    if (*bars) {
      if (c->tokenizer != "beats") throw InvalidArgument("--bars: only the beats tokenizer writes bar lines");
      c->tokenizer_config["bars"] = true;
    }
    c->corpus_dir = dirs->front();
    c->extra_dirs.assign(dirs->begin() + 1, dirs->end());
    c->style_table = *styles == "on" ? train::StyleTable::on : *styles == "off" ? train::StyleTable::off
                                                                                : train::StyleTable::automatic;
    c->tune = *tune == "styles" ? train::FineTune::styles : train::FineTune::all;
    if (c->tune == train::FineTune::styles && from->empty())
      throw InvalidArgument("--tune styles fine-tunes a base model: give --from too");
    if (!from->empty()) {
      if (cmd->count("--tokenizer") || cmd->count("--preset") || !config_file->empty() || *bars)
        throw InvalidArgument("--from: the base model fixes the tokenizer and the network; leave out --tokenizer, "
                              "--bars, --preset and --config");
      c->from = fs::exists(*from) || from->find('/') != std::string::npos || from->ends_with(".safetensors")
                    ? fs::path(*from)
                    : find_style(models_dir(*models), *from);
      if (!fs::exists(c->from)) throw IoError("--from " + c->from.string() + ": no such model file");
    }
    if (c->resume && cmd->count("--epochs") == 0) c->epochs = 0;  // keep the run's own
    parse_transpose(*transpose, *c);
    nn::parse_device(c->device), nn::parse_precision(c->precision);  // bad values: exit 2 before any work
    if (!config_file->empty()) {
      try {
        c->model_json = nlohmann::json::parse(read_file_text(*config_file));
      } catch (const nlohmann::json::exception& e) {
        throw FormatError(*config_file + ": not valid JSON (" + json_error_text(e) + ")");
      }
    }
    // Under mpirun: one rank of a data-parallel run; rank 0 alone prints (and writes the run).
    const std::unique_ptr<nn::Collective> world = nn::make_collective();
    const bool speaks = world->rank() == 0;
    if (world->size() > 1) {
      c->collective = world.get();
      // --threads 0 (every core) shares the machine's cores among the ranks on it.
      if (c->threads == 0) c->threads = std::max(1, nn::set_compute_threads(0) / world->local_size());
    }
    const Interrupts interrupts;
    ProgressPrinter printer(world->size() > 1);
    const train::TrainResult r = train::run_training(
        *c, [&printer, speaks](const train::TrainProgress& p) { if (speaks) printer(p); }, interrupts.token());
    if (!speaks) return;
    std::printf("%s after %d epochs; best epoch %d (validation loss %.4f): %s\n",
                std::string(train::stop_reason_text(r.stop_reason)).c_str(), r.epochs_done, r.best_epoch,
                r.best_val_loss, r.best_model.string().c_str());
    if (train::resumable(r.stop_reason))
      std::printf("continue with: etude train %s --out %s --resume\n", join_paths(*dirs).c_str(),
                  c->out.string().c_str());
  });
}

}  // namespace etude::app
