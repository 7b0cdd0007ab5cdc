// The CPU training engine; see cpu_engine.hpp.
#include "nn/cpu/cpu_engine.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "base/error.hpp"

namespace etude::nn {
namespace {

class CpuEngine final : public DeviceEngine {
 public:
  CpuEngine(Model& model, Optimizer& optimizer, int batch, int time, LstmBackend backend, Precision precision)
      : model_(model), optimizer_(optimizer), rows_(stack_shape(model.spec(), batch, time).logit_rows()) {
    model_.prepare(batch, time, backend, precision);
  }
  // Trainer hands the host model's own blocks: nothing to move. Other blocks are copied in or out.
  void upload(std::span<const float> params, std::span<const float> buffers, std::span<const float> state) override {
    copy(params, model_.params()), copy(buffers, model_.buffers()), copy(state, optimizer_.state());
  }
  void download(std::span<float> params, std::span<float> buffers, std::span<float> state) override {
    copy(model_.params(), params), copy(model_.buffers(), buffers), copy(optimizer_.state(), state);
  }
  void download_grads(std::span<float> grads) override { copy(model_.grads(), grads); }
  void upload_grads(std::span<const float> grads) override { copy(grads, model_.grads()); }
  void set_batch_shard(int offset, int global_batch) override { model_.set_batch_shard(offset, global_batch); }
  void seed_dropout(uint64_t seed) override { model_.seed_dropout(seed); }
  void forward(const int32_t* tokens_tm, const int32_t* styles_tm, bool training) override {
    model_.forward_time_major(tokens_tm, styles_tm, training);
  }
  double forward_backward(const int32_t* tokens_tm, const int32_t* styles_tm, const int32_t* row_targets) override {
    return model_.forward_backward_time_major(tokens_tm, styles_tm, row_targets);
  }
  std::span<const float> logits() override { return model_.logits(); }
  // Rows scored in parallel, added in order: no dependence on the thread count.
  void add_score(const int32_t* row_targets, RowScore& total) override {
    row_loss_.resize(size_t(rows_));
    row_right_.resize(size_t(rows_));
    score_rows_on_host(model_.logits(), row_targets, rows_, model_.spec().vocab, row_loss_.data(), row_right_.data());
    for (int r = 0; r < rows_; ++r)
      if (row_targets[r] >= 0) total.loss_sum += row_loss_[size_t(r)], total.correct += row_right_[size_t(r)], ++total.count;
  }
  // The host Optimizer makes the update at its own scheduled rate, which is settings' (Trainer
  // computes that from the same steps_done); it counts the step itself.
  UpdateResult update(const UpdateSettings&) override {
    UpdateResult r;
    r.grad_norm = optimizer_.step(model_.params(), model_.grads());
    return r;
  }

 private:
  template <class T>
  static void copy(std::span<const T> from, std::span<T> to) {
    if (from.empty() || from.data() == to.data()) return;
    if (from.size() != to.size())
      throw InvalidArgument("CPU engine: a block of " + std::to_string(from.size()) + " floats for one of " +
                            std::to_string(to.size()) + " (a model of another shape?)");
    std::copy(from.begin(), from.end(), to.begin());
  }
  static void copy(std::span<float> from, std::span<float> to) { copy(std::span<const float>(from), to); }

  Model& model_;
  Optimizer& optimizer_;
  int rows_;
  std::vector<double> row_loss_;
  std::vector<uint8_t> row_right_;
};

}  // namespace

std::unique_ptr<DeviceEngine> make_cpu_engine(Model& model, Optimizer& optimizer, int batch, int time,
                                              LstmBackend backend, Precision precision) {
  return std::make_unique<CpuEngine>(model, optimizer, batch, time, backend, precision);
}

void score_rows_on_host(std::span<const float> logits, const int32_t* row_targets, int rows, int V, double* row_loss,
                        uint8_t* row_right) {
#pragma omp parallel for schedule(static) if (int64_t(rows) * V > (1 << 16))
  for (int r = 0; r < rows; ++r) {
    const int32_t y = row_targets[r];
    if (y < 0) continue;
    const float* z = logits.data() + size_t(r) * V;
    const float mx = *std::max_element(z, z + V);
    double sum = 0;
    for (int k = 0; k < V; ++k) sum += std::exp(double(z[k] - mx));
    row_loss[r] = std::log(sum) + mx - z[y];
    row_right[r] = int(std::max_element(z, z + V) - z) == y;
  }
}

}  // namespace etude::nn
