// The CPU steppers; see cpu_stepper.hpp. Each step is the layer walk (layer_walk.hpp) over
// `streams` rows in inference mode, by one of two ops: PackedOps (each member of the team walks the
// layers computing its share, with a barrier between layers) or ReferenceOps (the naive kernels).
#include "nn/cpu/cpu_stepper.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <numeric>
#include <vector>

#include "base/error.hpp"
#include "nn/cpu/packed_lstm.hpp"
#include "nn/cpu/step_team.hpp"
#include "nn/layers.hpp"

namespace etude::nn {
namespace {

// Several threads are chosen when their steps take less than this share of one thread's.
constexpr double kMultiThreadGain = 0.85;

void input_stage(const Model& model, const int32_t* tokens, int n, float* y) {
  const ModelSpec& spec = model.spec();
  switch (spec.input) {
    case InputKind::embedding:
      embedding_forward(input_tensors(model.layout(), model.params().data()).embedding, spec.embed_dim, tokens, n, y);
      break;
    case InputKind::scalar: scalar_forward(tokens, n, spec.vocab, y); break;
    case InputKind::onehot: onehot_forward(tokens, n, spec.vocab, y); break;
  }
}

class CpuStepper final : public DeviceStepper {
 public:
  CpuStepper(const Model& model, int streams, LstmBackend backend, Precision precision);
  void reset() override;
  void reset_stream(int s) override;
  std::span<const float> step(std::span<const int32_t> tokens) override;
  void set_style(int s, std::span<const float> vector) override {
    std::copy(vector.begin(), vector.end(), style_.begin() + size_t(s) * model_.spec().embed_dim);
  }
  int threads() const override {
    return threads_ > 0 ? threads_ : step_macs_ < kSingleThreadMacs ? 1 : omp_get_max_threads();
  }
  void set_threads(int n) override { threads_ = n; }

 private:
  struct PackedOps;
  struct ReferenceOps;
  const float* step_fast(int threads);
  // Steps 0-1 warm up, 2-9 alternate between the two choices, then the faster one runs (several
  // threads only when clearly faster: a waiting thread costs the other programs their share), the
  // other probed once per interval (doubling while it keeps losing, up to 1024 steps).
  int choose_threads();
  void record_step(int choice, double ms);

