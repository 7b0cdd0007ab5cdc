// The network: a ModelSpec made computable on the CPU. One contiguous block of parameters, one of
// gradients (and one of non-trained buffers: batchnorm running statistics), activations sized
// once for (batch, time), and the layer walk (layer_walk.hpp) over them. Templated on Real: float
// is the engine (Model), double is the finite-difference oracle (reference LSTM inside).
#pragma once
#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "nn/lstm_kernel.hpp"
#include "nn/layer_walk.hpp"
#include "nn/model_spec.hpp"
#include "nn/param_layout.hpp"
#include "nn/rng.hpp"

namespace etude::nn {

// Batch-major tokens [B][T] (as a caller slices windows) -> time-major [T][B].
inline void to_time_major(const int32_t* tokens, int B, int T, int32_t* out) {
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) out[size_t(t) * B + b] = tokens[size_t(b) * T + t];
}
// The target of each logit row, time-major [steps][B]: seq2seq reads targets [B][T]; seq2one
// reads targets [B] into the last step's rows, and every other row gets -1 (not counted).
inline void logit_row_targets(Mode mode, const int32_t* targets, int B, int T, int steps, int32_t* out) {
  if (mode == Mode::seq2seq) {
    to_time_major(targets, B, T, out);
    return;
  }
  std::fill(out, out + size_t(steps) * B, -1);
  std::copy_n(targets, B, out + size_t(steps - 1) * B);
}

enum class LstmBackend { fast, reference };  // fast: make_cpu_lstm; reference: make_reference_lstm

template <class Real>
class Network {
 public:
  explicit Network(ModelSpec spec);  // parameters zero, running var one; see init_random
  ~Network();
  Network(Network&&) noexcept;
  Network& operator=(Network&&) noexcept;

  // PyTorch's default inits (uniform +-1/sqrt(fan) for lstm/dense, N(0,1) embedding), then the
  // lstm forget-gate bias_ih slice set to forget_bias. Style rows start at zero (the model begins as
  // an unconditioned one; no draw is spent on them, so unconditioned models init as before).
  void init_random(uint64_t seed);

  const ModelSpec& spec() const { return spec_; }
  const ParamLayout& layout() const { return layout_; }
  std::span<Real> params() { return params_; }
  std::span<const Real> params() const { return params_; }
  std::span<Real> buffers() { return buffers_; }
  std::span<const Real> buffers() const { return buffers_; }
  std::span<Real> grads() { return grads_; }
  std::span<Real> tensor(const TensorSlot& slot);  // view into params or buffers
  std::span<const Real> tensor(const TensorSlot& slot) const;

  // Sizes activations, gradients and LSTM kernels once for batch x time (again only if they
  // change). The double network always uses the reference LSTM.
  void prepare(int batch, int time, LstmBackend backend = LstmBackend::fast,
               Precision precision = Precision::f32);
  int batch() const { return B_; }
  int time() const { return T_; }

  // tokens [B][T] row-major (batch-major, as a caller slices windows). Training mode draws dropout
  // masks and uses batch statistics (updating the running ones). Returns nothing; see logits().
  // styles [B][T], the style row of every token: required by a conditioned model (spec.styles > 0),
  // refused by one without styles.
  void forward(const int32_t* tokens, bool training, const int32_t* styles = nullptr);
  // Training forward + loss + backward; grads() is overwritten. targets: [B][T] for seq2seq,
  // [B] for seq2one. Returns the mean cross-entropy.
  double forward_backward(const int32_t* tokens, const int32_t* targets, const int32_t* styles = nullptr);
  // The same over time-major input already checked, as a DeviceEngine takes it (cpu/cpu_engine):
  // tokens and styles [T][B], row_targets one per logit row (-1: not counted; logit_row_targets).
  void forward_time_major(const int32_t* tokens_tm, const int32_t* styles_tm, bool training);
  double forward_backward_time_major(const int32_t* tokens_tm, const int32_t* styles_tm, const int32_t* row_targets);
  // Logits of the last forward, time-major [rows/B][B][vocab]; rows = B*T, or B when the stack
  // ends with a non-sequence lstm.
  std::span<const Real> logits() const;
  int logit_steps() const;  // T or 1
  void seed_dropout(uint64_t seed) { dropout_rng_ = Rng(seed); }
  // Data-parallel: this network's batch is columns offset .. offset + batch of a batch of
  // global_batch, and dropout draws the masks the whole batch would give those columns
  // (layers.hpp: dropout_forward_shard). global_batch 0: the network's own batch (the default).
  void set_batch_shard(int offset, int global_batch);

 private:
  struct LayerWork;
  struct Work;
  struct Pass;  // the walk's ops over this network's blocks (network.cpp)
  void run_forward(bool training);
  double loss_and_backward();  // from the last training forward and the row targets in work_
  ModelSpec spec_;
  ParamLayout layout_;
  std::vector<Real> params_, buffers_, grads_;
  std::unique_ptr<Work> work_;
  int B_ = 0, T_ = 0;
  Rng dropout_rng_{0xd509};
  int shard_offset_ = 0, shard_global_ = 0;  // set_batch_shard
};

extern template class Network<float>;
extern template class Network<double>;
using Model = Network<float>;

// Checks tokens lie in [0, vocab); throws InvalidArgument naming the position. Inline: the CUDA
// plugin checks with it too.
inline void check_tokens(std::span<const int32_t> tokens, int vocab, const char* what) {
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || tokens[i] >= vocab)
      throw InvalidArgument(std::string(what) + "[" + std::to_string(i) + "] = " + std::to_string(tokens[i]) +
                            " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
}

// Checks a style input against the model: present exactly when the model is conditioned, and every
// row inside its style table. Inline: the CUDA plugin checks with it too.
inline void check_styles(const ModelSpec& spec, const int32_t* styles, size_t n) {
  if (spec.styles == 0 && styles)
    throw InvalidArgument("this model has no style table: it takes no styles (train it with styles to condition it)");
  if (spec.styles > 0 && !styles)
    throw InvalidArgument("this model is conditioned on " + std::to_string(spec.styles) +
                          " styles: give the style of every token");
  if (styles) check_tokens({styles, n}, spec.styles, "styles");
}

}  // namespace etude::nn
