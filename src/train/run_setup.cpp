// The load step of run_training; see run_setup.hpp. Nothing is written before every check that
// can refuse the run has passed (a base model, data or settings that do not fit leave no folder).
#include "train/run_setup.hpp"

#include <algorithm>
#include <optional>

#include <unistd.h>

#include "base/error.hpp"
#include "base/file_io.hpp"
#include "nn/model_io.hpp"
#include "train/fine_tune.hpp"
#include "train/validation.hpp"

namespace etude::train {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;

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

// The batch, window and learning rate the command may change on any network.
void apply_overrides(const TrainConfig& c, nn::ModelSpec& s) {
  if (c.batch > 0) s.batch = c.batch;
  if (c.seq > 0) s.window = c.seq;
  if (c.lr > 0) s.optimizer.lr = float(c.lr);
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
  apply_overrides(c, s);
  nn::validate_model_spec(s);
  return s;
}

// A new run's model: random weights of the preset (or --config), or the base's when fine-tuning.
nn::Model new_model(const TrainConfig& c, const TrainData& d, const std::optional<BaseModel>& base, bool styled) {
  nn::ModelSpec spec = base ? base->model.spec() : make_spec(c, d.tokenizer->vocab_size());
  if (base) apply_overrides(c, spec);  // the base's network; the command may change batch, window and rate
  spec.styles = styled ? int(d.styles.size()) : 0;
  if (styled && spec.input != nn::InputKind::embedding)
    throw InvalidArgument("a style table needs a model with an embedding input (preset default or small); "
                          "use --styles off to train " + std::to_string(d.styles.size()) + " styles as one");
  nn::validate_model_spec(spec);
  if (base) return start_from_base(*base, spec);
  nn::Model m(spec);
  m.init_random(c.seed);
  return m;
}

// The stored settings of a resumed run, keeping what is the session's own from the command.
void use_stored_settings(TrainConfig& c, const LoadedState& loaded, const fs::path& state_path) {
  const TrainConfig runtime = c;
  try {
    config_from_json(loaded.state.config, c);  // the run's own settings; only these stay from the command
  } catch (const json::exception& e) {
    throw FormatError(state_path.string() + ": stored settings are damaged (" + e.what() + ")");
  }
  c.corpus_dir = runtime.corpus_dir;  // the data may have moved; its identity is checked below
  c.threads = runtime.threads;
  c.max_minutes = runtime.max_minutes;
  c.cache = runtime.cache;
  if (runtime.epochs > 0) c.epochs = runtime.epochs;  // 0: the run's own; more extends a finished run
}

// --tune styles: the rows of the styles in the data; the rest keeps the base's weights.
std::vector<std::pair<size_t, size_t>> trainable_rows(const TrainConfig& c, const TrainData& d,
                                                      const nn::Model& model, nn::Device device) {
  if (c.tune != FineTune::styles) return {};
  if (device != nn::Device::cpu) throw InvalidArgument("--tune styles trains on the CPU only; add --device cpu");
  std::vector<int> rows;
  for (int32_t r : d.train_style)
    if (std::find(rows.begin(), rows.end(), int(r)) == rows.end()) rows.push_back(int(r));
  return style_row_ranges(model, rows);
}

}  // namespace

RunSetup load_run(TrainConfig c, const std::function<void(const std::string&)>& note) {
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
    use_stored_settings(c, *loaded, state_path);
  }
  c.corpus_dir = fs::absolute(c.corpus_dir);
  // Device and precision are the session's (not stored): resolved first, so a missing GPU is
  // reported before anything is loaded or written.
  const nn::Precision precision = nn::parse_precision(c.precision);
  const nn::DeviceChoice choice = nn::parse_device(c.device);
  // Data-parallel training runs on the CPU engine: auto keeps to it, cuda is refused.
  if (run_ranks(c) > 1 && choice == nn::DeviceChoice::cuda)
    throw InvalidArgument("--device cuda: data-parallel training (mpirun) runs on the CPU engine so far; use "
                          "--device cpu, or train on the GPU without mpirun");
  const nn::Device device =
      run_ranks(c) > 1 ? nn::choose_device(nn::DeviceChoice::cpu, precision) : nn::choose_device(choice, precision);
  const std::string gpu = device == nn::Device::cuda ? nn::cuda_status().name : "";
  std::string device_label = gpu.empty() ? nn::device_name(device) : std::string("cuda (") + gpu + ")";
  json device_json{{"device", nn::device_name(device)}, {"gpu", gpu}, {"precision", c.precision}};
  if (run_ranks(c) > 1) {
    device_label += " x " + std::to_string(run_ranks(c)) + " ranks";
    device_json["ranks"] = run_ranks(c);
  }
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
  TrainData d = load_data(c, known_styles, base ? &base->tokenizer : nullptr);
  if (!d.note.empty()) note(d.note);
  note("training on " + device_label + ", " + c.precision +
       (device == nn::Device::cpu && choice == nn::DeviceChoice::automatic
            ? " (CUDA not used: " + (run_ranks(c) > 1 ? std::string("data-parallel training runs on the CPU")
                                                       : nn::why_cpu(choice, precision)) + ")"
            : ""));
  if (loaded && loaded->state.corpus_identity != d.identity)
    throw InvalidArgument("--resume: " + c.out.string() + " was trained on other data (" +
                          loaded->state.corpus_identity + ", now " + d.identity +
                          "); the files or tokenizer changed, so start a new run with another --out");

  const bool styled = c.style_table == StyleTable::on ||
                      (c.style_table == StyleTable::automatic &&
                       (d.styles.size() >= 2 || (base && base->model.spec().styles > 0)));
  nn::Model model = loaded ? std::move(loaded->model) : new_model(c, d, base, styled);
  // Written only now: a base model, data or model settings that do not fit leave nothing behind.
  if (writes_run(c)) check_writable(c.out);  // ranks other than 0 write nothing
  const nn::ModelSpec& spec = model.spec();
  if (spec.styles > 0 && size_t(spec.styles) != d.styles.size())
    throw InvalidArgument("--resume: the run's model has " + std::to_string(spec.styles) + " style rows but the data has " +
                          std::to_string(d.styles.size()) + " styles; start a new run with another --out");
  std::vector<std::pair<size_t, size_t>> trainable = trainable_rows(c, d, model, device);
  const int T = spec.window;
  if (d.train_tokens < size_t(T) + 1 || d.val_stream.size() < size_t(T) + 1)
    throw InvalidArgument(c.corpus_dir.string() + ": too little music for windows of " + std::to_string(T + 1) +
                          " tokens (training " + std::to_string(d.train_tokens) + ", validation " +
                          std::to_string(d.val_stream.size()) + " tokens); use a smaller --seq or more files");

  RunState st;
  std::vector<float> optimizer;
  if (loaded) st = std::move(loaded->state), optimizer = std::move(loaded->optimizer);
  else st.config = config_to_json(c), st.corpus_identity = d.identity;
  if (spec.styles > 0) st.config["style_rows"] = d.styles;
  return {std::move(c),     precision,        device,           std::move(device_label), std::move(device_json),
          std::move(d),     std::move(model), std::move(st),    std::move(optimizer),    std::move(trainable)};
}

}  // namespace etude::train
