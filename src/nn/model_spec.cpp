// Model JSON <-> ModelSpec, validation of the stack, and the named presets; see model_spec.hpp.
// Unknown keys are refused so that a typo never silently becomes a default.
#include "nn/model_spec.hpp"

#include <algorithm>

#include "base/error.hpp"

namespace etude::nn {
namespace {
using nlohmann::json;

[[noreturn]] void bad(const std::string& where, const std::string& what) {
  throw FormatError("model JSON: " + where + ": " + what);
}

void check_keys(const json& j, const std::string& where, std::initializer_list<const char*> known) {
  if (!j.is_object()) bad(where, "expected an object");
  for (const auto& item : j.items()) {
    const std::string& key = item.key();  // (clang 14 cannot capture a structured binding)
    if (std::none_of(known.begin(), known.end(), [&](const char* k) { return key == k; })) {
      std::string list;
      for (const char* k : known) list += std::string(list.empty() ? "" : ", ") + k;
      bad(where + "." + key, "unknown key (known: " + list + ")");
    }
  }
}

template <class T>
void get(const json& j, const char* key, const std::string& where, T& out) {
  if (!j.contains(key)) return;
  const json& v = j.at(key);
  const std::string at = where + "." + key;
  if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) bad(at, "expected true or false");
    out = v.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    if (!v.is_number_integer()) bad(at, "expected an integer");
    out = v.get<T>();
  } else {
    if (!v.is_number()) bad(at, "expected a number");
    out = v.get<T>();
  }
}

template <class E>
E get_enum(const json& j, const char* key, const std::string& where, E fallback,
           std::initializer_list<std::pair<const char*, E>> names) {
  if (!j.contains(key)) return fallback;
  const json& v = j.at(key);
  std::string list;
  for (const auto& [n, e] : names) {
    if (v.is_string() && v.get<std::string>() == n) return e;
    list += std::string(list.empty() ? "" : ", ") + n;
  }
  bad(where + "." + key, "expected one of " + list);
}

template <class E>
const char* enum_name(E e, std::initializer_list<std::pair<const char*, E>> names) {
  for (const auto& [n, v] : names)
    if (v == e) return n;
  return "?";
}

constexpr std::initializer_list<std::pair<const char*, InputKind>> kInputs = {
    {"embedding", InputKind::embedding}, {"scalar", InputKind::scalar}, {"onehot", InputKind::onehot}};
constexpr std::initializer_list<std::pair<const char*, LayerKind>> kLayers = {
    {"lstm", LayerKind::lstm}, {"dropout", LayerKind::dropout},
    {"batchnorm", LayerKind::batchnorm}, {"dense", LayerKind::dense}, {"activation", LayerKind::activation}};
constexpr std::initializer_list<std::pair<const char*, Activation>> kActivations = {
    {"none", Activation::none}, {"relu", Activation::relu}, {"tanh", Activation::tanh}};
constexpr std::initializer_list<std::pair<const char*, Mode>> kModes = {
    {"seq2seq", Mode::seq2seq}, {"seq2one", Mode::seq2one}};
constexpr std::initializer_list<std::pair<const char*, OptimizerKind>> kOptimizers = {
    {"adam", OptimizerKind::adam}, {"rmsprop", OptimizerKind::rmsprop}, {"sgd", OptimizerKind::sgd}};
constexpr std::initializer_list<std::pair<const char*, ScheduleKind>> kSchedules = {
    {"constant", ScheduleKind::constant}, {"cosine", ScheduleKind::cosine}, {"step", ScheduleKind::step}};

LayerSpec parse_layer(const json& j, const std::string& where) {
  check_keys(j, where, {"type", "units", "return_sequences", "forget_bias", "rate", "activation",
                        "momentum", "eps"});
  if (!j.contains("type")) bad(where, "missing \"type\" (lstm, dropout, batchnorm, dense, activation)");
  LayerSpec l;
  l.kind = get_enum(j, "type", where, LayerKind::dense, kLayers);
  if (l.kind == LayerKind::dense && j.contains("units") && j.at("units").is_string()) {
    if (j.at("units").get<std::string>() != "vocab") bad(where + ".units", "expected a number or \"vocab\"");
    l.units = kVocabUnits;
  } else {
    get(j, "units", where, l.units);
  }
  get(j, "return_sequences", where, l.return_sequences);
  get(j, "forget_bias", where, l.forget_bias);
  get(j, "rate", where, l.rate);
  get(j, "momentum", where, l.momentum);
  get(j, "eps", where, l.eps);
  l.activation = get_enum(j, "activation", where, Activation::none, kActivations);
  return l;
}

LayerSpec lstm(int units, bool seq = true) {
  LayerSpec l{.kind = LayerKind::lstm, .units = units};
  l.return_sequences = seq;
  return l;
}
LayerSpec dropout(float rate) { return {.kind = LayerKind::dropout, .rate = rate}; }
LayerSpec batchnorm() { return {.kind = LayerKind::batchnorm}; }
LayerSpec dense(int units, Activation a = Activation::none) {
  return {.kind = LayerKind::dense, .units = units, .activation = a};
}
}  // namespace

