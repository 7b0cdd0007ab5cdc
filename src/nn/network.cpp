// The CPU network; see network.hpp. Its Pass is the layer walk's ops over the network's blocks:
// activations are time-major [steps][B][features]; an lstm with return_sequences=false ends the
// sequence (steps becomes 1), and every later layer runs on B rows.
#include "nn/network.hpp"

#include <cmath>
#include <cstring>

#include "base/error.hpp"
#include "nn/layers.hpp"
#include "nn/lstm_reference.hpp"

namespace etude::nn {

// What one layer keeps between its forward and its backward.
template <class Real>
struct Network<Real>::LayerWork {
  std::unique_ptr<LstmKernel> kernel;  // lstm, float engine (the double one runs the reference loops)
  std::vector<Real> sequence;          // lstm without return_sequences: every step's output
  std::vector<Real> mask;              // dropout: 0 or 1 / (1 - rate) per element
  std::vector<Real> xhat, invstd;      // batchnorm: the normalized input, 1 / std per feature
};

template <class Real>
struct Network<Real>::Work {
  std::vector<int32_t> tok, sty, tgt;        // time-major tokens and styles [T][B]; targets per logit row
  std::vector<std::vector<Real>> act, dact;  // act[0]: input features; act[i+1]: layer i output
  StackShape shape;
  std::vector<LayerWork> layers;
  LstmBackend backend = LstmBackend::fast;
  Precision precision = Precision::f32;
};

template <class Real>
struct Network<Real>::Pass {
  Network& net;
  Work& w;
  bool training;

  Real* x(const LayerStep& s) { return w.act[s.index].data(); }
  Real* y(const LayerStep& s) { return w.act[s.index + 1].data(); }
  Real* dy(const LayerStep& s) { return w.dact[s.index + 1].data(); }
  Real* dx(const LayerStep& s) { return w.dact[s.index].empty() ? nullptr : w.dact[s.index].data(); }
  int64_t elements(const LayerStep& s) const { return int64_t(s.rows) * s.out; }
  const ModelSpec& spec() const { return net.spec_; }
  const ParamLayout& layout() const { return net.layout_; }

  void input_forward() {
    const int n = w.shape.steps[0] * w.shape.batch;
    const InputTensors<Real> t = input_tensors(layout(), net.params_.data());
    switch (spec().input) {
      case InputKind::embedding:
        embedding_forward(t.embedding, spec().embed_dim, w.tok.data(), n, w.act[0].data());
        if (t.style) style_forward(t.style, spec().embed_dim, w.sty.data(), n, w.act[0].data());
        break;
      case InputKind::scalar: scalar_forward(w.tok.data(), n, spec().vocab, w.act[0].data()); break;
      case InputKind::onehot: onehot_forward(w.tok.data(), n, spec().vocab, w.act[0].data()); break;
    }
  }
  void input_backward() {
    const int n = w.shape.steps[0] * w.shape.batch;
    const InputTensors<Real> g = input_tensors(layout(), net.grads_.data());
    if (g.embedding) embedding_backward(g.embedding, spec().vocab, spec().embed_dim, w.tok.data(), n, w.dact[0].data());
    if (g.style) style_backward(g.style, spec().styles, spec().embed_dim, w.sty.data(), n, w.dact[0].data());
  }

  void lstm_forward(const LayerStep& s) {
    LayerWork& lw = w.layers[s.index];
    const LstmTensors<Real> p = lstm_tensors(layout(), s.index, net.params_.data());
    const bool seq = s.spec->return_sequences;
    Real* full = seq ? y(s) : lw.sequence.data();
    Real* hT = seq ? nullptr : y(s);
    if constexpr (std::is_same_v<Real, float>)
      lw.kernel->forward({p.w_ih, p.w_hh, p.b_ih, p.b_hh}, x(s), nullptr, nullptr, full, hT, nullptr, training);
    else
      lstm_reference_forward<Real>({s.steps, w.shape.batch, s.in, s.out}, {p.w_ih, p.w_hh, p.b_ih, p.b_hh}, x(s),
                                   nullptr, nullptr, full, hT, nullptr);
  }
  void lstm_backward(const LayerStep& s) {
    const LstmTensors<Real> p = lstm_tensors(layout(), s.index, net.params_.data());
    const LstmTensors<Real> g = lstm_tensors(layout(), s.index, net.grads_.data());
    const bool seq = s.spec->return_sequences;
    const Real* dseq = seq ? dy(s) : nullptr;
    const Real* dhT = seq ? nullptr : dy(s);
    if constexpr (std::is_same_v<Real, float>)
      w.layers[s.index].kernel->backward({p.w_ih, p.w_hh, p.b_ih, p.b_hh}, x(s), nullptr, nullptr, dseq, dhT,
                                         nullptr, dx(s), {g.w_ih, g.w_hh, g.b_ih, g.b_hh}, nullptr, nullptr);
    else
      lstm_reference_backward<Real>({s.steps, w.shape.batch, s.in, s.out}, {p.w_ih, p.w_hh, p.b_ih, p.b_hh}, x(s),
                                    nullptr, nullptr, dseq, dhT, nullptr, dx(s), {g.w_ih, g.w_hh, g.b_ih, g.b_hh},
                                    nullptr, nullptr);
  }

