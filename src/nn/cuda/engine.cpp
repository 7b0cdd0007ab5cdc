// The CUDA training engine (CudaEngine : DeviceEngine): parameters, gradients, optimizer state
// and activations on the GPU in nn::Network's layout; LSTM layers through cuDNN, dense layers
// through cuBLAS, the rest our kernels. The layer loops mirror network.cpp's line by line.
#include <cmath>
#include <limits>

#include "nn/cuda/cudnn_lstm.hpp"
#include "nn/cuda/kernels.hpp"
#include "nn/cuda/stack.hpp"
#include "nn/device.hpp"

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
  void seed_dropout(uint64_t seed) override { dropout_rng_ = Rng(seed); }
  void forward(const int32_t* tokens_tm, const int32_t* styles_tm, bool training) override;
  double forward_backward(const int32_t* tokens_tm, const int32_t* styles_tm, const int32_t* row_targets) override;
  std::span<const float> logits() override;
  void add_score(const int32_t* row_targets, RowScore& total) override;
  UpdateResult update(const UpdateSettings& settings) override;

 private:
  LayerTensors params(size_t i) const { return layer_tensors(layout_, i, params_.get(), buffers_.get()); }
  LayerTensors grads(size_t i) const { return layer_tensors(layout_, i, grads_.get(), nullptr); }
  void refresh_lstm_weights();
  void backward();
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
  std::vector<int> steps_;  // steps_[i]: time length of act_[i]
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
    : spec_(spec), layout_(layout), B_(batch), T_(time), half_(precision == Precision::f16), ctx_(half_) {
  const size_t n_layers = spec_.layers.size(), n = layout_.param_count;
  steps_ = activation_steps(spec_, T_);
  params_ = Buffer<float>(n);
  grads_ = Buffer<float>(n);
  buffers_ = Buffer<float>(layout_.buffer_count);
  state_ = Buffer<float>(2 * n);
  int f = input_features(spec_);
  act_.emplace_back(size_t(T_) * B_ * f);
  dact_.emplace_back(spec_.input == InputKind::embedding ? size_t(T_) * B_ * f : 0);
  xhat_.resize(n_layers);
  invstd_.resize(n_layers);
  lstm_.resize(n_layers);
  dropout_base_.resize(n_layers);
  for (size_t i = 0; i < n_layers; ++i) {
    const LayerSpec& l = spec_.layers[i];
    const int in = f;
    f = layout_.features[i];
    if (l.kind == LayerKind::lstm) {
      lstm_[i] = std::make_unique<CudnnLstm>(ctx_, LstmDims{steps_[i], B_, in, l.units}, precision, true);
    } else if (l.kind == LayerKind::batchnorm) {
      xhat_[i] = Buffer<float>(size_t(steps_[i]) * B_ * in);
      invstd_[i] = Buffer<float>(size_t(f));
    }
    act_.emplace_back(size_t(steps_[i + 1]) * B_ * f);
    dact_.emplace_back(size_t(steps_[i + 1]) * B_ * f);
  }
  const size_t rows = size_t(steps_.back()) * B_;
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
      const LayerTensors p = params(i);
      lstm_[i]->set_weights({p.p[0], p.p[1], p.p[2], p.p[3]});
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

void CudaEngine::forward(const int32_t* tokens_tm, const int32_t* styles_tm, bool training) {
  // The caller has checked them; again here (a host loop over T x B ids) because a style outside
  // the table would read past it on the device.
  check_styles(spec_, styles_tm, size_t(T_) * B_);
  ctx_.to_device(tok_.get(), tokens_tm, tok_.bytes());
  input_forward(ctx_, spec_, layout_, params_.get(), tok_.get(), T_ * B_, act_[0].get());
  if (layout_.style_slot != SIZE_MAX) {
    ctx_.to_device(sty_.get(), styles_tm, sty_.bytes());
    style_forward(params_.get() + layout_.tensors[layout_.style_slot].offset, spec_.embed_dim, sty_.get(), T_ * B_,
                  act_[0].get(), ctx_.stream);
  }
  for (size_t i = 0; i < spec_.layers.size(); ++i) {
    const LayerSpec& l = spec_.layers[i];
    const LayerTensors P = params(i);
    const float* x = act_[i].get();
    float* y = act_[i + 1].get();
    const int n = steps_[i] * B_, in = i == 0 ? input_features(spec_) : layout_.features[i - 1];
    const int f = layout_.features[i];
    switch (l.kind) {
      case LayerKind::lstm:  // without return_sequences the full output stays inside the layer
        lstm_[i]->forward(x, l.return_sequences ? y : nullptr, nullptr, nullptr, l.return_sequences ? nullptr : y,
                          nullptr);
        break;
      case LayerKind::dense: dense_forward(ctx_, x, n, in, P.p[0], P.p[1], f, int(l.activation), y); break;
      case LayerKind::dropout:
        if (training && l.rate > 0) {
          dropout_base_[i] = dropout_rng_.next();
          dropout_forward(x, int64_t(n) * f, l.rate, dropout_base_[i], y, ctx_.stream);
        } else {
          check(cudaMemcpyAsync(y, x, act_[i + 1].bytes(), cudaMemcpyDeviceToDevice, ctx_.stream),
                "cudaMemcpyAsync (dropout)");
        }
        break;
      case LayerKind::batchnorm:
        if (training)
          batchnorm_train(x, n, f, P.p[0], P.p[1], l.momentum, l.eps, P.p[2], P.p[3], xhat_[i].get(),
                          invstd_[i].get(), y, ctx_.stream);
        else
          batchnorm_eval(x, n, f, P.p[0], P.p[1], l.eps, P.p[2], P.p[3], y, ctx_.stream);
        break;
    }
  }
}

double CudaEngine::forward_backward(const int32_t* tokens_tm, const int32_t* styles_tm, const int32_t* row_targets) {
  const int rows = steps_.back() * B_;
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
  backward();
  double loss = 0;
  ctx_.to_host(&loss, scalar_.get(), sizeof loss);  // the step's one wait
  return loss;
}

void CudaEngine::backward() {
  for (size_t i = spec_.layers.size(); i-- > 0;) {
    const LayerSpec& l = spec_.layers[i];
    const LayerTensors P = params(i), G = grads(i);
    const int in = i == 0 ? input_features(spec_) : layout_.features[i - 1], f = layout_.features[i];
    const int n = steps_[i] * B_;
    const float* x = act_[i].get();
    float* dy = dact_[i + 1].get();
    float* dx = dact_[i].empty() ? nullptr : dact_[i].get();
    switch (l.kind) {
      case LayerKind::lstm:
        lstm_[i]->backward(l.return_sequences ? dy : nullptr, l.return_sequences ? nullptr : dy, dx,
                           {G.p[0], G.p[1], G.p[2], G.p[3]});
        break;
      case LayerKind::dense:
        dense_backward(ctx_, x, n, in, P.p[0], f, int(l.activation), act_[i + 1].get(), dy, dx, G.p[0], G.p[1]);
        break;
      case LayerKind::dropout:
        if (!dx) break;
        if (l.rate > 0) dropout_backward(dy, int64_t(n) * f, l.rate, dropout_base_[i], dx, ctx_.stream);
        else check(cudaMemcpyAsync(dx, dy, dact_[i].bytes(), cudaMemcpyDeviceToDevice, ctx_.stream), "cudaMemcpyAsync (dropout)");
        break;
      case LayerKind::batchnorm:  // when nothing wants dx, dy's storage takes it (as on the CPU)
        batchnorm_backward(dy, xhat_[i].get(), invstd_[i].get(), P.p[0], n, f, dx ? dx : dy, G.p[0], G.p[1],
                           ctx_.stream);
        break;
    }
  }
  if (layout_.embedding_slot != SIZE_MAX)  // overwrites the table's gradient: rows of unseen tokens get 0
    embedding_backward(grads_.get() + layout_.tensors[layout_.embedding_slot].offset, spec_.vocab, spec_.embed_dim,
                       tok_.get(), T_ * B_, dact_[0].get(), ctx_.stream);
  if (layout_.style_slot != SIZE_MAX)  // the same over the style ids (rows of unseen styles get 0)
    embedding_backward(grads_.get() + layout_.tensors[layout_.style_slot].offset, spec_.styles, spec_.embed_dim,
                       sty_.get(), T_ * B_, dact_[0].get(), ctx_.stream);
}

std::span<const float> CudaEngine::logits() {
  ctx_.to_host(logits_host_.data(), act_.back().get(), act_.back().bytes());
  return logits_host_;
}

void CudaEngine::add_score(const int32_t* row_targets, RowScore& total) {
  const int rows = steps_.back() * B_;
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
