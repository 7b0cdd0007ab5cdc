// The CUDA training engine (CudaEngine : DeviceEngine): parameters, gradients, optimizer state
// and activations on the GPU in nn::Network's layout; LSTM layers through cuDNN, dense layers
// through cuBLAS, the rest our kernels. Its Pass is the layer walk's ops (nn/layer_walk.hpp), as
// Network's Pass is on the CPU.
#include <cmath>
#include <limits>

#include "nn/cuda/cudnn_lstm.hpp"
#include "nn/cuda/kernels.hpp"
#include "nn/cuda/stack.hpp"
#include "nn/device.hpp"
#include "nn/layer_walk.hpp"

namespace etude::nn::cuda {
namespace {

// Mixed precision's dynamic loss scale (as torch.cuda.amp.GradScaler): start, and the number of
// good updates after which it doubles.
constexpr float kInitialLossScale = 32768.0f;
constexpr int kGrowthInterval = 2000;

void check_size(size_t got, size_t want, const char* what) {
  if (got != want)
    throw InvalidArgument(std::string("CUDA engine: the ") + what + " block has " + std::to_string(got) +
                          " floats, the model needs " + std::to_string(want) + " (a model of another shape?)");
}

class CudaEngine final : public DeviceEngine {
 public:
  CudaEngine(const ModelSpec& spec, const ParamLayout& layout, int batch, int time, Precision precision);
  ~CudaEngine() override { ctx_.drain(); }
  void upload(std::span<const float> params, std::span<const float> buffers,
              std::span<const float> opt_state) override;
  void download(std::span<float> params, std::span<float> buffers, std::span<float> opt_state) override;
  void download_grads(std::span<float> grads) override;
  void upload_grads(std::span<const float> grads) override;
  // Dropout masks for a shard of a larger batch are not written here yet (data-parallel training
  // over GPUs wants NCCL too): only the whole batch is accepted.
  void set_batch_shard(int offset, int global_batch) override {
    if (global_batch != 0 && (offset != 0 || global_batch != B_))
      throw DeviceError("the CUDA engine cannot train a shard of a batch yet: data-parallel training (mpirun) "
                        "runs on the CPU engine (--device cpu)");
  }
  void seed_dropout(uint64_t seed) override { dropout_rng_ = Rng(seed); }
  void forward(const int32_t* tokens_tm, const int32_t* styles_tm, bool training) override;
  double forward_backward(const int32_t* tokens_tm, const int32_t* styles_tm, const int32_t* row_targets) override;
  std::span<const float> logits() override;
  void add_score(const int32_t* row_targets, RowScore& total) override;
  UpdateResult update(const UpdateSettings& settings) override;

 private:
  struct Pass;
  void refresh_lstm_weights();
  // The optimizer's state, as nn::Optimizer's: [m | v] for Adam (2n floats), [v] or [buf] for
  // RMSprop and SGD (n); empty: zeros.
  void check_state_size(size_t got) const {
    const size_t n = params_.size();
    if (got != 0 && got != n && got != 2 * n)
      throw InvalidArgument("CUDA engine: an optimizer state of " + std::to_string(got) + " floats fits no optimizer of " +
                            std::to_string(n) + " parameters (Adam keeps 2n, RMSprop and SGD n)");
  }

