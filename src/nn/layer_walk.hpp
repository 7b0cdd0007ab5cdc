// The network's layer sequence, written once: the input stage and every layer of a ModelSpec, in
// order for the forward pass and in reverse for the backward, each handed to a backend's op with its
// shapes. Every backend instantiates it: Network (float over the oneDNN kernels; double, the
// gradient-check oracle), the composing steppers (cpu/cpu_stepper.cpp) and the CUDA engine and
// stepper. A new layer kind is one case here plus one op per backend.
//
// The gradient convention, for every layer and the input stage: a backward op OVERWRITES the
// gradients of its own parameters (never accumulates), writes dx only when it is wanted (the
// backend passes none for the first layer of a model whose input has no parameters), and may
// destroy dy.
#pragma once
#include <cstddef>
#include <vector>

#include "nn/model_spec.hpp"

namespace etude::nn {

// One layer as the walk hands it to an op: its spec, where it sits, the shapes around it.
struct LayerStep {
  size_t index = 0;  // i: reads activation i, writes activation i + 1
  const LayerSpec* spec = nullptr;
  int steps = 0;     // time steps of the input (an lstm's T; 1 once a sequence has ended)
  int rows = 0;      // input rows, steps x batch (time-major)
  int in = 0;        // input features
  int out = 0;       // output features
};

// The shapes of a stack over (batch, time): activation 0 is the input stage, i + 1 what layer i
// gives; steps[i] is its time length (1 after an lstm without return_sequences).
struct StackShape {
  int batch = 0;
  std::vector<int> features, steps;
  LayerStep layer(const ModelSpec& spec, size_t i) const {
    return {i, &spec.layers[i], steps[i], steps[i] * batch, features[i], features[i + 1]};
  }
  int logit_rows() const { return steps.back() * batch; }
};

inline StackShape stack_shape(const ModelSpec& spec, int batch, int time) {
  StackShape s{batch, {input_features(spec)}, {time}};
  for (const LayerSpec& l : spec.layers) {
    const int f = s.features.back();
    s.features.push_back(l.kind == LayerKind::lstm ? l.units : l.kind == LayerKind::dense ? dense_units(spec, l) : f);
    s.steps.push_back(l.kind == LayerKind::lstm && !l.return_sequences ? 1 : s.steps.back());
  }
  return s;
}

// Ops: input_forward(); lstm_forward / dense_forward / dropout_forward / batchnorm_forward(LayerStep).
template <class Ops>
void walk_forward(const ModelSpec& spec, const StackShape& shape, Ops& ops) {
  ops.input_forward();
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const LayerStep s = shape.layer(spec, i);
    switch (s.spec->kind) {
      case LayerKind::lstm: ops.lstm_forward(s); break;
      case LayerKind::dense: ops.dense_forward(s); break;
      case LayerKind::dropout: ops.dropout_forward(s); break;
      case LayerKind::batchnorm: ops.batchnorm_forward(s); break;
      case LayerKind::activation: ops.activation_forward(s); break;
    }
  }
}

// Ops: lstm_backward / dense_backward / dropout_backward / batchnorm_backward(LayerStep), last layer
// first, then input_backward(); the loss's gradient is already in the last activation's gradient.
template <class Ops>
void walk_backward(const ModelSpec& spec, const StackShape& shape, Ops& ops) {
  for (size_t i = spec.layers.size(); i-- > 0;) {
    const LayerStep s = shape.layer(spec, i);
    switch (s.spec->kind) {
      case LayerKind::lstm: ops.lstm_backward(s); break;
      case LayerKind::dense: ops.dense_backward(s); break;
      case LayerKind::dropout: ops.dropout_backward(s); break;
      case LayerKind::batchnorm: ops.batchnorm_backward(s); break;
      case LayerKind::activation: ops.activation_backward(s); break;
    }
  }
  ops.input_backward();
}

}  // namespace etude::nn
