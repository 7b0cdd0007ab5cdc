// Model <-> safetensors with the PyTorch tensor names; see model_io.hpp.
// Loading checks the tensor set and every shape against the embedded model JSON.
#include "nn/model_io.hpp"

#include "base/error.hpp"
#include "base/file_io.hpp"
#include "base/input_text.hpp"

namespace etude::nn {
namespace {
std::string shape_text(const std::vector<int64_t>& s) {
  std::string t = "[";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + "]";
}
}  // namespace

std::vector<uint8_t> encode_model(const Model& model, DType dtype, const std::map<std::string, std::string>& metadata) {
  std::vector<TensorView> views;
  for (const TensorSlot& t : model.layout().tensors) views.push_back({t.name, t.shape, model.tensor(t)});
  auto meta = metadata;
  meta[kMetaModel] = model_spec_to_json(model.spec()).dump();
  return encode_safetensors(views, meta, dtype);
}

void save_model(const std::filesystem::path& path, const Model& model, DType dtype,
                const std::map<std::string, std::string>& metadata) {
  write_file_atomic(path, encode_model(model, dtype, metadata));
}

LoadedModel decode_model(std::span<const uint8_t> bytes, const std::string& what) {
  return model_from_safetensors(decode_safetensors(bytes, what), what);
}

LoadedModel model_from_safetensors(SafetensorsFile file, const std::string& what) {
  auto it = file.metadata.find(kMetaModel);
  if (it == file.metadata.end())
    throw FormatError(what + ": no \"etude.model\" entry in __metadata__ (not an Etude model file)");
  ModelSpec spec;
  try {
    spec = parse_model_spec(nlohmann::json::parse(it->second));
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(what + ": etude.model metadata is not valid JSON (" + json_error_text(e) + ")");
  } catch (const Error& e) {
    throw FormatError(what + ": etude.model metadata: " + quote_input(e.what(), 150));
  }
  // Every tensor is checked against the layout before the model is allocated: its size is then
  // bounded by the file's own bytes, whatever the model JSON claims.
  const ParamLayout layout = make_layout(spec);
  for (const TensorSlot& t : layout.tensors) {
    auto st = file.tensors.find(t.name);
    if (st == file.tensors.end())
      throw FormatError(what + ": tensor " + t.name + " is missing (the model JSON needs it with shape " +
                        shape_text(t.shape) + ")");
    if (st->second.shape != t.shape)
      throw FormatError(what + ": tensor " + t.name + " has shape " + shape_text(st->second.shape) +
                        " but the model JSON needs " + shape_text(t.shape));
  }
  LoadedModel out{Model(std::move(spec)), std::move(file.metadata), std::move(file.warnings)};
  for (const TensorSlot& t : layout.tensors) {
    const auto& data = file.tensors.at(t.name).data;
    std::copy(data.begin(), data.end(), out.model.tensor(t).begin());
  }
  for (const auto& [name, st] : file.tensors)
    if (!layout.find(name))
      throw FormatError(what + ": tensor " + quote_input(name, 60) + " is not part of the model JSON (wrong file or mixed-up layers)");
  return out;
}

LoadedModel load_model(const std::filesystem::path& path) {
  return decode_model(read_file_bytes(path), path.string());
}

}  // namespace etude::nn
