// The model's tensor layout; see param_layout.hpp.
#include "nn/param_layout.hpp"

namespace etude::nn {

size_t TensorSlot::size() const {
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

const TensorSlot* ParamLayout::find(const std::string& name) const {
  for (const TensorSlot& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

ParamLayout make_layout(const ModelSpec& spec) {
  validate_model_spec(spec);
  ParamLayout L;
  auto add = [&](std::string name, std::vector<int64_t> shape, bool trainable) {
    TensorSlot t{std::move(name), std::move(shape), 0, trainable};
    size_t& count = trainable ? L.param_count : L.buffer_count;
    t.offset = count;
    count += t.size();
    L.tensors.push_back(std::move(t));
    return L.tensors.size() - 1;
  };
  if (spec.input == InputKind::embedding)
    L.embedding_slot = add("embedding.weight", {spec.vocab, spec.embed_dim}, true);
  if (spec.styles > 0) L.style_slot = add("style_embedding.weight", {spec.styles, spec.embed_dim}, true);
  int f = input_features(spec);
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const LayerSpec& l = spec.layers[i];
    const std::string p = std::to_string(i) + ".";
    std::vector<size_t> slots;
    if (l.kind == LayerKind::lstm) {
      const int64_t h = l.units;
      slots = {add("lstm." + p + "weight_ih_l0", {4 * h, f}, true), add("lstm." + p + "weight_hh_l0", {4 * h, h}, true),
               add("lstm." + p + "bias_ih_l0", {4 * h}, true), add("lstm." + p + "bias_hh_l0", {4 * h}, true)};
      f = l.units;
    } else if (l.kind == LayerKind::dense) {
      const int out = dense_units(spec, l);
      slots = {add("dense." + p + "weight", {out, f}, true), add("dense." + p + "bias", {out}, true)};
      f = out;
    } else if (l.kind == LayerKind::batchnorm) {
      slots = {add("batchnorm." + p + "weight", {f}, true), add("batchnorm." + p + "bias", {f}, true),
               add("batchnorm." + p + "running_mean", {f}, false),
               add("batchnorm." + p + "running_var", {f}, false)};
    }
    L.layer_slots.push_back(std::move(slots));
    L.features.push_back(f);
  }
  return L;
}

}  // namespace etude::nn