ModelSpec parse_model_spec(const json& j) {
  check_keys(j, "model", {"input", "vocab", "layers", "mode", "window", "optimizer", "batch", "clip",
                          "schedule"});
  ModelSpec s;
  if (!j.contains("input")) bad("model", "missing \"input\" ({\"type\": \"embedding\", \"dim\": 256})");
  check_keys(j.at("input"), "input", {"type", "dim", "styles"});
  s.input = get_enum(j.at("input"), "type", "input", InputKind::embedding, kInputs);
  get(j.at("input"), "dim", "input", s.embed_dim);
  get(j.at("input"), "styles", "input", s.styles);
  if (!j.contains("vocab")) bad("model", "missing \"vocab\" (number of tokens)");
  get(j, "vocab", "model", s.vocab);
  if (!j.contains("layers") || !j.at("layers").is_array()) bad("model", "missing \"layers\" array");
  for (size_t i = 0; i < j.at("layers").size(); ++i)
    s.layers.push_back(parse_layer(j.at("layers")[i], "layers[" + std::to_string(i) + "]"));
  s.mode = get_enum(j, "mode", "model", Mode::seq2seq, kModes);
  get(j, "window", "model", s.window);
  get(j, "batch", "model", s.batch);
  get(j, "clip", "model", s.clip);
  if (j.contains("optimizer")) {
    const json& o = j.at("optimizer");
    check_keys(o, "optimizer", {"type", "lr", "beta1", "beta2", "alpha", "eps", "momentum", "weight_decay"});
    auto& so = s.optimizer;
    so.kind = get_enum(o, "type", "optimizer", OptimizerKind::adam, kOptimizers);
    get(o, "lr", "optimizer", so.lr);
    get(o, "beta1", "optimizer", so.beta1);
    get(o, "beta2", "optimizer", so.beta2);
    get(o, "alpha", "optimizer", so.alpha);
    get(o, "eps", "optimizer", so.eps);
    get(o, "momentum", "optimizer", so.momentum);
    get(o, "weight_decay", "optimizer", so.weight_decay);
  }
  if (j.contains("schedule")) {
    const json& o = j.at("schedule");
    check_keys(o, "schedule", {"type", "total_steps", "min_lr", "step_size", "gamma"});
    auto& ss = s.schedule;
    ss.kind = get_enum(o, "type", "schedule", ScheduleKind::constant, kSchedules);
    get(o, "total_steps", "schedule", ss.total_steps);
    get(o, "min_lr", "schedule", ss.min_lr);
    get(o, "step_size", "schedule", ss.step_size);
    get(o, "gamma", "schedule", ss.gamma);
  }
  validate_model_spec(s);
  return s;
}

json model_spec_to_json(const ModelSpec& s) {
  json input = {{"type", enum_name(s.input, kInputs)}};
  if (s.input == InputKind::embedding) input["dim"] = s.embed_dim;
  if (s.styles > 0) input["styles"] = s.styles;
  json layers = json::array();
  for (const LayerSpec& l : s.layers) {
    json o = {{"type", enum_name(l.kind, kLayers)}};
    switch (l.kind) {
      case LayerKind::lstm:
        o["units"] = l.units;
        o["return_sequences"] = l.return_sequences;
        o["forget_bias"] = l.forget_bias;
        break;
      case LayerKind::dropout: o["rate"] = l.rate; break;
      case LayerKind::batchnorm:
        o["momentum"] = l.momentum;
        o["eps"] = l.eps;
        break;
      case LayerKind::dense:
        o["units"] = l.units == kVocabUnits ? json("vocab") : json(l.units);
        o["activation"] = enum_name(l.activation, kActivations);
        break;
      case LayerKind::activation: o["activation"] = enum_name(l.activation, kActivations); break;
    }
    layers.push_back(o);
  }
  const auto& o = s.optimizer;
  json opt = {{"type", enum_name(o.kind, kOptimizers)}, {"lr", o.lr}, {"eps", o.eps},
              {"weight_decay", o.weight_decay}};
  if (o.kind == OptimizerKind::adam) opt.update({{"beta1", o.beta1}, {"beta2", o.beta2}});
  if (o.kind == OptimizerKind::rmsprop) opt["alpha"] = o.alpha;
  if (o.kind == OptimizerKind::sgd) opt["momentum"] = o.momentum;
  const auto& sc = s.schedule;
  json sched = {{"type", enum_name(sc.kind, kSchedules)}};
  if (sc.kind == ScheduleKind::cosine) sched.update({{"total_steps", sc.total_steps}, {"min_lr", sc.min_lr}});
  if (sc.kind == ScheduleKind::step) sched.update({{"step_size", sc.step_size}, {"gamma", sc.gamma}});
  return {{"input", input}, {"vocab", s.vocab}, {"layers", layers},
          {"mode", enum_name(s.mode, kModes)}, {"window", s.window}, {"optimizer", opt},
          {"batch", s.batch}, {"clip", s.clip}, {"schedule", sched}};
}

