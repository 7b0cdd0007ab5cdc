// The CUDA composing stepper (CudaStepper : DeviceStepper): weights uploaded once, each step runs
// the input stage (plus each stream's style vector, for a conditioned model), one cuDNN time step
// per LSTM layer (states in, new states out, ping-pong) and the dense head for all streams, then
// copies the logits back: one wait per step.
#include "nn/cuda/cudnn_lstm.hpp"
#include "nn/cuda/kernels.hpp"
#include "nn/cuda/stack.hpp"
#include "nn/device.hpp"

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
  ModelSpec spec_;
  ParamLayout layout_;
  int S_;
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
    : spec_(spec), layout_(layout), S_(streams), ctx_(precision == Precision::f16) {
  params_ = Buffer<float>(params.size());
  buffers_ = Buffer<float>(buffers.size());
  ctx_.to_device(params_.get(), params.data(), params_.bytes());
  ctx_.to_device(buffers_.get(), buffers.data(), buffers_.bytes());
  const size_t n = spec_.layers.size();
  lstm_.resize(n);
  for (auto* v : {&h_, &c_, &h_next_, &c_next_}) v->resize(n);
  int f = input_features(spec_);
  act_.emplace_back(size_t(S_) * f);
  for (size_t i = 0; i < n; ++i) {
    const int in = f;
    f = layout_.features[i];
    if (spec_.layers[i].kind == LayerKind::lstm) {
      lstm_[i] = std::make_unique<CudnnLstm>(ctx_, LstmDims{1, S_, in, f}, precision, false);
      const LayerTensors p = layer_tensors(layout_, i, params_.get(), buffers_.get());
      lstm_[i]->set_weights({p.p[0], p.p[1], p.p[2], p.p[3]});
      for (auto* v : {&h_, &c_, &h_next_, &c_next_}) (*v)[i] = Buffer<float>(size_t(S_) * f);
    }
    act_.emplace_back(size_t(S_) * f);
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

std::span<const float> CudaStepper::step(std::span<const int32_t> tokens) {
  if (tokens.size() != size_t(S_))
    throw InvalidArgument("stepper: got " + std::to_string(tokens.size()) + " tokens for " + std::to_string(S_) +
                          " streams");
  check_tokens(tokens, spec_.vocab, "tokens");
  ctx_.to_device(tok_.get(), tokens.data(), tok_.bytes());
  input_forward(ctx_, spec_, layout_, params_.get(), tok_.get(), S_, act_[0].get());
  if (!style_.empty()) add(act_[0].get(), style_.get(), int64_t(style_.size()), ctx_.stream);
  const float* x = act_[0].get();
  int f = input_features(spec_);
  for (size_t i = 0; i < spec_.layers.size(); ++i) {
    const LayerSpec& l = spec_.layers[i];
    const LayerTensors P = layer_tensors(layout_, i, params_.get(), buffers_.get());
    float* y = act_[i + 1].get();
    const int in = f;
    f = layout_.features[i];
    switch (l.kind) {
      case LayerKind::lstm:
        lstm_[i]->forward(x, y, h_[i].get(), c_[i].get(), h_next_[i].get(), c_next_[i].get());
        std::swap(h_[i], h_next_[i]);  // stream order: the next step reads what this one wrote
        std::swap(c_[i], c_next_[i]);
        break;
      case LayerKind::dense: dense_forward(ctx_, x, S_, in, P.p[0], P.p[1], f, int(l.activation), y); break;
      case LayerKind::dropout: continue;  // the identity when composing
      case LayerKind::batchnorm:
        batchnorm_eval(x, S_, f, P.p[0], P.p[1], l.eps, P.p[2], P.p[3], y, ctx_.stream);
        break;
    }
    x = y;
  }
  ctx_.to_host(logits_.data(), x, logits_.size() * sizeof(float));
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