  void dense_forward(const LayerStep& s) {
    const DenseTensors<Real> p = dense_tensors(layout(), s.index, net.params_.data());
    nn::dense_forward(x(s), s.rows, s.in, p.weight, p.bias, s.out, s.spec->activation, y(s));
  }
  void dense_backward(const LayerStep& s) {
    const DenseTensors<Real> p = dense_tensors(layout(), s.index, net.params_.data());
    const DenseTensors<Real> g = dense_tensors(layout(), s.index, net.grads_.data());
    nn::dense_backward(x(s), s.rows, s.in, p.weight, s.out, s.spec->activation, y(s), dy(s), dx(s), g.weight, g.bias);
  }

  void dropout_forward(const LayerStep& s) {
    if (training && s.spec->rate > 0 && net.shard_global_ > 0) {
      if (net.shard_offset_ + w.shape.batch > net.shard_global_)
        throw InvalidArgument("dropout: a batch of " + std::to_string(w.shape.batch) + " from column " +
                              std::to_string(net.shard_offset_) + " does not fit its shard's batch of " +
                              std::to_string(net.shard_global_));
      nn::dropout_forward_shard(x(s), s.rows, s.out, w.shape.batch, net.shard_offset_, net.shard_global_,
                                s.spec->rate, net.dropout_rng_, w.layers[s.index].mask.data(), y(s));
    } else if (training && s.spec->rate > 0)
      nn::dropout_forward(x(s), elements(s), s.spec->rate, net.dropout_rng_, w.layers[s.index].mask.data(), y(s));
    else
      std::copy_n(x(s), size_t(elements(s)), y(s));
  }
  void dropout_backward(const LayerStep& s) {
    Real* d = dx(s);
    if (!d) return;
    if (s.spec->rate > 0) nn::dropout_backward(dy(s), w.layers[s.index].mask.data(), elements(s), d);
    else std::copy_n(dy(s), size_t(elements(s)), d);
  }

  void activation_forward(const LayerStep& s) { nn::activation_forward(x(s), elements(s), s.spec->activation, y(s)); }
  void activation_backward(const LayerStep& s) {
    if (Real* d = dx(s)) nn::activation_backward(y(s), dy(s), elements(s), s.spec->activation, d);
  }

