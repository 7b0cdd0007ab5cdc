// Saving and loading the resumable state; see run_state.hpp.
#include "train/run_state.hpp"

#include "base/error.hpp"
#include "base/file_io.hpp"
#include "nn/model_io.hpp"

namespace etude::train {
namespace {
using nlohmann::json;
constexpr const char* kMetaState = "etude.train_state";
constexpr const char* kOptimizerTensor = "optimizer.state";
}  // namespace

void save_run_state(const std::filesystem::path& path, const nn::Model& model, std::span<const float> optimizer,
                    const RunState& s) {
  std::vector<nn::TensorView> views;
  for (const nn::TensorSlot& t : model.layout().tensors) views.push_back({t.name, t.shape, model.tensor(t)});
  views.push_back({kOptimizerTensor, {int64_t(optimizer.size())}, optimizer});
  json history = json::array();
  for (const EpochRow& r : s.history) history.push_back(row_to_json(r));
  const json meta{{"config", s.config},         {"corpus", s.corpus_identity},  {"epoch", s.epoch},
                  {"steps", s.steps},           {"lr_scale", s.lr_scale},       {"rollbacks", s.rollbacks},
                  {"best_epoch", s.best_epoch}, {"best_val_loss", s.best_val_loss}, {"bad_epochs", s.bad_epochs},
                  {"seconds", s.seconds},       {"history", history}};
  nn::write_safetensors(path, views,
                        {{nn::kMetaModel, nn::model_spec_to_json(model.spec()).dump()}, {kMetaState, meta.dump()}},
                        nn::DType::f32);
}

LoadedState load_run_state(const std::filesystem::path& path) {
  const std::string what = path.string();
  nn::SafetensorsFile file = nn::read_safetensors(path);
  auto meta = file.metadata.find(kMetaState);
  auto opt = file.tensors.find(kOptimizerTensor);
  if (meta == file.metadata.end() || opt == file.tensors.end())
    throw FormatError(what + ": not a training state (no etude.train_state or optimizer.state); "
                      "start a new run with another --out");
  std::vector<float> optimizer = std::move(opt->second.data);
  file.tensors.erase(opt);
  RunState s;
  try {
    const json j = json::parse(meta->second);
    s.config = j.at("config");
    s.corpus_identity = j.at("corpus").get<std::string>();
    s.epoch = j.at("epoch");
    s.steps = j.at("steps");
    s.lr_scale = j.at("lr_scale");
    s.rollbacks = j.at("rollbacks");
    s.best_epoch = j.at("best_epoch");
    s.best_val_loss = j.at("best_val_loss");
    s.bad_epochs = j.at("bad_epochs");
    s.seconds = j.at("seconds");
    for (const json& r : j.at("history")) s.history.push_back(row_from_json(r));
  } catch (const json::exception& e) {
    throw FormatError(what + ": etude.train_state metadata is damaged (" + e.what() +
                      "); start a new run with another --out");
  }
  nn::LoadedModel m = nn::model_from_safetensors(std::move(file), what);
  return {std::move(m.model), std::move(optimizer), std::move(s)};
}

}  // namespace etude::train