  ModelSpec spec_;
  ParamLayout layout_;
  int B_, T_;
  bool half_;
  Context ctx_;
  StackShape shape_;
  Buffer<float> params_, grads_, buffers_, state_;  // state_: room for Adam's; a prefix for the others
  std::vector<Buffer<float>> act_, dact_;  // act_[0]: input features; act_[i + 1]: layer i's output
  std::vector<Buffer<float>> xhat_, invstd_;  // batchnorm
  std::vector<std::unique_ptr<CudnnLstm>> lstm_;
  std::vector<uint64_t> dropout_base_;  // this forward's mask of each dropout layer
  Buffer<int32_t> tok_, sty_, tgt_, score_tgt_;  // sty_: time-major style ids (conditioned models)
  Buffer<double> row_loss_, row_right_, partials_, scalar_, score_;
  std::vector<float> logits_host_;
  Rng dropout_rng_{0xd509};  // Network's default seed
  float loss_scale_ = kInitialLossScale;
  float grads_scale_ = 1;  // the factor the gradients on the device carry (the loss scale, until update)
  int good_steps_ = 0;
};

CudaEngine::CudaEngine(const ModelSpec& spec, const ParamLayout& layout, int batch, int time, Precision precision)
    : spec_(spec), layout_(layout), B_(batch), T_(time), half_(precision == Precision::f16), ctx_(half_),
      shape_(stack_shape(spec, batch, time)) {
  const size_t n_layers = spec_.layers.size(), n = layout_.param_count;
  params_ = Buffer<float>(n);
  grads_ = Buffer<float>(n);
  buffers_ = Buffer<float>(layout_.buffer_count);
  state_ = Buffer<float>(2 * n);
  const size_t n0 = size_t(T_) * B_ * shape_.features[0];
  act_.emplace_back(n0);
  dact_.emplace_back(spec_.input == InputKind::embedding ? n0 : 0);
  xhat_.resize(n_layers);
  invstd_.resize(n_layers);
  lstm_.resize(n_layers);
  dropout_base_.resize(n_layers);
  for (size_t i = 0; i < n_layers; ++i) {
    const LayerStep s = shape_.layer(spec_, i);
    if (s.spec->kind == LayerKind::lstm) {
      lstm_[i] = std::make_unique<CudnnLstm>(ctx_, LstmDims{s.steps, B_, s.in, s.out}, precision, true);
    } else if (s.spec->kind == LayerKind::batchnorm) {
      xhat_[i] = Buffer<float>(size_t(s.rows) * s.in);
      invstd_[i] = Buffer<float>(size_t(s.out));
    }
    act_.emplace_back(size_t(shape_.steps[i + 1]) * B_ * s.out);
    dact_.emplace_back(size_t(shape_.steps[i + 1]) * B_ * s.out);
  }
  const size_t rows = size_t(shape_.logit_rows());
  tok_ = Buffer<int32_t>(size_t(T_) * B_);
  if (layout_.style_slot != SIZE_MAX) sty_ = Buffer<int32_t>(size_t(T_) * B_);
  tgt_ = Buffer<int32_t>(rows);
  row_loss_ = Buffer<double>(rows);
  row_right_ = Buffer<double>(rows);
  score_tgt_ = Buffer<int32_t>(rows);
  score_ = Buffer<double>(2);
  partials_ = Buffer<double>(kSumBlocks);
  scalar_ = Buffer<double>(1);
  logits_host_.resize(rows * size_t(spec_.vocab));
  for (Buffer<float>* b : {&params_, &grads_, &buffers_, &state_}) ctx_.zero(b->get(), b->bytes());
}

void CudaEngine::refresh_lstm_weights() {
  for (size_t i = 0; i < lstm_.size(); ++i)
    if (lstm_[i]) {
      const LstmTensors<float> p = lstm_tensors(layout_, i, params_.get());
      lstm_[i]->set_weights({p.w_ih, p.w_hh, p.b_ih, p.b_hh});
    }
}

void CudaEngine::upload(std::span<const float> params, std::span<const float> buffers,
                        std::span<const float> opt_state) {
  check_size(params.size(), params_.size(), "parameter");
  check_size(buffers.size(), buffers_.size(), "buffer");
  check_state_size(opt_state.size());
  ctx_.to_device(params_.get(), params.data(), params_.bytes());
  ctx_.to_device(buffers_.get(), buffers.data(), buffers_.bytes());
  ctx_.zero(state_.get(), state_.bytes());
  if (!opt_state.empty()) ctx_.to_device(state_.get(), opt_state.data(), opt_state.size_bytes());
  refresh_lstm_weights();
}

void CudaEngine::download(std::span<float> params, std::span<float> buffers, std::span<float> opt_state) {
  check_size(params.size(), params_.size(), "parameter");
  check_size(buffers.size(), buffers_.size(), "buffer");
  ctx_.to_host(params.data(), params_.get(), params_.bytes());
  ctx_.to_host(buffers.data(), buffers_.get(), buffers_.bytes());
  check_state_size(opt_state.size());
  if (!opt_state.empty()) ctx_.to_host(opt_state.data(), state_.get(), opt_state.size_bytes());
}

void CudaEngine::download_grads(std::span<float> grads) {
  check_size(grads.size(), grads_.size(), "gradient");
  ctx_.to_host(grads.data(), grads_.get(), grads_.bytes());
  if (grads_scale_ != 1)
    for (float& g : grads) g /= grads_scale_;
}

void CudaEngine::upload_grads(std::span<const float> grads) {
  check_size(grads.size(), grads_.size(), "gradient");
  ctx_.to_device(grads_.get(), grads.data(), grads_.bytes());
  grads_scale_ = 1;  // the host's gradients are unscaled (download_grads divided the loss scale out)
}

// The walk's ops over the engine's device blocks (the CPU's twin: Network's Pass in network.cpp).
struct CudaEngine::Pass {
  CudaEngine& e;
  bool training;
  const float* x(const LayerStep& s) const { return e.act_[s.index].get(); }
  float* y(const LayerStep& s) const { return e.act_[s.index + 1].get(); }
  float* dy(const LayerStep& s) const { return e.dact_[s.index + 1].get(); }
  float* dx(const LayerStep& s) const { return e.dact_[s.index].empty() ? nullptr : e.dact_[s.index].get(); }
  int64_t elements(const LayerStep& s) const { return int64_t(s.rows) * s.out; }
  cudaStream_t stream() const { return e.ctx_.stream; }

