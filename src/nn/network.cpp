// The whole-stack forward/backward over one parameter block; see network.hpp.
// Activations are time-major [steps][B][features]; an lstm with return_sequences=false ends the
// sequence (steps becomes 1), and every later layer runs on B rows.
#include "nn/network.hpp"

#include <cmath>
#include <cstring>

#include "base/error.hpp"
#include "nn/layers.hpp"
#include "nn/lstm_reference.hpp"

namespace etude::nn {

size_t TensorSlot::size() const {
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

const TensorSlot* ParamLayout::find(const std::string& name) const {
  for (const TensorSlot& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

ParamLayout make_layout(const ModelSpec& spec) {
  validate_model_spec(spec);
  ParamLayout L;
  auto add = [&](std::string name, std::vector<int64_t> shape, bool trainable) {
    TensorSlot t{std::move(name), std::move(shape), 0, trainable};
    size_t& count = trainable ? L.param_count : L.buffer_count;
    t.offset = count;
    count += t.size();
    L.tensors.push_back(std::move(t));
    return L.tensors.size() - 1;
  };
  if (spec.input == InputKind::embedding)
    L.embedding_slot = add("embedding.weight", {spec.vocab, spec.embed_dim}, true);
  if (spec.styles > 0) L.style_slot = add("style_embedding.weight", {spec.styles, spec.embed_dim}, true);
  int f = input_features(spec);
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const LayerSpec& l = spec.layers[i];
    const std::string p = std::to_string(i) + ".";
    std::vector<size_t> slots;
    if (l.kind == LayerKind::lstm) {
      const int64_t h = l.units;
      slots = {add("lstm." + p + "weight_ih_l0", {4 * h, f}, true), add("lstm." + p + "weight_hh_l0", {4 * h, h}, true),
               add("lstm." + p + "bias_ih_l0", {4 * h}, true), add("lstm." + p + "bias_hh_l0", {4 * h}, true)};
      f = l.units;
    } else if (l.kind == LayerKind::dense) {
      const int out = dense_units(spec, l);
      slots = {add("dense." + p + "weight", {out, f}, true), add("dense." + p + "bias", {out}, true)};
      f = out;
    } else if (l.kind == LayerKind::batchnorm) {
      slots = {add("batchnorm." + p + "weight", {f}, true), add("batchnorm." + p + "bias", {f}, true),
               add("batchnorm." + p + "running_mean", {f}, false),
               add("batchnorm." + p + "running_var", {f}, false)};
    }
    L.layer_slots.push_back(std::move(slots));
    L.features.push_back(f);
  }
  return L;
}

template <class Real>
struct Network<Real>::Work {
  std::vector<int32_t> tok, sty, tgt;         // time-major tokens and styles [T][B]; targets per logit row
  std::vector<std::vector<Real>> act, dact;   // act[0]: input features; act[i+1]: layer i output
  std::vector<int> steps;                     // steps[i]: time length of act[i]
  std::vector<std::vector<Real>> aux, aux2;   // lstm: full y; dropout: mask; batchnorm: xhat, invstd
  std::vector<std::unique_ptr<LstmKernel>> kernels;  // float engine only
  LstmBackend backend = LstmBackend::fast;
  Precision precision = Precision::f32;
};

template <class Real>
Network<Real>::Network(ModelSpec spec) : spec_(std::move(spec)), layout_(make_layout(spec_)) {
  params_.assign(layout_.param_count, Real(0));
  buffers_.assign(layout_.buffer_count, Real(0));
  for (const TensorSlot& t : layout_.tensors)
    if (t.name.ends_with("running_var")) std::fill_n(buffers_.begin() + t.offset, t.size(), Real(1));
  for (const auto& slots : layout_.layer_slots)  // batchnorm gamma starts at one
    if (slots.size() == 4 && !layout_.tensors[slots[2]].trainable) {
      const TensorSlot& g = layout_.tensors[slots[0]];
      std::fill_n(params_.begin() + g.offset, g.size(), Real(1));
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
  auto uniform = [&](const TensorSlot& s, double bound) {
    for (Real& v : tensor(s)) v = static_cast<Real>(rng.uniform(-bound, bound));
  };
  if (layout_.embedding_slot != SIZE_MAX)
    for (Real& v : tensor(layout_.tensors[layout_.embedding_slot])) v = static_cast<Real>(rng.normal());
  for (size_t i = 0; i < spec_.layers.size(); ++i) {
    const LayerSpec& l = spec_.layers[i];
    const auto& slots = layout_.layer_slots[i];
    if (l.kind == LayerKind::lstm) {
      for (size_t s : slots) uniform(layout_.tensors[s], 1.0 / std::sqrt(double(l.units)));
      auto b_ih = tensor(layout_.tensors[slots[2]]), b_hh = tensor(layout_.tensors[slots[3]]);
      std::fill_n(b_ih.begin() + l.units, l.units, Real(l.forget_bias));
      std::fill_n(b_hh.begin() + l.units, l.units, Real(0));
    } else if (l.kind == LayerKind::dense) {
      const double bound = 1.0 / std::sqrt(double(layout_.tensors[slots[0]].shape[1]));
      uniform(layout_.tensors[slots[0]], bound);
      uniform(layout_.tensors[slots[1]], bound);
    }
  }
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
  const size_t n_layers = spec_.layers.size();
  w->tok.resize(size_t(B_) * T_);
  if (spec_.styles > 0) w->sty.resize(size_t(B_) * T_);
  w->steps = activation_steps(spec_, T_);
  int f = input_features(spec_);
  w->act.emplace_back(size_t(T_) * B_ * f);
  w->dact.emplace_back(spec_.input == InputKind::embedding ? w->act.back().size() : 0);
  w->aux.resize(n_layers);
  w->aux2.resize(n_layers);
  w->kernels.resize(n_layers);
  for (size_t i = 0; i < n_layers; ++i) {
    const LayerSpec& l = spec_.layers[i];
    const int in = f;
    f = layout_.features[i];
    const int steps = w->steps[i];
    const size_t n_in = size_t(steps) * B_ * in;
    if (l.kind == LayerKind::lstm) {
      if constexpr (std::is_same_v<Real, float>) {
        const LstmDims d{steps, B_, in, l.units};
        w->kernels[i] = backend == LstmBackend::fast ? make_cpu_lstm(d, precision) : make_reference_lstm(d);
      }
      if (!l.return_sequences) w->aux[i].resize(size_t(steps) * B_ * f);
    } else if (l.kind == LayerKind::dropout) {
      w->aux[i].resize(n_in);
    } else if (l.kind == LayerKind::batchnorm) {
      w->aux[i].resize(n_in);
      w->aux2[i].resize(f);
    }
    w->act.emplace_back(size_t(w->steps[i + 1]) * B_ * f);
    w->dact.emplace_back(size_t(w->steps[i + 1]) * B_ * f);
  }
  w->tgt.resize(size_t(w->steps.back()) * B_);
  grads_.assign(params_.size(), Real(0));
  work_ = std::move(w);
}

template <class Real>
void Network<Real>::forward(const int32_t* tokens, bool training, const int32_t* styles) {
  if (!work_) throw InvalidArgument("forward: call prepare(batch, time) first");
  Work& w = *work_;
  check_tokens({tokens, size_t(B_) * T_}, spec_.vocab, "tokens");
  check_styles(spec_, styles, size_t(B_) * T_);
  to_time_major(tokens, B_, T_, w.tok.data());
  if (styles) to_time_major(styles, B_, T_, w.sty.data());
  const int n0 = B_ * T_;
  switch (spec_.input) {
    case InputKind::embedding:
      embedding_forward(tensor(layout_.tensors[layout_.embedding_slot]).data(), spec_.embed_dim, w.tok.data(), n0,
                        w.act[0].data());
      if (layout_.style_slot != SIZE_MAX)
        style_forward(tensor(layout_.tensors[layout_.style_slot]).data(), spec_.embed_dim, w.sty.data(), n0,
                      w.act[0].data());
      break;
    case InputKind::scalar: scalar_forward(w.tok.data(), n0, spec_.vocab, w.act[0].data()); break;
    case InputKind::onehot: onehot_forward(w.tok.data(), n0, spec_.vocab, w.act[0].data()); break;
  }
  int f = input_features(spec_);
  for (size_t i = 0; i < spec_.layers.size(); ++i) {
    const LayerSpec& l = spec_.layers[i];
    const auto& s = layout_.layer_slots[i];
    auto P = [&](int k) { return tensor(layout_.tensors[s[k]]).data(); };
    const Real* x = w.act[i].data();
    Real* y = w.act[i + 1].data();
    const int n = w.steps[i] * B_, in = f;
    f = layout_.features[i];
    switch (l.kind) {
      case LayerKind::lstm: {
        Real* full = l.return_sequences ? y : w.aux[i].data();
        Real* hT = l.return_sequences ? nullptr : y;
        if constexpr (std::is_same_v<Real, float>) {
          w.kernels[i]->forward({P(0), P(1), P(2), P(3)}, x, nullptr, nullptr, full, hT, nullptr, training);
        } else {
          lstm_reference_forward<Real>({w.steps[i], B_, in, l.units}, {P(0), P(1), P(2), P(3)}, x, nullptr,
                                       nullptr, full, hT, nullptr);
        }
        break;
      }
      case LayerKind::dense:
        dense_forward(x, n, in, P(0), P(1), f, int(l.activation), y);
        break;
      case LayerKind::dropout:
        if (training && l.rate > 0) dropout_forward(x, int64_t(n) * f, l.rate, dropout_rng_, w.aux[i].data(), y);
        else std::copy_n(x, size_t(n) * f, y);
        break;
      case LayerKind::batchnorm:
        if (training)
          batchnorm_forward_train(x, n, f, P(0), P(1), l.momentum, l.eps, P(2), P(3), w.aux[i].data(),
                                  w.aux2[i].data(), y);
        else
          batchnorm_forward_eval(x, n, f, P(0), P(1), l.eps, P(2), P(3), y);
        break;
    }
  }
}

template <class Real>
double Network<Real>::forward_backward(const int32_t* tokens, const int32_t* targets, const int32_t* styles) {
  forward(tokens, true, styles);
  Work& w = *work_;
  const int steps = w.steps.back(), rows = steps * B_;
  check_tokens({targets, spec_.mode == Mode::seq2seq ? size_t(B_) * T_ : size_t(B_)}, spec_.vocab, "targets");
  logit_row_targets(spec_.mode, targets, B_, T_, steps, w.tgt.data());
  const double loss = softmax_xent(w.act.back().data(), w.tgt.data(), rows, spec_.vocab, w.dact.back().data());
  for (size_t i = spec_.layers.size(); i-- > 0;) {
    const LayerSpec& l = spec_.layers[i];
    const auto& s = layout_.layer_slots[i];
    auto P = [&](int k) { return tensor(layout_.tensors[s[k]]).data(); };
    auto G = [&](int k) { return grads_.data() + layout_.tensors[s[k]].offset; };
    const int in = i == 0 ? input_features(spec_) : layout_.features[i - 1], f = layout_.features[i];
    const int n = w.steps[i] * B_;
    const Real* x = w.act[i].data();
    Real* dy = w.dact[i + 1].data();
    Real* dx = w.dact[i].empty() ? nullptr : w.dact[i].data();
    switch (l.kind) {
      case LayerKind::lstm: {
        const Real* dseq = l.return_sequences ? dy : nullptr;
        const Real* dhT = l.return_sequences ? nullptr : dy;
        if constexpr (std::is_same_v<Real, float>) {
          w.kernels[i]->backward({P(0), P(1), P(2), P(3)}, x, nullptr, nullptr, dseq, dhT, nullptr, dx,
                                 {G(0), G(1), G(2), G(3)}, nullptr, nullptr);
        } else {
          lstm_reference_backward<Real>({w.steps[i], B_, in, l.units}, {P(0), P(1), P(2), P(3)}, x, nullptr,
                                        nullptr, dseq, dhT, nullptr, dx, {G(0), G(1), G(2), G(3)}, nullptr,
                                        nullptr);
        }
        break;
      }
      case LayerKind::dense:
        dense_backward(x, n, in, P(0), f, int(l.activation), w.act[i + 1].data(), dy, dx, G(0), G(1));
        break;
      case LayerKind::dropout:
        if (!dx) break;
        if (l.rate > 0) dropout_backward(dy, w.aux[i].data(), int64_t(n) * f, dx);
        else std::copy_n(dy, size_t(n) * f, dx);
        break;
      case LayerKind::batchnorm: {
        // batchnorm needs dx for its own formula; when nothing wants it, reuse dy's storage.
        batchnorm_backward(dy, w.aux[i].data(), w.aux2[i].data(), P(0), n, f, dx ? dx : dy, G(0), G(1));
        break;
      }
    }
  }
  if (layout_.embedding_slot != SIZE_MAX) {
    const TensorSlot& e = layout_.tensors[layout_.embedding_slot];
    std::fill_n(grads_.data() + e.offset, e.size(), Real(0));
    embedding_backward(grads_.data() + e.offset, spec_.embed_dim, w.tok.data(), B_ * T_, w.dact[0].data());
  }
  if (layout_.style_slot != SIZE_MAX) {
    const TensorSlot& e = layout_.tensors[layout_.style_slot];
    std::fill_n(grads_.data() + e.offset, e.size(), Real(0));
    style_backward(grads_.data() + e.offset, spec_.embed_dim, w.sty.data(), B_ * T_, w.dact[0].data());
  }
  return loss;
}

template <class Real>
std::span<const Real> Network<Real>::logits() const {
  if (!work_) throw InvalidArgument("logits: nothing computed yet (call prepare and forward)");
  return work_->act.back();
}

template <class Real>
int Network<Real>::logit_steps() const {
  return work_ ? work_->steps.back() : 0;
}

template class Network<float>;
template class Network<double>;

}  // namespace etude::nn
