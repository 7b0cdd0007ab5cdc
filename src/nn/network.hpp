// The network: a ModelSpec made computable. One contiguous block of parameters, one of
// gradients (and one of non-trained buffers: batchnorm running statistics), activations sized
// once for (batch, time), and the forward/backward pass over the whole stack. Templated on Real:
// float is the engine (Model), double is the finite-difference oracle (reference LSTM inside).
#pragma once
#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "nn/lstm_kernel.hpp"
#include "nn/model_spec.hpp"
#include "nn/rng.hpp"

namespace etude::nn {

// One named tensor of the model, PyTorch-named (see model_io.hpp for the mapping).
struct TensorSlot {
  std::string name;
  std::vector<int64_t> shape;
  size_t offset = 0;       // into the parameter block (trainable) or the buffer block
  bool trainable = true;   // false: batchnorm running_mean / running_var
  size_t size() const;
};

// Where every tensor of a spec lives; layer_slots[i] indexes `tensors` for layer i
// (lstm: w_ih, w_hh, b_ih, b_hh; dense: weight, bias; batchnorm: weight, bias, mean, var).
struct ParamLayout {
  std::vector<TensorSlot> tensors;
  std::vector<std::vector<size_t>> layer_slots;
  std::vector<int> features;  // features[i]: output features of layer i (-1 = input stage)
  size_t embedding_slot = SIZE_MAX;
  size_t style_slot = SIZE_MAX;  // style_embedding.weight [styles][dim] when the model is conditioned
  size_t param_count = 0, buffer_count = 0;
  const TensorSlot* find(const std::string& name) const;
};
ParamLayout make_layout(const ModelSpec& spec);

// Shape logic shared by Network and the device engines (inline: the CUDA plugin links nothing of
// etude_nn). steps[0] = time (the input stage); steps[i + 1]: after layer i, 1 once an lstm
// without return_sequences has ended the sequence.
inline std::vector<int> activation_steps(const ModelSpec& spec, int time) {
  std::vector<int> steps{time};
  for (const LayerSpec& l : spec.layers)
    steps.push_back(l.kind == LayerKind::lstm && !l.return_sequences ? 1 : steps.back());
  return steps;
}
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
  // Logits of the last forward, time-major [rows/B][B][vocab]; rows = B*T, or B when the stack
  // ends with a non-sequence lstm.
  std::span<const Real> logits() const;
  int logit_steps() const;  // T or 1
  void seed_dropout(uint64_t seed) { dropout_rng_ = Rng(seed); }

 private:
  struct Work;
  ModelSpec spec_;
  ParamLayout layout_;
  std::vector<Real> params_, buffers_, grads_;
  std::unique_ptr<Work> work_;
  int B_ = 0, T_ = 0;
  Rng dropout_rng_{0xd509};
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
