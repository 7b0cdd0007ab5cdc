// The batched inference stepper; see inference.hpp.
// Each step is one T=1 forward of the stack in inference mode over `streams` rows.
#include "nn/inference.hpp"

#include <omp.h>

#include <algorithm>

#include "base/error.hpp"
#include "nn/layers.hpp"

namespace etude::nn {

Stepper::Stepper(const Model& model, int streams, LstmBackend backend, Precision precision)
    : model_(model), streams_(streams) {
  if (streams < 1) throw InvalidArgument("stepper: streams must be positive (got " + std::to_string(streams) + ")");
  const ModelSpec& spec = model.spec();
  const size_t n = spec.layers.size();
  kernels_.resize(n);
  h_.resize(n), c_.resize(n), h_next_.resize(n), c_next_.resize(n);
  int f = input_features(spec);
  act_.emplace_back(size_t(streams) * f);
  for (size_t i = 0; i < n; ++i) {
    const LayerSpec& l = spec.layers[i];
    if (l.kind == LayerKind::lstm) {
      const LstmDims d{1, streams, f, l.units};
      kernels_[i] = backend == LstmBackend::fast ? make_cpu_lstm(d, precision, /*inference_only=*/true) : make_reference_lstm(d);
      for (auto* v : {&h_[i], &c_[i], &h_next_[i], &c_next_[i]}) v->assign(size_t(streams) * l.units, 0.0f);
    }
    step_macs_ += double(streams) * model.layout().features[i] *
                  (l.kind == LayerKind::lstm ? 4.0 * (f + l.units) : l.kind == LayerKind::dense ? f : 0.0);
    f = model.layout().features[i];
    act_.emplace_back(size_t(streams) * f);
  }
}

Stepper::~Stepper() = default;

int Stepper::step_threads() const { return step_macs_ < kSingleThreadMacs ? 1 : omp_get_max_threads(); }

void Stepper::reset() {
  for (auto* states : {&h_, &c_})
    for (auto& v : *states) std::fill(v.begin(), v.end(), 0.0f);
}

void Stepper::reset_stream(int s) {
  if (s < 0 || s >= streams_) throw InvalidArgument("stepper: no stream " + std::to_string(s));
  for (auto* states : {&h_, &c_})
    for (auto& v : *states)
      if (!v.empty()) {
        const size_t h = v.size() / streams_;
        std::fill_n(v.begin() + s * h, h, 0.0f);
      }
}

std::span<const float> Stepper::step(std::span<const int32_t> tokens) {
  const ModelSpec& spec = model_.spec();
  const ParamLayout& layout = model_.layout();
  if (tokens.size() != size_t(streams_))
    throw InvalidArgument("stepper: got " + std::to_string(tokens.size()) + " tokens for " +
                          std::to_string(streams_) + " streams");
  check_tokens(tokens, spec.vocab, "tokens");
  const int B = streams_;
  // The thread count is this calling thread's OpenMP setting: narrowed for the step, then restored.
  const int threads = omp_get_max_threads(), use = step_threads();
  if (use != threads) omp_set_num_threads(use);
  switch (spec.input) {
    case InputKind::embedding:
      embedding_forward(model_.tensor(layout.tensors[layout.embedding_slot]).data(), spec.embed_dim, tokens.data(), B,
                        act_[0].data());
      break;
    case InputKind::scalar: scalar_forward(tokens.data(), B, spec.vocab, act_[0].data()); break;
    case InputKind::onehot: onehot_forward(tokens.data(), B, spec.vocab, act_[0].data()); break;
  }
  int f = input_features(spec);
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const LayerSpec& l = spec.layers[i];
    const auto& s = layout.layer_slots[i];
    auto P = [&](int k) { return model_.tensor(layout.tensors[s[k]]).data(); };
    const float* x = act_[i].data();
    float* y = act_[i + 1].data();
    const int in = f;
    f = layout.features[i];
    switch (l.kind) {
      case LayerKind::lstm:
        kernels_[i]->forward({P(0), P(1), P(2), P(3)}, x, h_[i].data(), c_[i].data(), y, h_next_[i].data(),
                             c_next_[i].data(), false);
        std::swap(h_[i], h_next_[i]);
        std::swap(c_[i], c_next_[i]);
        break;
      case LayerKind::dense: dense_forward(x, B, in, P(0), P(1), f, int(l.activation), y); break;
      case LayerKind::dropout: std::copy_n(x, size_t(B) * f, y); break;
      case LayerKind::batchnorm: batchnorm_forward_eval(x, B, f, P(0), P(1), l.eps, P(2), P(3), y); break;
    }
  }
  if (use != threads) omp_set_num_threads(threads);
  return act_.back();
}

std::vector<float> Stepper::run(std::span<const int32_t> tokens) {
  if (streams_ != 1) throw InvalidArgument("stepper: run() needs a single-stream stepper");
  const int V = model_.spec().vocab;
  std::vector<float> out(tokens.size() * V);
  for (size_t t = 0; t < tokens.size(); ++t) {
    auto logits = step(tokens.subspan(t, 1));
    std::copy(logits.begin(), logits.end(), out.begin() + t * V);
  }
  return out;
}

}  // namespace etude::nn