void validate_model_spec(const ModelSpec& s) {
  auto fail = [](const std::string& msg) { throw InvalidArgument("model: " + msg); };
  // Sizes are bounded so a model JSON (from a file or --config) can never make the parameter
  // count overflow or ask for terabytes: far above any model Etude trains.
  constexpr int kMaxVocab = 1 << 20, kMaxWidth = 1 << 16, kMaxStyles = 1 << 12;
  if (s.vocab < 2 || s.vocab > kMaxVocab)
    fail("vocab must be in 2.." + std::to_string(kMaxVocab) + " (got " + std::to_string(s.vocab) + ")");
  if (s.input == InputKind::embedding && (s.embed_dim < 1 || s.embed_dim > kMaxWidth))
    fail("input.dim must be in 1.." + std::to_string(kMaxWidth));
  if (s.styles < 0 || s.styles > kMaxStyles)
    fail("input.styles must be in 0.." + std::to_string(kMaxStyles) + " (got " + std::to_string(s.styles) + ")");
  if (s.styles > 0 && s.input != InputKind::embedding)
    fail("input.styles needs {\"type\": \"embedding\"}: the style vectors are added to the token embedding");
  if (s.window < 1 || s.batch < 1) fail("window and batch must be positive");
  if (s.clip < 0) fail("clip must be >= 0 (0 turns clipping off)");
  if (s.layers.empty() || s.layers.back().kind != LayerKind::dense ||
      dense_units(s, s.layers.back()) != s.vocab)
    fail("the last layer must be {\"type\": \"dense\", \"units\": \"vocab\"} (the logits)");
  bool sequences = true;
  for (size_t i = 0; i < s.layers.size(); ++i) {
    const LayerSpec& l = s.layers[i];
    const std::string at = "layers[" + std::to_string(i) + "]: ";
    if (l.kind == LayerKind::lstm) {
      if (l.units < 1 || l.units > kMaxWidth) fail(at + "lstm units must be in 1.." + std::to_string(kMaxWidth));
      if (!sequences) fail(at + "an lstm after one with return_sequences=false has no sequence to read");
      sequences = l.return_sequences;
    }
    if (l.kind == LayerKind::dense && (l.units < 1 || l.units > kMaxWidth) && l.units != kVocabUnits)
      fail(at + "dense units must be in 1.." + std::to_string(kMaxWidth) + " or \"vocab\"");
    if (l.kind == LayerKind::dropout && !(l.rate >= 0 && l.rate < 1))
      fail(at + "dropout rate must be in [0, 1)");
    if (l.kind == LayerKind::batchnorm && !(l.eps > 0 && l.momentum >= 0 && l.momentum <= 1))
      fail(at + "batchnorm needs eps > 0 and momentum in [0, 1]");
    if (l.kind == LayerKind::activation && l.activation == Activation::none)
      fail(at + "an activation layer needs \"activation\": relu or tanh");
  }
  if (s.mode == Mode::seq2seq && !sequences)
    fail("seq2seq needs every lstm to return sequences (set mode to seq2one or return_sequences=true)");
  if (s.optimizer.lr <= 0) fail("optimizer.lr must be positive");
  if (s.optimizer.kind == OptimizerKind::rmsprop && s.optimizer.momentum != 0)
    fail("optimizer: rmsprop with momentum is not supported (set momentum 0)");
  if (s.schedule.kind == ScheduleKind::cosine && s.schedule.total_steps < 1)
    fail("schedule: cosine needs total_steps >= 1");
  if (s.schedule.kind == ScheduleKind::step && s.schedule.step_size < 1)
    fail("schedule: step needs step_size >= 1");
}

std::vector<std::string> preset_names() { return {"seed-skuli", "seed-voc", "default", "small"}; }

ModelSpec preset_spec(const std::string& name, int vocab) {
  ModelSpec s;
  s.vocab = vocab;
  if (name == "seed-skuli") {
    s.input = InputKind::scalar;
    s.layers = {lstm(512), lstm(512), lstm(512, false), batchnorm(), dropout(0.3f),
                dense(256, Activation::relu), batchnorm(), dropout(0.3f), dense(kVocabUnits)};
    s.mode = Mode::seq2one;
    s.window = 100;
    s.optimizer.kind = OptimizerKind::rmsprop;
    s.batch = 128;
  } else if (name == "seed-voc") {
    s.input = InputKind::scalar;
    s.layers = {lstm(512), dropout(0.2f), batchnorm(), lstm(256, false), dropout(0.2f), batchnorm(),
                dense(128, Activation::relu), dropout(0.2f), batchnorm(), dense(kVocabUnits)};
    s.mode = Mode::seq2one;
    s.window = 100;
    s.batch = 64;
  } else if (name == "default" || name == "small") {
    const int units = name == "default" ? 512 : 256;
    s.input = InputKind::embedding;
    s.embed_dim = 256;
    s.layers = {lstm(units), lstm(units), dropout(0.2f), dense(kVocabUnits)};
    s.mode = Mode::seq2seq;
    s.window = 128;
    s.batch = 64;
    s.clip = 1.0f;
  } else {
    throw InvalidArgument("unknown preset \"" + name + "\" (known: seed-skuli, seed-voc, default, small)");
  }
  validate_model_spec(s);
  return s;
}

}  // namespace etude::nn
