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

class PackedLstm;
class PackedDense;
class StepTeam;

// The fast backend steps packed copies of the weights (cpu/packed_lstm.hpp: f32 exact, or bf16
// rounded once; the first LSTM's input part from a per-token table when the model's vocabulary
// allows), a step's layers shared by a team of threads that sleep rather than spin when they wait
// (cpu/step_team.hpp); the reference backend steps the naive kernels. On Device::cuda every step
// goes to the plugin's DeviceStepper (precision f32 or f16; the backend must be fast).
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
  int step_threads() const;
  void set_step_threads(int n) { threads_ = n; }  // n > 0: exactly n threads; 0: as above
  static constexpr double kSingleThreadMacs = 1e6;
  // The token table is built when vocab x (first layer's input features) x 4H stays below this.
  static constexpr double kTableMacs = double(1 << 29);
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
  const float* input_stage(std::span<const int32_t> tokens);  // act_[0], or table rows
  const float* step_reference(const float* x);
  const float* step_fast(const float* x, int threads);
  const Model& model_;
  int streams_;
  std::unique_ptr<DeviceStepper> device_;                   // cuda: the plugin's stepper
  double step_macs_ = 0;
  int threads_ = 0;
  struct Tuning {  // the automatic choice between 1 and step_threads() threads
    double ms[2] = {0, 0};  // recent step times (moving average) of each choice
    int64_t steps = 0, next_probe = 0, interval = 64;
    int best = 1;
  } tune_;
  int choose_threads();
  void record_step(int choice, double ms);
  std::vector<std::unique_ptr<LstmKernel>> kernels_;       // reference: per layer (lstm only), T=1
  std::vector<std::unique_ptr<PackedLstm>> lstm_;          // fast: per layer (lstm only)
  std::vector<std::unique_ptr<PackedDense>> dense_;        // fast: per layer (dense only)
  std::unique_ptr<StepTeam> team_;                          // fast: the step's threads
  // fast, first layer an LSTM: the input part of its gates for every token [vocab][gate size]
  // (W_ih x + biases; the step then reads one row instead of multiplying by W_ih).
  std::vector<float> table_;
  size_t table_row_ = 0;
  std::vector<const float*> rows_;                           // per stream: its token's table row
  std::vector<std::vector<float>> h_, c_, h_next_, c_next_;  // per layer [streams][H]
  std::vector<std::vector<float>> act_;                      // act_[0] input, act_[i+1] layer i
  std::vector<float> style_;                                 // conditioned: per stream [streams][dim]
};

}  // namespace etude::nn
