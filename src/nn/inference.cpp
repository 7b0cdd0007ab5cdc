// The batched inference stepper; see inference.hpp. It checks what it is given, blends style rows
// into vectors, and leaves each step to its DeviceStepper (cpu/cpu_stepper or the CUDA plugin's).
#include "nn/inference.hpp"

#include <cmath>

#include "base/error.hpp"
#include "nn/cpu/cpu_stepper.hpp"

namespace etude::nn {

Stepper::Stepper(const Model& model, int streams, LstmBackend backend, Precision precision, Device device)
    : model_(model), streams_(streams) {
  if (streams < 1) throw InvalidArgument("stepper: streams must be positive (got " + std::to_string(streams) + ")");
  check_precision(device, precision);
  if (device == Device::cpu) {
    device_ = make_cpu_stepper(model, streams, backend, precision);
    return;
  }
  if (backend == LstmBackend::reference) throw InvalidArgument("the reference LSTM runs on the CPU only; use --device cpu with it");
  device_ = cuda_backend().make_stepper(model.spec(), model.layout(), model.params(), model.buffers(), streams, precision);
}

Stepper::~Stepper() = default;

void Stepper::reset() { device_->reset(); }

void Stepper::reset_stream(int s) {
  if (s < 0 || s >= streams_) throw InvalidArgument("stepper: no stream " + std::to_string(s));
  device_->reset_stream(s);
}

void Stepper::set_style(int s, std::span<const float> weights) {
  const ModelSpec& spec = model_.spec();
  if (spec.styles == 0) throw InvalidArgument("stepper: this model has no style table, so it takes no style");
  if (s < 0 || s >= streams_) throw InvalidArgument("stepper: no stream " + std::to_string(s));
  if (weights.size() != size_t(spec.styles))
    throw InvalidArgument("stepper: " + std::to_string(weights.size()) + " style weights for a model of " +
                          std::to_string(spec.styles) + " styles");
  const int D = spec.embed_dim;
  std::vector<float> v(size_t(D), 0.0f);
  const float* table = input_tensors(model_.layout(), model_.params().data()).style;
  for (size_t k = 0; k < weights.size(); ++k) {
    if (!std::isfinite(weights[k])) throw InvalidArgument("stepper: style weight " + std::to_string(k) + " is not finite");
    if (weights[k] == 0.0f) continue;
    for (int d = 0; d < D; ++d) v[size_t(d)] += weights[k] * table[k * size_t(D) + size_t(d)];
  }
  device_->set_style(s, v);
}

std::span<const float> Stepper::step(std::span<const int32_t> tokens) {
  if (tokens.size() != size_t(streams_))
    throw InvalidArgument("stepper: got " + std::to_string(tokens.size()) + " tokens for " +
                          std::to_string(streams_) + " streams");
  check_tokens(tokens, model_.spec().vocab, "tokens");
  return device_->step(tokens);
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
