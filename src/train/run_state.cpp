// Saving and loading the resumable state; see run_state.hpp.
#include "train/run_state.hpp"

#include "base/error.hpp"
#include "base/file_io.hpp"
#include "base/input_text.hpp"
#include "base/json_text.hpp"
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
  nn::write_safetensors(path, views,
                        {{nn::kMetaModel, nn::model_spec_to_json(model.spec()).dump()}, {kMetaState, utf8_dump(json(s))}},
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
    s = json::parse(meta->second).get<RunState>();
  } catch (const json::exception& e) {
    throw FormatError(what + ": etude.train_state metadata is damaged (" + json_error_text(e) +
                      "); start a new run with another --out");
  }
  nn::LoadedModel m = nn::model_from_safetensors(std::move(file), what);
  const size_t per_param = m.model.spec().optimizer.kind == nn::OptimizerKind::adam ? 2 : 1;
  if (optimizer.size() != per_param * m.model.params().size())
    throw FormatError(what + ": tensor optimizer.state holds " + std::to_string(optimizer.size()) + " values, expected " +
                      std::to_string(per_param * m.model.params().size()) + "; start a new run with another --out");
  return {std::move(m.model), std::move(optimizer), std::move(s)};
}

}  // namespace etude::train