  const Model& model_;
  StackShape shape_;
  bool fast_;
  double step_macs_ = 0;
  int threads_ = 0;
  struct Tuning {  // the automatic choice between 1 and threads() threads
    double ms[2] = {0, 0};  // recent step times (moving average) of each choice
    int64_t steps = 0, next_probe = 0, interval = 64;
    int best = 1;
  } tune_;
  std::vector<std::unique_ptr<LstmKernel>> kernels_;  // reference: per layer (lstm only), T=1
  std::vector<std::unique_ptr<PackedLstm>> lstm_;     // fast: per layer (lstm only)
  std::vector<std::unique_ptr<PackedDense>> dense_;   // fast: per layer (dense only)
  std::unique_ptr<StepTeam> team_;                     // fast: the step's threads
  // fast, first layer an LSTM: the input part of its gates for every token [vocab][gate size]
  // (W_ih x + biases; the step then reads one row instead of multiplying by W_ih).
  std::vector<float> table_;
  size_t table_row_ = 0;
  std::vector<const float*> rows_;                           // per stream: its token's table row
  std::vector<std::vector<float>> h_, c_, h_next_, c_next_;  // per layer [streams][H]
  std::vector<std::vector<float>> act_;                      // act_[0] input, act_[i+1] layer i
  std::vector<float> style_;                                 // conditioned: per stream [streams][dim]
};

CpuStepper::CpuStepper(const Model& model, int streams, LstmBackend backend, Precision precision)
    : model_(model), shape_(stack_shape(model.spec(), streams, 1)), fast_(backend == LstmBackend::fast) {
  const ModelSpec& spec = model.spec();
  const ParamLayout& layout = model.layout();
  const size_t n = spec.layers.size();
  if (spec.styles > 0) style_.assign(size_t(streams) * spec.embed_dim, 0.0f);
  if (fast_) lstm_.resize(n), dense_.resize(n);
  else kernels_.resize(n);
  h_.resize(n), c_.resize(n), h_next_.resize(n), c_next_.resize(n);
  act_.emplace_back(size_t(streams) * shape_.features[0]);
  for (size_t i = 0; i < n; ++i) {
    const LayerStep s = shape_.layer(spec, i);
    const int f = s.in, out = s.out;
    if (s.spec->kind == LayerKind::lstm) {
      const LstmTensors<const float> t = lstm_tensors(layout, i, model.params().data());
      const LstmParams p{t.w_ih, t.w_hh, t.b_ih, t.b_hh};
      // (a conditioned model adds its stream's style vector to the embedding first: no table)
      const bool table = fast_ && i == 0 && spec.styles == 0 && double(spec.vocab) * f * 4 * out <= kTableMacs;
      if (table) {  // the input stage of every token, then its gates
        std::vector<int32_t> all(spec.vocab);
        std::iota(all.begin(), all.end(), 0);
        std::vector<float> x(size_t(spec.vocab) * f);
        input_stage(model, all.data(), spec.vocab, x.data());
        table_row_ = size_t(out + kPanelLanes - 1) / kPanelLanes * kPanelRows;
        table_.resize(spec.vocab * table_row_);
        PackedLstm::input_gates(p, f, out, x.data(), spec.vocab, table_.data());
        rows_.resize(streams);
      }
      if (fast_) lstm_[i] = std::make_unique<PackedLstm>(p, f, out, precision, !table);
      else kernels_[i] = make_reference_lstm({1, streams, f, out});
      for (auto* v : {&h_[i], &c_[i], &h_next_[i], &c_next_[i]}) v->assign(size_t(streams) * out, 0.0f);
    }
    if (fast_ && s.spec->kind == LayerKind::dense) {
      const DenseTensors<const float> t = dense_tensors(layout, i, model.params().data());
      dense_[i] = std::make_unique<PackedDense>(t.weight, t.bias, f, out, s.spec->activation);
    }
    step_macs_ += double(streams) * out *
                  (s.spec->kind == LayerKind::lstm ? 4.0 * (f + out) : s.spec->kind == LayerKind::dense ? f : 0.0);
    act_.emplace_back(size_t(streams) * out);
  }
}

// Fast: every member of the team walks the layers, computing its share of each; a barrier before
// each layer after the first (the previous layer's output is complete). Dropout is the identity.
struct CpuStepper::PackedOps {
  CpuStepper& st;
  int part, parts;
  const float* x = nullptr;
  void input_forward() { x = st.act_[0].data(); }  // step() computed it (or the table rows) first
  void wait(const LayerStep& s) {
    if (s.index > 0 && parts > 1) st.team_->barrier();
  }
  void lstm_forward(const LayerStep& s) {
    wait(s);
    const size_t i = s.index;
    st.lstm_[i]->step(st.shape_.batch, x, i == 0 && !st.table_.empty() ? st.rows_.data() : nullptr, st.h_[i].data(),
                      st.c_[i].data(), st.h_next_[i].data(), st.c_next_[i].data(), part, parts);
    x = st.h_next_[i].data();
  }
  void dense_forward(const LayerStep& s) {
    wait(s);
    st.dense_[s.index]->step(st.shape_.batch, x, st.act_[s.index + 1].data(), part, parts);
    x = st.act_[s.index + 1].data();
  }
  void dropout_forward(const LayerStep&) {}
  void batchnorm_forward(const LayerStep& s) {
    wait(s);
    const BatchnormTensors<const float> p =
        batchnorm_tensors(st.model_.layout(), s.index, st.model_.params().data(), st.model_.buffers().data());
    float* y = st.act_[s.index + 1].data();
    if (part == 0) batchnorm_forward_eval(x, st.shape_.batch, s.in, p.gamma, p.beta, s.spec->eps, p.running_mean,
                                          p.running_var, y);
    x = y;
  }
  void activation_forward(const LayerStep& s) {
    wait(s);
    float* y = st.act_[s.index + 1].data();
    if (part == 0) nn::activation_forward(x, int64_t(st.shape_.batch) * s.in, s.spec->activation, y);
    x = y;
  }
};

// Reference: the naive kernels, one thread, every layer into its activation.
struct CpuStepper::ReferenceOps {
  CpuStepper& st;
  const float* x = nullptr;
  const ParamLayout& layout() const { return st.model_.layout(); }
  void input_forward() { x = st.act_[0].data(); }
  void lstm_forward(const LayerStep& s) {
    const size_t i = s.index;
    const LstmTensors<const float> t = lstm_tensors(layout(), i, st.model_.params().data());
    float* y = st.act_[i + 1].data();
    st.kernels_[i]->forward({t.w_ih, t.w_hh, t.b_ih, t.b_hh}, x, st.h_[i].data(), st.c_[i].data(), y,
                            st.h_next_[i].data(), st.c_next_[i].data(), false);
    x = y;
  }
  void dense_forward(const LayerStep& s) {
    const DenseTensors<const float> t = dense_tensors(layout(), s.index, st.model_.params().data());
    float* y = st.act_[s.index + 1].data();
    nn::dense_forward(x, s.rows, s.in, t.weight, t.bias, s.out, s.spec->activation, y);
    x = y;
  }
  void dropout_forward(const LayerStep& s) {
    float* y = st.act_[s.index + 1].data();
    std::copy_n(x, size_t(s.rows) * s.out, y);
    x = y;
  }
  void batchnorm_forward(const LayerStep& s) {
    const BatchnormTensors<const float> p =
        batchnorm_tensors(layout(), s.index, st.model_.params().data(), st.model_.buffers().data());
    float* y = st.act_[s.index + 1].data();
    batchnorm_forward_eval(x, s.rows, s.out, p.gamma, p.beta, s.spec->eps, p.running_mean, p.running_var, y);
    x = y;
  }
  void activation_forward(const LayerStep& s) {
    float* y = st.act_[s.index + 1].data();
    nn::activation_forward(x, int64_t(s.rows) * s.out, s.spec->activation, y);
    x = y;
  }
};

int CpuStepper::choose_threads() {
  const int n = threads();
  if (threads_ > 0 || n == 1) return n;
  const int64_t k = tune_.steps;
  const int choice = k < 10 ? int(k % 2) : k == tune_.next_probe ? 1 - tune_.best : tune_.best;
  return choice ? n : 1;
}

void CpuStepper::record_step(int choice, double ms) {
  const int64_t k = tune_.steps++;
  if (threads_ > 0 || threads() == 1 || k < 2) return;
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

void CpuStepper::reset() {
  for (auto* states : {&h_, &c_})
    for (auto& v : *states) std::fill(v.begin(), v.end(), 0.0f);
}

void CpuStepper::reset_stream(int s) {
  for (auto* states : {&h_, &c_})
    for (auto& v : *states)
      if (!v.empty()) {
        const size_t h = v.size() / shape_.batch;
        std::fill_n(v.begin() + s * h, h, 0.0f);
      }
}

std::span<const float> CpuStepper::step(std::span<const int32_t> tokens) {
  const int B = shape_.batch;
  if (table_.empty()) {
    input_stage(model_, tokens.data(), B, act_[0].data());
    if (!style_.empty())
      for (size_t k = 0; k < style_.size(); ++k) act_[0][k] += style_[k];
  } else {
    for (int b = 0; b < B; ++b) rows_[b] = table_.data() + size_t(tokens[b]) * table_row_;
  }
  const float* y = nullptr;
  if (!fast_) {
    ReferenceOps ops{*this};
    walk_forward(model_.spec(), shape_, ops);
    y = ops.x;
  } else {
    const int threads = choose_threads();
    const auto t0 = std::chrono::steady_clock::now();
    y = step_fast(threads);
    record_step(threads > 1, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  for (size_t i = 0; i < h_.size(); ++i) std::swap(h_[i], h_next_[i]), std::swap(c_[i], c_next_[i]);
  return {y, act_.back().size()};
}

// A step is one job of the team (or of the caller alone on one thread).
const float* CpuStepper::step_fast(int threads) {
  const float* out = nullptr;
  auto job = [&](int part, int parts) {
    PackedOps ops{*this, part, parts};
    walk_forward(model_.spec(), shape_, ops);
    if (part == 0) out = ops.x;
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

}  // namespace

std::unique_ptr<DeviceStepper> make_cpu_stepper(const Model& model, int streams, LstmBackend backend,
                                                Precision precision) {
  return std::make_unique<CpuStepper>(model, streams, backend, precision);
}

}  // namespace etude::nn
