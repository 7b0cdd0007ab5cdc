// Where a ModelSpec's tensors live: one block of parameters, one of buffers (batchnorm's running
// statistics), each tensor PyTorch-named; and the typed views of one layer's tensors, the one place
// that knows the order the layout gives them. Inline views: the CUDA plugin uses them too.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "nn/model_spec.hpp"

namespace etude::nn {

// One named tensor of the model, PyTorch-named (see model_io.hpp for the mapping).
struct TensorSlot {
  std::string name;
  std::vector<int64_t> shape;
  size_t offset = 0;       // into the parameter block (trainable) or the buffer block
  bool trainable = true;   // false: batchnorm running_mean / running_var
  size_t size() const;
};

// Where every tensor of a spec lives; layer_slots[i] indexes `tensors` for layer i, in the order
// the views below read (lstm: w_ih, w_hh, b_ih, b_hh; dense: weight, bias; batchnorm: weight,
// bias, running mean, running var).
struct ParamLayout {
  std::vector<TensorSlot> tensors;
  std::vector<std::vector<size_t>> layer_slots;
  std::vector<int> features;  // features[i]: output features of layer i
  size_t embedding_slot = SIZE_MAX;
  size_t style_slot = SIZE_MAX;  // style_embedding.weight [styles][dim] when the model is conditioned
  size_t param_count = 0, buffer_count = 0;
  const TensorSlot* find(const std::string& name) const;
};
ParamLayout make_layout(const ModelSpec& spec);

// Typed views of a layer's tensors in a block of T (float, const float, double; a gradient block
// has the parameter block's offsets, so the same view reads it). Members are null where absent.
template <class T>
struct InputTensors {
  T* embedding = nullptr;  // [vocab][embed_dim]
  T* style = nullptr;      // [styles][embed_dim]
};
template <class T>
struct LstmTensors {
  T* w_ih = nullptr;  // [4H][I], gates i, f, g, o
  T* w_hh = nullptr;  // [4H][H]
  T* b_ih = nullptr;  // [4H]
  T* b_hh = nullptr;  // [4H]
};
template <class T>
struct DenseTensors {
  T* weight = nullptr;  // [out][in]
  T* bias = nullptr;    // [out]
};
template <class T>
struct BatchnormTensors {
  T* gamma = nullptr;  // [f], starts at one
  T* beta = nullptr;   // [f]
  T* running_mean = nullptr;  // [f], in the buffer block (null for a gradient block)
  T* running_var = nullptr;   // [f], likewise; starts at one
};

template <class T>
InputTensors<T> input_tensors(const ParamLayout& layout, T* params) {
  InputTensors<T> t;
  if (layout.embedding_slot != SIZE_MAX) t.embedding = params + layout.tensors[layout.embedding_slot].offset;
  if (layout.style_slot != SIZE_MAX) t.style = params + layout.tensors[layout.style_slot].offset;
  return t;
}
template <class T>
LstmTensors<T> lstm_tensors(const ParamLayout& layout, size_t layer, T* params) {
  const std::vector<size_t>& s = layout.layer_slots[layer];
  auto at = [&](size_t k) { return params + layout.tensors[s[k]].offset; };
  return {at(0), at(1), at(2), at(3)};
}
template <class T>
DenseTensors<T> dense_tensors(const ParamLayout& layout, size_t layer, T* params) {
  const std::vector<size_t>& s = layout.layer_slots[layer];
  return {params + layout.tensors[s[0]].offset, params + layout.tensors[s[1]].offset};
}
// buffers: the buffer block, or nullptr (a gradient block has no running statistics).
template <class T>
BatchnormTensors<T> batchnorm_tensors(const ParamLayout& layout, size_t layer, T* params, T* buffers) {
  const std::vector<size_t>& s = layout.layer_slots[layer];
  BatchnormTensors<T> t{params + layout.tensors[s[0]].offset, params + layout.tensors[s[1]].offset};
  if (buffers) t.running_mean = buffers + layout.tensors[s[2]].offset, t.running_var = buffers + layout.tensors[s[3]].offset;
  return t;
}

}  // namespace etude::nn