  void batchnorm_forward(const LayerStep& s) {
    const BatchnormTensors<Real> p = batchnorm_tensors(layout(), s.index, net.params_.data(), net.buffers_.data());
    LayerWork& lw = w.layers[s.index];
    if (training)
      batchnorm_forward_train(x(s), s.rows, s.out, p.gamma, p.beta, s.spec->momentum, s.spec->eps, p.running_mean,
                              p.running_var, lw.xhat.data(), lw.invstd.data(), y(s));
    else
      batchnorm_forward_eval(x(s), s.rows, s.out, p.gamma, p.beta, s.spec->eps, p.running_mean, p.running_var, y(s));
  }
  void batchnorm_backward(const LayerStep& s) {
    const BatchnormTensors<Real> p = batchnorm_tensors(layout(), s.index, net.params_.data(), net.buffers_.data());
    const BatchnormTensors<Real> g = batchnorm_tensors(layout(), s.index, net.grads_.data(), static_cast<Real*>(nullptr));
    const LayerWork& lw = w.layers[s.index];
    // batchnorm needs dx for its own formula; when nothing wants it, dy's storage takes it.
    Real* d = dx(s);
    nn::batchnorm_backward(dy(s), lw.xhat.data(), lw.invstd.data(), p.gamma, s.rows, s.out, d ? d : dy(s), g.gamma,
                           g.beta);
  }
};

template <class Real>
Network<Real>::Network(ModelSpec spec) : spec_(std::move(spec)), layout_(make_layout(spec_)) {
  params_.assign(layout_.param_count, Real(0));
  buffers_.assign(layout_.buffer_count, Real(0));
  for (size_t i = 0; i < spec_.layers.size(); ++i)
    if (spec_.layers[i].kind == LayerKind::batchnorm) {  // gamma and the running variance start at one
      const BatchnormTensors<Real> t = batchnorm_tensors(layout_, i, params_.data(), buffers_.data());
      std::fill_n(t.gamma, layout_.features[i], Real(1));
      std::fill_n(t.running_var, layout_.features[i], Real(1));
    }
}
template <class Real>
Network<Real>::~Network() = default;
template <class Real>
Network<Real>::Network(Network&&) noexcept = default;
template <class Real>
Network<Real>& Network<Real>::operator=(Network&&) noexcept = default;

template <class Real>
std::span<Real> Network<Real>::tensor(const TensorSlot& s) {
  return std::span<Real>(s.trainable ? params_ : buffers_).subspan(s.offset, s.size());
}
template <class Real>
std::span<const Real> Network<Real>::tensor(const TensorSlot& s) const {
  return std::span<const Real>(s.trainable ? params_ : buffers_).subspan(s.offset, s.size());
}

template <class Real>
void Network<Real>::init_random(uint64_t seed) {
  Rng rng(seed);
  auto uniform = [&](Real* v, size_t n, double bound) {
    for (size_t k = 0; k < n; ++k) v[k] = static_cast<Real>(rng.uniform(-bound, bound));
  };
  if (layout_.embedding_slot != SIZE_MAX)
    for (Real& v : tensor(layout_.tensors[layout_.embedding_slot])) v = static_cast<Real>(rng.normal());
  int in = input_features(spec_);
  for (size_t i = 0; i < spec_.layers.size(); ++i) {
    const LayerSpec& l = spec_.layers[i];
    const int out = layout_.features[i];
    if (l.kind == LayerKind::lstm) {
      const LstmTensors<Real> t = lstm_tensors(layout_, i, params_.data());
      const double bound = 1.0 / std::sqrt(double(l.units));
      const size_t g = size_t(4) * l.units;
      uniform(t.w_ih, g * in, bound), uniform(t.w_hh, g * l.units, bound), uniform(t.b_ih, g, bound);
      uniform(t.b_hh, g, bound);
      std::fill_n(t.b_ih + l.units, l.units, Real(l.forget_bias));
      std::fill_n(t.b_hh + l.units, l.units, Real(0));
    } else if (l.kind == LayerKind::dense) {
      const DenseTensors<Real> t = dense_tensors(layout_, i, params_.data());
      const double bound = 1.0 / std::sqrt(double(in));
      uniform(t.weight, size_t(out) * in, bound);
      uniform(t.bias, size_t(out), bound);
    }
    in = out;
  }
}

template <class Real>
void Network<Real>::set_batch_shard(int offset, int global_batch) {
  if (global_batch != 0 && (offset < 0 || global_batch < 1 || (B_ > 0 && offset + B_ > global_batch)))
    throw InvalidArgument("batch shard: columns " + std::to_string(offset) + " .. " + std::to_string(offset + B_) +
                          " do not lie in a batch of " + std::to_string(global_batch));
  shard_offset_ = global_batch ? offset : 0;
  shard_global_ = global_batch;
}

template <class Real>
void Network<Real>::prepare(int batch, int time, LstmBackend backend, Precision precision) {
  if (batch < 1 || time < 1) throw InvalidArgument("prepare: batch and time must be positive");
  if (work_ && batch == B_ && time == T_ && work_->backend == backend && work_->precision == precision) return;
  B_ = batch;
  T_ = time;
  auto w = std::make_unique<Work>();
  w->backend = backend;
  w->precision = precision;
  w->shape = stack_shape(spec_, batch, time);
  w->tok.resize(size_t(B_) * T_);
  if (spec_.styles > 0) w->sty.resize(size_t(B_) * T_);
  w->act.emplace_back(size_t(T_) * B_ * w->shape.features[0]);
  w->dact.emplace_back(spec_.input == InputKind::embedding ? w->act.back().size() : 0);
  w->layers.resize(spec_.layers.size());
  for (size_t i = 0; i < spec_.layers.size(); ++i) {
    const LayerStep s = w->shape.layer(spec_, i);
    LayerWork& lw = w->layers[i];
    switch (s.spec->kind) {
      case LayerKind::lstm:
        if constexpr (std::is_same_v<Real, float>) {
          const LstmDims d{s.steps, B_, s.in, s.out};
          lw.kernel = backend == LstmBackend::fast ? make_cpu_lstm(d, precision) : make_reference_lstm(d);
        }
        if (!s.spec->return_sequences) lw.sequence.resize(size_t(s.rows) * s.out);
        break;
      case LayerKind::dropout: lw.mask.resize(size_t(s.rows) * s.in); break;
      case LayerKind::batchnorm:
        lw.xhat.resize(size_t(s.rows) * s.in);
        lw.invstd.resize(size_t(s.out));
        break;
      case LayerKind::dense:
      case LayerKind::activation: break;
    }
    const size_t out = size_t(w->shape.steps[i + 1]) * B_ * s.out;
    w->act.emplace_back(out);
    w->dact.emplace_back(out);
  }
  w->tgt.resize(size_t(w->shape.logit_rows()));
  grads_.assign(params_.size(), Real(0));
  work_ = std::move(w);
}

template <class Real>
void Network<Real>::run_forward(bool training) {
  Pass pass{*this, *work_, training};
  walk_forward(spec_, work_->shape, pass);
}

template <class Real>
void Network<Real>::forward(const int32_t* tokens, bool training, const int32_t* styles) {
  if (!work_) throw InvalidArgument("forward: call prepare(batch, time) first");
  Work& w = *work_;
  check_tokens({tokens, size_t(B_) * T_}, spec_.vocab, "tokens");
  check_styles(spec_, styles, size_t(B_) * T_);
  to_time_major(tokens, B_, T_, w.tok.data());
  if (styles) to_time_major(styles, B_, T_, w.sty.data());
  run_forward(training);
}

template <class Real>
void Network<Real>::forward_time_major(const int32_t* tokens_tm, const int32_t* styles_tm, bool training) {
  if (!work_) throw InvalidArgument("forward: call prepare(batch, time) first");
  std::copy_n(tokens_tm, work_->tok.size(), work_->tok.data());
  if (styles_tm) std::copy_n(styles_tm, work_->sty.size(), work_->sty.data());
  run_forward(training);
}

template <class Real>
double Network<Real>::forward_backward(const int32_t* tokens, const int32_t* targets, const int32_t* styles) {
  forward(tokens, true, styles);
  check_tokens({targets, spec_.mode == Mode::seq2seq ? size_t(B_) * T_ : size_t(B_)}, spec_.vocab, "targets");
  logit_row_targets(spec_.mode, targets, B_, T_, work_->shape.steps.back(), work_->tgt.data());
  return loss_and_backward();
}

template <class Real>
double Network<Real>::forward_backward_time_major(const int32_t* tokens_tm, const int32_t* styles_tm,
                                                  const int32_t* row_targets) {
  forward_time_major(tokens_tm, styles_tm, true);
  std::copy_n(row_targets, work_->tgt.size(), work_->tgt.data());
  return loss_and_backward();
}

template <class Real>
double Network<Real>::loss_and_backward() {
  Work& w = *work_;
  const double loss = softmax_xent(w.act.back().data(), w.tgt.data(), w.shape.logit_rows(), spec_.vocab,
                                   w.dact.back().data());
  Pass pass{*this, w, true};
  walk_backward(spec_, w.shape, pass);
  return loss;
}

template <class Real>
std::span<const Real> Network<Real>::logits() const {
  if (!work_) throw InvalidArgument("logits: nothing computed yet (call prepare and forward)");
  return work_->act.back();
}

template <class Real>
int Network<Real>::logit_steps() const {
  return work_ ? work_->shape.steps.back() : 0;
}

template class Network<float>;
template class Network<double>;

}  // namespace etude::nn
