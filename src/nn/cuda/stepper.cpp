// The CUDA composing stepper (CudaStepper : DeviceStepper): weights uploaded once, each step runs
// the input stage (plus each stream's style vector, for a conditioned model), one cuDNN time step
// per LSTM layer (states in, new states out, ping-pong) and the dense head for all streams, then
// copies the logits back: one wait per step. A step is the layer walk (nn/layer_walk.hpp) by Ops.
#include "nn/cuda/cudnn_lstm.hpp"
#include "nn/cuda/kernels.hpp"
#include "nn/cuda/stack.hpp"
#include "nn/device.hpp"
#include "nn/layer_walk.hpp"

namespace etude::nn::cuda {
namespace {

class CudaStepper final : public DeviceStepper {
 public:
  CudaStepper(const ModelSpec& spec, const ParamLayout& layout, std::span<const float> params,
              std::span<const float> buffers, int streams, Precision precision);
  ~CudaStepper() override { ctx_.drain(); }
  void reset() override;
  void reset_stream(int s) override;
  std::span<const float> step(std::span<const int32_t> tokens) override;
  void set_style(int s, std::span<const float> vector) override;

 private:
  struct Ops;
  ModelSpec spec_;
  ParamLayout layout_;
  int S_;
  StackShape shape_;
  Context ctx_;
  Buffer<float> params_, buffers_;
  std::vector<std::unique_ptr<CudnnLstm>> lstm_;
  std::vector<Buffer<float>> h_, c_, h_next_, c_next_;  // per layer [streams][H] (lstm only)
  std::vector<Buffer<float>> act_;                      // act_[0] input, act_[i + 1] layer i
  Buffer<float> style_;                                 // conditioned: per stream [streams][embed_dim]
  Buffer<int32_t> tok_;
  std::vector<float> logits_;
};

CudaStepper::CudaStepper(const ModelSpec& spec, const ParamLayout& layout, std::span<const float> params,
                         std::span<const float> buffers, int streams, Precision precision)
    : spec_(spec), layout_(layout), S_(streams), shape_(stack_shape(spec, streams, 1)), ctx_(precision == Precision::f16) {
  params_ = Buffer<float>(params.size());
  buffers_ = Buffer<float>(buffers.size());
  ctx_.to_device(params_.get(), params.data(), params_.bytes());
  ctx_.to_device(buffers_.get(), buffers.data(), buffers_.bytes());
  const size_t n = spec_.layers.size();
  lstm_.resize(n);
  for (auto* v : {&h_, &c_, &h_next_, &c_next_}) v->resize(n);
  act_.emplace_back(size_t(S_) * shape_.features[0]);
  for (size_t i = 0; i < n; ++i) {
    const LayerStep s = shape_.layer(spec_, i);
    if (s.spec->kind == LayerKind::lstm) {
      lstm_[i] = std::make_unique<CudnnLstm>(ctx_, LstmDims{1, S_, s.in, s.out}, precision, false);
      const LstmTensors<float> p = lstm_tensors(layout_, i, params_.get());
      lstm_[i]->set_weights({p.w_ih, p.w_hh, p.b_ih, p.b_hh});
      for (auto* v : {&h_, &c_, &h_next_, &c_next_}) (*v)[i] = Buffer<float>(size_t(S_) * s.out);
    }
    act_.emplace_back(size_t(S_) * s.out);
  }
  tok_ = Buffer<int32_t>(size_t(S_));
  if (spec_.styles > 0) {  // no style until set_style: zero vectors, which reset() leaves alone
    style_ = Buffer<float>(size_t(S_) * spec_.embed_dim);
    ctx_.zero(style_.get(), style_.bytes());
  }
  logits_.resize(size_t(S_) * spec_.vocab);
  reset();
}

void CudaStepper::reset() {
  for (auto* states : {&h_, &c_})
    for (const Buffer<float>& b : *states)
      if (!b.empty()) ctx_.zero(b.get(), b.bytes());
}

void CudaStepper::reset_stream(int s) {
  if (s < 0 || s >= S_) throw InvalidArgument("stepper: no stream " + std::to_string(s));
  for (auto* states : {&h_, &c_})
    for (const Buffer<float>& b : *states)
      if (!b.empty()) {
        const size_t h = b.size() / S_;
        ctx_.zero(b.get() + s * h, h * sizeof(float));
      }
}

void CudaStepper::set_style(int s, std::span<const float> vector) {
  if (spec_.styles == 0) throw InvalidArgument("stepper: this model has no style table, so it takes no style");
  if (s < 0 || s >= S_) throw InvalidArgument("stepper: no stream " + std::to_string(s));
  if (vector.size() != size_t(spec_.embed_dim))
    throw InvalidArgument("CUDA stepper: a style vector of " + std::to_string(vector.size()) +
                          " floats for an embedding of " + std::to_string(spec_.embed_dim));
  ctx_.to_device(style_.get() + size_t(s) * spec_.embed_dim, vector.data(), vector.size_bytes());
}

// One step's ops: each layer reads x and leaves its output there; dropout is the identity.
struct CudaStepper::Ops {
  CudaStepper& st;
  const float* x = nullptr;
  cudaStream_t stream() const { return st.ctx_.stream; }
  void input_forward() {
    float* y = st.act_[0].get();
    input_forward_on(st.ctx_, st.spec_, st.layout_, st.params_.get(), st.tok_.get(), st.S_, y);
    if (!st.style_.empty()) add(y, st.style_.get(), int64_t(st.style_.size()), stream());
    x = y;
  }
  void lstm_forward(const LayerStep& s) {
    const size_t i = s.index;
    float* y = st.act_[i + 1].get();
    st.lstm_[i]->forward(x, y, st.h_[i].get(), st.c_[i].get(), st.h_next_[i].get(), st.c_next_[i].get());
    std::swap(st.h_[i], st.h_next_[i]);  // stream order: the next step reads what this one wrote
    std::swap(st.c_[i], st.c_next_[i]);
    x = y;
  }
  void dense_forward(const LayerStep& s) {
    const DenseTensors<float> p = dense_tensors(st.layout_, s.index, st.params_.get());
    float* y = st.act_[s.index + 1].get();
    dense_forward_on(st.ctx_, x, s.rows, s.in, p.weight, p.bias, s.out, s.spec->activation, y);
    x = y;
  }
  void dropout_forward(const LayerStep&) {}
  void activation_forward(const LayerStep& s) {
    float* y = st.act_[s.index + 1].get();
    cuda::activation_forward(x, int64_t(s.rows) * s.out, int(s.spec->activation), y, stream());
    x = y;
  }
  void batchnorm_forward(const LayerStep& s) {
    const BatchnormTensors<float> p = batchnorm_tensors(st.layout_, s.index, st.params_.get(), st.buffers_.get());
    float* y = st.act_[s.index + 1].get();
    batchnorm_eval(x, s.rows, s.out, p.gamma, p.beta, s.spec->eps, p.running_mean, p.running_var, y, stream());
    x = y;
  }
};

std::span<const float> CudaStepper::step(std::span<const int32_t> tokens) {
  if (tokens.size() != size_t(S_))
    throw InvalidArgument("stepper: got " + std::to_string(tokens.size()) + " tokens for " + std::to_string(S_) +
                          " streams");
  check_tokens(tokens, spec_.vocab, "tokens");
  ctx_.to_device(tok_.get(), tokens.data(), tok_.bytes());
  Ops ops{*this};
  walk_forward(spec_, shape_, ops);
  ctx_.to_host(logits_.data(), ops.x, logits_.size() * sizeof(float));
  return logits_;
}

}  // namespace

std::unique_ptr<DeviceStepper> make_stepper(const ModelSpec& spec, const ParamLayout& layout,
                                            std::span<const float> params, std::span<const float> buffers,
                                            int streams, Precision precision) {
  check_precision(precision);
  if (streams < 1) throw InvalidArgument("stepper: streams must be positive (got " + std::to_string(streams) + ")");
  if (params.size() != layout.param_count || buffers.size() != layout.buffer_count)
    throw InvalidArgument("CUDA stepper: the parameter or buffer block does not fit the model's layout");
  return std::make_unique<CudaStepper>(spec, layout, params, buffers, streams, precision);
}

}  // namespace etude::nn::cuda