  void input_forward() {
    const int n = e.T_ * e.B_;
    input_forward_on(e.ctx_, e.spec_, e.layout_, e.params_.get(), e.tok_.get(), n, e.act_[0].get());
    if (const float* style = input_tensors(e.layout_, e.params_.get()).style)
      style_forward(style, e.spec_.embed_dim, e.sty_.get(), n, e.act_[0].get(), stream());
  }
  void input_backward() {  // overwrites the tables' gradients: rows of unseen tokens or styles get 0
    const InputTensors<float> g = input_tensors(e.layout_, e.grads_.get());
    const int n = e.T_ * e.B_;
    if (g.embedding)
      embedding_backward(g.embedding, e.spec_.vocab, e.spec_.embed_dim, e.tok_.get(), n, e.dact_[0].get(), stream());
    if (g.style)
      embedding_backward(g.style, e.spec_.styles, e.spec_.embed_dim, e.sty_.get(), n, e.dact_[0].get(), stream());
  }
  void lstm_forward(const LayerStep& s) {  // without return_sequences the full output stays inside the layer
    const bool seq = s.spec->return_sequences;
    e.lstm_[s.index]->forward(x(s), seq ? y(s) : nullptr, nullptr, nullptr, seq ? nullptr : y(s), nullptr);
  }
  void lstm_backward(const LayerStep& s) {
    const LstmTensors<float> g = lstm_tensors(e.layout_, s.index, e.grads_.get());
    const bool seq = s.spec->return_sequences;
    e.lstm_[s.index]->backward(seq ? dy(s) : nullptr, seq ? nullptr : dy(s), dx(s), {g.w_ih, g.w_hh, g.b_ih, g.b_hh});
  }
  void dense_forward(const LayerStep& s) {
    const DenseTensors<float> p = dense_tensors(e.layout_, s.index, e.params_.get());
    dense_forward_on(e.ctx_, x(s), s.rows, s.in, p.weight, p.bias, s.out, s.spec->activation, y(s));
  }
  void dense_backward(const LayerStep& s) {
    const DenseTensors<float> p = dense_tensors(e.layout_, s.index, e.params_.get());
    const DenseTensors<float> g = dense_tensors(e.layout_, s.index, e.grads_.get());
    dense_backward_on(e.ctx_, x(s), s.rows, s.in, p.weight, s.out, s.spec->activation, y(s), dy(s), dx(s), g.weight,
                      g.bias);
  }
  void dropout_forward(const LayerStep& s) {
    if (training && s.spec->rate > 0) {
      e.dropout_base_[s.index] = e.dropout_rng_.next();
      cuda::dropout_forward(x(s), elements(s), s.spec->rate, e.dropout_base_[s.index], y(s), stream());
    } else {
      check(cudaMemcpyAsync(y(s), x(s), size_t(elements(s)) * sizeof(float), cudaMemcpyDeviceToDevice, stream()),
            "cudaMemcpyAsync (dropout)");
    }
  }
  void dropout_backward(const LayerStep& s) {
    float* d = dx(s);
    if (!d) return;
    if (s.spec->rate > 0)
      cuda::dropout_backward(dy(s), elements(s), s.spec->rate, e.dropout_base_[s.index], d, stream());
    else
      check(cudaMemcpyAsync(d, dy(s), size_t(elements(s)) * sizeof(float), cudaMemcpyDeviceToDevice, stream()),
            "cudaMemcpyAsync (dropout)");
  }
  void activation_forward(const LayerStep& s) {
    cuda::activation_forward(x(s), elements(s), int(s.spec->activation), y(s), stream());
  }
  void activation_backward(const LayerStep& s) {  // dy * act'(y) in dy's storage, then into dx
    float* d = dx(s);
    if (!d) return;
    cuda::activation_backward(dy(s), y(s), elements(s), int(s.spec->activation), stream());
    check(cudaMemcpyAsync(d, dy(s), size_t(elements(s)) * sizeof(float), cudaMemcpyDeviceToDevice, stream()),
          "cudaMemcpyAsync (activation)");
  }
  void batchnorm_forward(const LayerStep& s) {
    const BatchnormTensors<float> p = batchnorm_tensors(e.layout_, s.index, e.params_.get(), e.buffers_.get());
    if (training)
      batchnorm_train(x(s), s.rows, s.out, p.gamma, p.beta, s.spec->momentum, s.spec->eps, p.running_mean,
                      p.running_var, e.xhat_[s.index].get(), e.invstd_[s.index].get(), y(s), stream());
    else
      batchnorm_eval(x(s), s.rows, s.out, p.gamma, p.beta, s.spec->eps, p.running_mean, p.running_var, y(s), stream());
  }
  void batchnorm_backward(const LayerStep& s) {  // when nothing wants dx, dy's storage takes it (as on the CPU)
    const BatchnormTensors<float> p = batchnorm_tensors(e.layout_, s.index, e.params_.get(), e.buffers_.get());
    const BatchnormTensors<float> g = batchnorm_tensors(e.layout_, s.index, e.grads_.get(), static_cast<float*>(nullptr));
    float* d = dx(s);
    cuda::batchnorm_backward(dy(s), e.xhat_[s.index].get(), e.invstd_[s.index].get(), p.gamma, s.rows, s.out,
                             d ? d : dy(s), g.gamma, g.beta, stream());
  }
};

void CudaEngine::forward(const int32_t* tokens_tm, const int32_t* styles_tm, bool training) {
  // The caller has checked them; again here (a host loop over T x B ids) because a style outside
  // the table would read past it on the device.
  check_styles(spec_, styles_tm, size_t(T_) * B_);
  ctx_.to_device(tok_.get(), tokens_tm, tok_.bytes());
  if (!sty_.empty()) ctx_.to_device(sty_.get(), styles_tm, sty_.bytes());
  Pass pass{*this, training};
  walk_forward(spec_, shape_, pass);
}

double CudaEngine::forward_backward(const int32_t* tokens_tm, const int32_t* styles_tm, const int32_t* row_targets) {
  const int rows = shape_.logit_rows();
  int counted = 0;
  for (int r = 0; r < rows; ++r) {
    if (row_targets[r] >= spec_.vocab)  // the kernel would write outside the row
      throw InvalidArgument("CUDA engine: target " + std::to_string(row_targets[r]) + " of row " + std::to_string(r) +
                            " is outside the vocabulary of " + std::to_string(spec_.vocab));
    counted += row_targets[r] >= 0;
  }
  ctx_.to_device(tgt_.get(), row_targets, tgt_.bytes());
  forward(tokens_tm, styles_tm, true);
  grads_scale_ = half_ ? loss_scale_ : 1.0f;
  const float inv = 1.0f / float(counted ? counted : 1);
  softmax_xent(act_.back().get(), tgt_.get(), rows, spec_.vocab, inv, grads_scale_, dact_.back().get(),
               row_loss_.get(), ctx_.stream);
  sum(row_loss_.get(), rows, counted ? counted : 1, scalar_.get(), ctx_.stream);  // uncounted rows hold 0
  Pass pass{*this, true};
  walk_backward(spec_, shape_, pass);
  double loss = 0;
  ctx_.to_host(&loss, scalar_.get(), sizeof loss);  // the step's one wait
  return loss;
}

std::span<const float> CudaEngine::logits() {
  ctx_.to_host(logits_host_.data(), act_.back().get(), act_.back().bytes());
  return logits_host_;
}

void CudaEngine::add_score(const int32_t* row_targets, RowScore& total) {
  const int rows = shape_.logit_rows();
  ctx_.to_device(score_tgt_.get(), row_targets, score_tgt_.bytes());
  score_rows(act_.back().get(), score_tgt_.get(), rows, spec_.vocab, row_loss_.get(), row_right_.get(), ctx_.stream);
  sum(row_loss_.get(), rows, 1.0, score_.get(), ctx_.stream);
  sum(row_right_.get(), rows, 1.0, score_.get() + 1, ctx_.stream);
  double sums[2] = {0, 0};
  ctx_.to_host(sums, score_.get(), sizeof sums);
  total.loss_sum += sums[0];
  total.correct += int64_t(std::llround(sums[1]));
  for (int r = 0; r < rows; ++r) total.count += row_targets[r] >= 0;
}

UpdateResult CudaEngine::update(const UpdateSettings& settings) {
  const OptimizerSpec& o = settings.optimizer;
  const int64_t n = int64_t(params_.size());
  sum_squares(grads_.get(), n, partials_.get(), scalar_.get(), ctx_.stream);
  double sumsq = 0;
  ctx_.to_host(&sumsq, scalar_.get(), sizeof sumsq);
  UpdateResult r;
  if (half_ && !std::isfinite(sumsq)) {  // overflow in the scaled gradients: a smaller scale, no update
    loss_scale_ /= 2;
    good_steps_ = 0;
    r.skipped = true;
    return r;
  }
  r.grad_norm = std::sqrt(sumsq) / grads_scale_;
  // clip_grad_norm's factor (norm measured anyway), and the loss scale taken out of the gradients.
  const double max_norm = settings.clip > 0 ? double(settings.clip) : std::numeric_limits<double>::infinity();
  const double coef = max_norm / (r.grad_norm + 1e-6);
  const double factor = (coef < 1 ? coef : 1.0) / grads_scale_;
  if (factor != 1) scale(grads_.get(), n, static_cast<float>(factor), ctx_.stream);
  grads_scale_ = 1;

  const float lr = o.lr, wd = o.weight_decay;
  switch (o.kind) {
    case OptimizerKind::adam: {
      const double bc1 = 1 - std::pow(double(o.beta1), double(settings.step));
      const double bc2_sqrt = std::sqrt(1 - std::pow(double(o.beta2), double(settings.step)));
      const AdamStep a{static_cast<float>(lr / bc1), static_cast<float>(bc2_sqrt), o.beta1, o.beta2, o.eps, wd};
      adam_update(params_.get(), grads_.get(), state_.get(), state_.get() + n, n, a, ctx_.stream);
      break;
    }
    case OptimizerKind::rmsprop:
      rmsprop_update(params_.get(), grads_.get(), state_.get(), n, lr, o.alpha, o.eps, wd, ctx_.stream);
      break;
    case OptimizerKind::sgd:
      sgd_update(params_.get(), grads_.get(), state_.get(), n, lr, o.momentum, wd, settings.step == 1, ctx_.stream);
      break;
  }
  refresh_lstm_weights();
  if (half_ && ++good_steps_ == kGrowthInterval) {
    loss_scale_ *= 2;
    good_steps_ = 0;
  }
  return r;
}

}  // namespace

std::unique_ptr<DeviceEngine> make_engine(const ModelSpec& spec, const ParamLayout& layout, int batch, int time,
                                          Precision precision) {
  check_precision(precision);
  if (batch < 1 || time < 1) throw InvalidArgument("CUDA engine: batch and time must be positive");
  return std::make_unique<CudaEngine>(spec, layout, batch, time, precision);
}

}  // namespace etude::nn::cuda
