// The batched inference stepper; see inference.hpp.
// Each step is one T=1 forward of the stack in inference mode over `streams` rows.
#include "nn/inference.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "base/error.hpp"
#include "nn/cpu/packed_lstm.hpp"
#include "nn/cpu/step_team.hpp"
#include "nn/layers.hpp"
#include "nn/device.hpp"

namespace etude::nn {
namespace {

// Several threads are chosen when their steps take less than this share of one thread's.
constexpr double kMultiThreadGain = 0.85;

void input_forward(const Model& model, const int32_t* tokens, int n, float* y) {
  const ModelSpec& spec = model.spec();
  const ParamLayout& layout = model.layout();
  switch (spec.input) {
    case InputKind::embedding:
      embedding_forward(model.tensor(layout.tensors[layout.embedding_slot]).data(), spec.embed_dim, tokens, n, y);
      break;
    case InputKind::scalar: scalar_forward(tokens, n, spec.vocab, y); break;
    case InputKind::onehot: onehot_forward(tokens, n, spec.vocab, y); break;
  }
}

}  // namespace

Stepper::Stepper(const Model& model, int streams, LstmBackend backend, Precision precision, Device device)
    : model_(model), streams_(streams) {
  if (streams < 1) throw InvalidArgument("stepper: streams must be positive (got " + std::to_string(streams) + ")");
  check_precision(device, precision);
  if (device == Device::cuda) {
    if (backend == LstmBackend::reference) throw InvalidArgument("the reference LSTM runs on the CPU only; use --device cpu with it");
    device_ = cuda_backend().make_stepper(model.spec(), model.layout(), model.params(), model.buffers(), streams, precision);
    return;
  }
  const ModelSpec& spec = model.spec();
  const ParamLayout& layout = model.layout();
  const size_t n = spec.layers.size();
  if (spec.styles > 0) style_.assign(size_t(streams) * spec.embed_dim, 0.0f);
  const bool fast = backend == LstmBackend::fast;
  if (fast) lstm_.resize(n);  // empty: the reference backend
  else kernels_.resize(n);
  dense_.resize(n);
  h_.resize(n), c_.resize(n), h_next_.resize(n), c_next_.resize(n);
  int f = input_features(spec);
  act_.emplace_back(size_t(streams) * f);
  for (size_t i = 0; i < n; ++i) {
    const LayerSpec& l = spec.layers[i];
    const auto& s = layout.layer_slots[i];
    auto P = [&](int k) { return model.tensor(layout.tensors[s[k]]).data(); };
    const int out = layout.features[i];
    if (l.kind == LayerKind::lstm) {
      const LstmParams p{P(0), P(1), P(2), P(3)};
      // (a conditioned model adds its stream's style vector to the embedding first: no table)
      const bool table = fast && i == 0 && spec.styles == 0 && double(spec.vocab) * f * 4 * out <= kTableMacs;
      if (table) {  // the input stage of every token, then its gates
        std::vector<int32_t> all(spec.vocab);
        std::iota(all.begin(), all.end(), 0);
        std::vector<float> x(size_t(spec.vocab) * f);
        input_forward(model, all.data(), spec.vocab, x.data());
        table_row_ = size_t(out + kPanelLanes - 1) / kPanelLanes * kPanelRows;
        table_.resize(spec.vocab * table_row_);
        PackedLstm::input_gates(p, f, out, x.data(), spec.vocab, table_.data());
        rows_.resize(streams);
      }
      if (fast) lstm_[i] = std::make_unique<PackedLstm>(p, f, out, precision, !table);
      else kernels_[i] = make_reference_lstm({1, streams, f, out});
      for (auto* v : {&h_[i], &c_[i], &h_next_[i], &c_next_[i]}) v->assign(size_t(streams) * out, 0.0f);
    }
    if (fast && l.kind == LayerKind::dense) dense_[i] = std::make_unique<PackedDense>(P(0), P(1), f, out, int(l.activation));
    step_macs_ += double(streams) * out *
                  (l.kind == LayerKind::lstm ? 4.0 * (f + out) : l.kind == LayerKind::dense ? f : 0.0);
    f = out;
    act_.emplace_back(size_t(streams) * f);
  }
}

Stepper::~Stepper() = default;

// Steps 0-1 warm up, 2-9 alternate between the two choices, then the faster one runs (several
// threads only when clearly faster: a waiting thread costs the other programs their share), the
// other probed once per interval (doubling while it keeps losing, up to 1024 steps).
int Stepper::choose_threads() {
  const int n = step_threads();
  if (threads_ > 0 || n == 1) return n;
  const int64_t k = tune_.steps;
  const int choice = k < 10 ? int(k % 2) : k == tune_.next_probe ? 1 - tune_.best : tune_.best;
  return choice ? n : 1;
}

void Stepper::record_step(int choice, double ms) {
  const int64_t k = tune_.steps++;
  if (threads_ > 0 || step_threads() == 1 || k < 2) return;
  // A probe replaces the other choice's old estimate; the running choice keeps a slow moving
  // average, so that occasional long stalls (a descheduled thread) count in it.
  const bool probe = k == tune_.next_probe;
  tune_.ms[choice] = k < 4 || probe ? ms : 0.9 * tune_.ms[choice] + 0.1 * ms;
  if (k < 9) return;
  const int best = tune_.ms[1] < kMultiThreadGain * tune_.ms[0];
  if (k == 9 || probe) {
    tune_.interval = best == tune_.best && k > 9 ? std::min<int64_t>(tune_.interval * 2, 1024) : 64;
    tune_.next_probe = k + tune_.interval;
  }
  tune_.best = best;
}

int Stepper::step_threads() const {
  return threads_ > 0 ? threads_ : step_macs_ < kSingleThreadMacs ? 1 : omp_get_max_threads();
}

void Stepper::reset() {
  if (device_) return device_->reset();
  for (auto* states : {&h_, &c_})
    for (auto& v : *states) std::fill(v.begin(), v.end(), 0.0f);
}

void Stepper::reset_stream(int s) {
  if (s < 0 || s >= streams_) throw InvalidArgument("stepper: no stream " + std::to_string(s));
  if (device_) return device_->reset_stream(s);
  for (auto* states : {&h_, &c_})
    for (auto& v : *states)
      if (!v.empty()) {
        const size_t h = v.size() / streams_;
        std::fill_n(v.begin() + s * h, h, 0.0f);
      }
}

void Stepper::set_style(int s, std::span<const float> weights) {
  const ModelSpec& spec = model_.spec();
  if (spec.styles == 0) throw InvalidArgument("stepper: this model has no style table, so it takes no style");
  if (s < 0 || s >= streams_) throw InvalidArgument("stepper: no stream " + std::to_string(s));
  if (weights.size() != size_t(spec.styles))
    throw InvalidArgument("stepper: " + std::to_string(weights.size()) + " style weights for a model of " +
                          std::to_string(spec.styles) + " styles");
  const int D = spec.embed_dim;
  std::vector<float> v(size_t(D), 0.0f);
  const float* table = model_.tensor(model_.layout().tensors[model_.layout().style_slot]).data();
  for (size_t k = 0; k < weights.size(); ++k) {
    if (!std::isfinite(weights[k])) throw InvalidArgument("stepper: style weight " + std::to_string(k) + " is not finite");
    if (weights[k] == 0.0f) continue;
    for (int d = 0; d < D; ++d) v[size_t(d)] += weights[k] * table[k * size_t(D) + size_t(d)];
  }
  if (device_) return device_->set_style(s, v);
  std::copy(v.begin(), v.end(), style_.begin() + size_t(s) * D);
}

std::span<const float> Stepper::step(std::span<const int32_t> tokens) {
  if (tokens.size() != size_t(streams_))
    throw InvalidArgument("stepper: got " + std::to_string(tokens.size()) + " tokens for " +
                          std::to_string(streams_) + " streams");
  check_tokens(tokens, model_.spec().vocab, "tokens");
  if (device_) return device_->step(tokens);
  if (table_.empty()) {
    input_forward(model_, tokens.data(), streams_, act_[0].data());
    if (!style_.empty())
      for (size_t k = 0; k < style_.size(); ++k) act_[0][k] += style_[k];
  } else {
    for (int b = 0; b < streams_; ++b) rows_[b] = table_.data() + size_t(tokens[b]) * table_row_;
  }
  const float* y = nullptr;
  if (lstm_.empty()) {
    y = step_reference(act_[0].data());
  } else {
    const int threads = choose_threads();
    const auto t0 = std::chrono::steady_clock::now();
    y = step_fast(act_[0].data(), threads);
    record_step(threads > 1, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  for (size_t i = 0; i < h_.size(); ++i) std::swap(h_[i], h_next_[i]), std::swap(c_[i], c_next_[i]);
  return {y, act_.back().size()};
}

// Every member of the team walks the layers, computing its share of each, with a barrier between
// layers: a step is one job of the team (or of the caller alone on one thread).
const float* Stepper::step_fast(const float* input, int threads) {
  const ModelSpec& spec = model_.spec();
  const ParamLayout& layout = model_.layout();
  const int B = streams_;
  const float* out = nullptr;
  auto job = [&](int part, int parts) {
    const float* x = input;
    int f = input_features(spec);
    for (size_t i = 0; i < spec.layers.size(); ++i) {
      const LayerSpec& l = spec.layers[i];
      float* y = act_[i + 1].data();
      const int in = f;
      f = layout.features[i];
      if (l.kind == LayerKind::dropout) continue;
      if (i > 0 && parts > 1) team_->barrier();  // the previous layer's output is complete
      switch (l.kind) {
        case LayerKind::lstm:
          lstm_[i]->step(B, x, i == 0 && !table_.empty() ? rows_.data() : nullptr, h_[i].data(), c_[i].data(),
                         h_next_[i].data(), c_next_[i].data(), part, parts);
          y = h_next_[i].data();
          break;
        case LayerKind::dense: dense_[i]->step(B, x, y, part, parts); break;
        case LayerKind::batchnorm: {
          const auto& s = layout.layer_slots[i];
          auto P = [&](int k) { return model_.tensor(layout.tensors[s[k]]).data(); };
          if (part == 0) batchnorm_forward_eval(x, B, in, P(0), P(1), l.eps, P(2), P(3), y);
          break;
        }
        case LayerKind::dropout: break;
      }
      x = y;
    }
    if (part == 0) out = x;
  };
  // One thread: the caller alone, no team. Several: the team is made once and kept while the
  // automatic choice switches between 1 and N (starting threads inside a timed step biased it).
  if (threads == 1) {
    job(0, 1);
  } else {
    if (!team_ || team_->size() != threads) team_ = std::make_unique<StepTeam>(threads);
    team_->run(job);
  }
  return out;
}

const float* Stepper::step_reference(const float* x) {
  const ModelSpec& spec = model_.spec();
  const ParamLayout& layout = model_.layout();
  const int B = streams_;
  int f = input_features(spec);
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const LayerSpec& l = spec.layers[i];
    const auto& s = layout.layer_slots[i];
    auto P = [&](int k) { return model_.tensor(layout.tensors[s[k]]).data(); };
    float* y = act_[i + 1].data();
    const int in = f;
    f = layout.features[i];
    switch (l.kind) {
      case LayerKind::lstm:
        kernels_[i]->forward({P(0), P(1), P(2), P(3)}, x, h_[i].data(), c_[i].data(), y, h_next_[i].data(),
                             c_next_[i].data(), false);
        break;
      case LayerKind::dense: dense_forward(x, B, in, P(0), P(1), f, int(l.activation), y); break;
      case LayerKind::dropout: std::copy_n(x, size_t(B) * f, y); break;
      case LayerKind::batchnorm: batchnorm_forward_eval(x, B, f, P(0), P(1), l.eps, P(2), P(3), y); break;
    }
    x = y;
  }
  return x;
}

std::vector<float> Stepper::run(std::span<const int32_t> tokens) {
  if (streams_ != 1) throw InvalidArgument("stepper: run() needs a single-stream stepper");
  const int V = model_.spec().vocab;
  std::vector<float> out(tokens.size() * V);
  for (size_t t = 0; t < tokens.size(); ++t) {
    auto logits = step(tokens.subspan(t, 1));
    std::copy(logits.begin(), logits.end(), out.begin() + t * V);
  }
  return out;
}

}  // namespace etude::nn
