// Inference: a batch of independent token streams stepped together, one token per stream per
// step, carrying each LSTM's (h, c) state between steps; batchnorm uses running statistics and
// dropout is the identity. Used for composing and for `etude forward`; on the CPU here, or on CUDA
// through a DeviceStepper (the CUDA plugin's).
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "nn/device.hpp"
#include "nn/network.hpp"

namespace etude::nn {

class Stepper {
 public:
  // Reads the model's parameters (fast: packs them once, here): the model must outlive the stepper
  // and not move, and its weights must not change while the stepper lives. Precision: f32 or bf16
  // on the CPU, f32 or f16 on cuda (InvalidArgument otherwise).
  Stepper(const Model& model, int streams, LstmBackend backend = LstmBackend::fast,
          Precision precision = Precision::f32, Device device = Device::cpu);
  ~Stepper();
  int streams() const { return streams_; }
  // Threads a step may run on: 1 when a step's work is below kSingleThreadMacs (a tiny model: a
  // barrier then costs more than it saves), otherwise the OpenMP default (set_compute_threads).
  // The fast backend then times its steps and runs each on whichever of 1 and that many threads
  // has been faster lately (probing the other now and then): a step of `default` streams 13 MB of
  // weights, which two cores do faster than one on an idle machine, while on a busy one a
  // descheduled partner makes every step wait. Results are the same bit for bit either way.
  int step_threads() const { return device_->threads(); }
  void set_step_threads(int n) { device_->set_threads(n); }  // n > 0: exactly n threads; 0: as above
  void reset();                 // every stream back to the zero state
  void reset_stream(int s);     // one stream back to the zero state
  // Conditioned models (spec.styles > 0): stream s composes in the blend sum_k weights[k] x style
  // row k (one weight per style; a single style is a one-hot weight). Kept until set again (reset
  // keeps it); a stream never set has no style vector (all weights zero). InvalidArgument for a
  // model without styles or weights of the wrong count or not finite.
  void set_style(int s, std::span<const float> weights);
  // Feeds tokens[s] to stream s; returns the logits [streams][vocab], valid until the next step.
  std::span<const float> step(std::span<const int32_t> tokens);
  // Feeds a whole sequence to a single-stream stepper; returns logits [tokens][vocab].
  std::vector<float> run(std::span<const int32_t> tokens);

 private:
  const Model& model_;
  int streams_;
  std::unique_ptr<DeviceStepper> device_;  // cpu/cpu_stepper's or the CUDA plugin's
};

}  // namespace etude::nn
