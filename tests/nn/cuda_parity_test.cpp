// The CUDA backend against the CPU engine: for small models of each preset's shape, logits, loss,
// every gradient, batchnorm statistics, optimizer updates and composing steps agree within 1e-4
// relative in f32 (2e-2 in f16), a style-conditioned model included (its style table's gradient,
// the stepper's blended style vectors). They skip where no GPU is; the plugin's loading is
// checked anyway.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "base/error.hpp"
#include "nn/device.hpp"
#include "nn/inference.hpp"
#include "nn/network.hpp"
#include "nn/optimizer.hpp"
#include "nn_test_util.hpp"

namespace etude::nn {
namespace {
using namespace testing;

#define REQUIRE_GPU()                                                                    \
  do {                                                                                   \
    if (!cuda_status().usable) GTEST_SKIP() << "no usable CUDA device: " << cuda_status().why; \
  } while (0)

// Error of a GPU tensor against the CPU's: max|gpu - cpu| / max(max|cpu|, 1e-3), per tensor.
constexpr double kF32 = 1e-4, kF16 = 2e-2, kTiny = 1e-3;

struct Case {
  std::string name;
  ModelSpec spec;
};

// Small versions of the presets' shapes; widths cross the kernels' block sizes (256 threads, 32
// columns) so their strided loops run more than once.
std::vector<Case> cases() {
  std::vector<Case> c{
      {"default_embedding_seq2seq",
       small_spec(InputKind::embedding, Mode::seq2seq, {lstm(64), lstm(48), dropout(0.3f), dense(kVocabUnits)}, 300)},
      {"skuli_scalar_seq2one", small_spec(InputKind::scalar, Mode::seq2one,
                                          {lstm(40), lstm(36, false), dense(33, Activation::tanh), dense(kVocabUnits)}, 9)},
      {"voc_onehot_batchnorm_seq2one",
       small_spec(InputKind::onehot, Mode::seq2one,
                  {lstm(40), dropout(0.2f), batchnorm(), lstm(36, false), dropout(0.2f), batchnorm(),
                   dense(34, Activation::relu), dropout(0.2f), batchnorm(), dense(kVocabUnits)},
                  12)},
      {"onehot_dense_relu_tanh_seq2seq",
       small_spec(InputKind::onehot, Mode::seq2seq,
                  {lstm(24), dense(40, Activation::relu), dense(20, Activation::tanh), dense(kVocabUnits)}, 10)},
      {"embedding_3_styles_seq2seq",
       small_spec(InputKind::embedding, Mode::seq2seq, {lstm(40), dropout(0.2f), dense(kVocabUnits)}, 50)},
  };
  c[0].spec.embed_dim = 260;
  c[0].spec.batch = 5;
  c[0].spec.window = 7;
  c[2].spec.batch = 8;  // batchnorm over a handful of rows is ill-conditioned (see torch_parity_test)
  c[4].spec.styles = 3;  // a conditioned model: embedding[token] + style_embedding[style]
  c[4].spec.embed_dim = 36;
  c[4].spec.batch = 6;
  c[4].spec.window = 5;
  for (Case& k : c) validate_model_spec(k.spec);
  return c;
}

Model cpu_model(const ModelSpec& spec, uint64_t seed) {
  Model m(spec);
  m.init_random(seed);
  if (m.layout().style_slot != SIZE_MAX) {  // init leaves style rows at zero: give them values to add
    Rng rng(seed ^ 0x5717e);
    for (float& v : m.tensor(m.layout().tensors[m.layout().style_slot])) v = float(rng.normal());
  }
  m.prepare(spec.batch, spec.window);
  return m;
}

// One batch in both forms: batch-major for the CPU Model, time-major rows for the engine. styles
// (the style of every token) only for a conditioned model; sty() and sty_tm() are then the
// pointers the CPU and the engine take, else nullptr.
struct Batch {
  std::vector<int32_t> tokens, targets, tokens_tm, rows, styles, styles_tm;
  const int32_t* sty() const { return styles.empty() ? nullptr : styles.data(); }
  const int32_t* sty_tm() const { return styles_tm.empty() ? nullptr : styles_tm.data(); }
};
Batch make_batch(const Model& m, uint64_t seed) {
  const ModelSpec& s = m.spec();
  const int B = m.batch(), T = m.time();
  Batch b;
  b.tokens = random_tokens(size_t(B) * T, s.vocab, seed);
  b.targets = random_tokens(s.mode == Mode::seq2seq ? size_t(B) * T : size_t(B), s.vocab, seed + 1);
  b.tokens_tm.resize(b.tokens.size());
  to_time_major(b.tokens.data(), B, T, b.tokens_tm.data());
  if (s.styles > 0) {
    b.styles = random_tokens(b.tokens.size(), s.styles, seed + 2);
    b.styles_tm.resize(b.styles.size());
    to_time_major(b.styles.data(), B, T, b.styles_tm.data());
  }
  b.rows.resize(size_t(m.logit_steps()) * B);
  logit_row_targets(s.mode, b.targets.data(), B, T, m.logit_steps(), b.rows.data());
  return b;
}

std::unique_ptr<DeviceEngine> gpu_engine(const Model& m, Precision precision) {
  auto e = cuda_backend().make_engine(m.spec(), m.layout(), m.batch(), m.time(), precision);
  e->upload(m.params(), m.buffers(), {});
  return e;
}

double rel(double gpu, double cpu) { return std::abs(gpu - cpu) / std::max(std::abs(cpu), kTiny); }

// Every trainable tensor of `gpu` (a block in the model's layout) against the CPU's block.
void expect_tensors_close(const Model& m, std::span<const float> gpu, std::span<const float> cpu, bool trainable,
                          double tol, const std::string& what) {
  for (const TensorSlot& t : m.layout().tensors) {
    if (t.trainable != trainable) continue;
    EXPECT_LT(rel_error(gpu.subspan(t.offset, t.size()), cpu.subspan(t.offset, t.size()), kTiny), tol)
        << what << " " << t.name;
  }
}

struct Downloaded {
  std::vector<float> params, buffers, state;
};
Downloaded download(DeviceEngine& e, const Model& m, size_t state_size) {
  Downloaded d{std::vector<float>(m.params().size()), std::vector<float>(m.buffers().size()),
               std::vector<float>(state_size)};
  e.download(d.params, d.buffers, d.state);
  return d;
}

TEST(CudaPlugin, LoadsWithEveryEngineSymbolResolved) {
#ifndef ETUDE_HAVE_CUDA
  GTEST_SKIP() << "this build has no CUDA backend (CMake found no toolkit with cuDNN)";
#else
  const char* bin = std::getenv("ETUDE_BIN");
  if (!bin || !*bin) GTEST_SKIP() << "ETUDE_BIN is not set (run through ctest)";
  const auto path = std::filesystem::path(bin).parent_path() / "libetude_cuda.so";
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);  // RTLD_NOW: an undefined symbol fails here
  ASSERT_NE(handle, nullptr) << dlerror();
  using Entry = const CudaBackendApi* (*)();
  auto entry = reinterpret_cast<Entry>(dlsym(handle, "etude_cuda_backend"));
  ASSERT_NE(entry, nullptr);
  const CudaBackendApi* api = entry();
  ASSERT_NE(api, nullptr);
  EXPECT_EQ(api->abi, kCudaPluginAbi);
  ASSERT_TRUE(api->probe && api->make_engine && api->make_stepper);
  const CudaStatus status = api->probe();
  if (!status.usable) {
    EXPECT_FALSE(status.why.empty());
  }
  // The plugin's exceptions reach us as etude's kinds: bf16 is refused before any device call,
  // and without a device the engine fails as a DeviceError naming the CUDA call.
  const Model m = cpu_model(cases()[0].spec, 1);
  EXPECT_THROW(api->make_engine(m.spec(), m.layout(), 2, 3, Precision::bf16), InvalidArgument);
  EXPECT_THROW(api->make_stepper(m.spec(), m.layout(), m.params(), m.buffers(), 2, Precision::bf16), InvalidArgument);
  if (!status.usable) {
    try {
      api->make_engine(m.spec(), m.layout(), 2, 3, Precision::f32);
      ADD_FAILURE() << "an engine without a usable device";
    } catch (const DeviceError& e) {
      EXPECT_NE(std::string(e.what()).find("failed"), std::string::npos) << e.what();
    }
  }
  // The handle stays open: the loader in device.cpp may hold the same library.
#endif
}

TEST(CudaParity, ForwardBackwardMatchesCpu) {
  REQUIRE_GPU();
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    Model m = cpu_model(c.spec, 11);
    auto gpu = gpu_engine(m, Precision::f32);
    const Batch b = make_batch(m, 5);
    m.seed_dropout(42);
    gpu->seed_dropout(42);
    const double cpu_loss = m.forward_backward(b.tokens.data(), b.targets.data(), b.sty());
    const double gpu_loss = gpu->forward_backward(b.tokens_tm.data(), b.sty_tm(), b.rows.data());
    EXPECT_LT(rel(gpu_loss, cpu_loss), kF32) << gpu_loss << " vs " << cpu_loss;
    EXPECT_LT(rel_error(gpu->logits(), m.logits(), kTiny), kF32) << "logits";
    std::vector<float> grads(m.grads().size());
    gpu->download_grads(grads);
    expect_tensors_close(m, grads, m.grads(), true, kF32, "gradient");
    const Downloaded d = download(*gpu, m, 0);  // batchnorm's running statistics moved in training
    expect_tensors_close(m, d.buffers, m.buffers(), false, kF32, "buffer");
    // An inference forward (no dropout, running statistics) gives the CPU's logits as well.
    m.forward(b.tokens.data(), false, b.sty());
    gpu->forward(b.tokens_tm.data(), b.sty_tm(), false);
    EXPECT_LT(rel_error(gpu->logits(), m.logits(), kTiny), kF32) << "inference logits";
  }
}

// The update alone: the CPU optimizer applies the GPU's own gradients, so only the update's
// arithmetic is compared (Adam's and RMSprop's first steps, g / (|g| + eps), would turn a gradient
// difference far below the 1e-4 above into a visible parameter difference where g is near zero).
TEST(CudaParity, UpdatesMatchCpuOptimizers) {
  REQUIRE_GPU();
  std::vector<OptimizerSpec> optimizers(3);
  optimizers[0].kind = OptimizerKind::adam;
  optimizers[0].weight_decay = 0.01f;
  optimizers[1].kind = OptimizerKind::rmsprop;
  optimizers[2].kind = OptimizerKind::sgd;
  optimizers[2].lr = 0.05f;
  optimizers[2].momentum = 0.9f;
  optimizers[2].weight_decay = 0.01f;
  for (const Case& c : cases())
    for (const OptimizerSpec& o : optimizers)
      for (float clip : {0.0f, 0.01f}) {
        SCOPED_TRACE(c.name + " optimizer " + std::to_string(int(o.kind)) + " clip " + std::to_string(clip));
        Model m = cpu_model(c.spec, 13);
        auto gpu = gpu_engine(m, Precision::f32);
        Optimizer cpu_opt(o, ScheduleSpec{}, clip, m.params().size());
        std::vector<float> grads(m.params().size());
        for (int64_t step = 1; step <= 2; ++step) {  // the second step reads the state the first wrote
          const Batch b = make_batch(m, 100 + step);
          gpu->seed_dropout(step);
          gpu->forward_backward(b.tokens_tm.data(), b.sty_tm(), b.rows.data());
          gpu->download_grads(grads);
          const double cpu_norm = cpu_opt.step(m.params(), grads);
          const UpdateResult r = gpu->update({o, clip, step});
          EXPECT_FALSE(r.skipped);
          EXPECT_LT(rel(r.grad_norm, cpu_norm), 1e-6) << r.grad_norm << " vs " << cpu_norm;
          if (clip > 0) {
            EXPECT_GT(cpu_norm, clip) << "clipping should act in this case";
          }
        }
        const Downloaded d = download(*gpu, m, cpu_opt.state().size());
        expect_tensors_close(m, d.params, m.params(), true, kF32, "parameter");
        EXPECT_LT((rel_error<float, float>(d.state, cpu_opt.state(), kTiny)), kF32) << "optimizer state";
      }
}

// The GPU side is an nn::Stepper on Device::cuda, so a conditioned model's blends go through
// Stepper::set_style (the host computes the vector, the plugin adds it to the embedding).
TEST(CudaParity, StepperMatchesCpuStepper) {
  REQUIRE_GPU();
  constexpr int kStreams = 3, kSteps = 6;
  for (const Case& c : cases())
    for (const Precision precision : {Precision::f32, Precision::f16}) {
      SCOPED_TRACE(c.name + (precision == Precision::f16 ? " f16" : " f32"));
      const Model m = cpu_model(c.spec, 17);
      Stepper cpu(m, kStreams);
      Stepper gpu(m, kStreams, LstmBackend::fast, precision, Device::cuda);
      // Conditioned: stream 0 in style 1, stream 1 in a blend, stream 2 without a style until
      // step 2; stream 0 changes to another blend at step 4 (after stream 1's reset, which keeps styles).
      auto set_style = [&](int s, std::vector<float> w) {
        w.resize(size_t(c.spec.styles), 0.0f);
        cpu.set_style(s, w);
        gpu.set_style(s, w);
      };
      if (c.spec.styles > 0) {
        set_style(0, {0, 1, 0});
        set_style(1, {0.5f, -0.25f, 0.75f});
      }
      const std::vector<int32_t> tokens = random_tokens(size_t(kStreams) * kSteps, c.spec.vocab, 3);
      for (int t = 0; t < kSteps; ++t) {
        if (t == 3) {  // one stream starts over, the others carry on
          cpu.reset_stream(1);
          gpu.reset_stream(1);
        }
        if (c.spec.styles > 0 && t == 2) set_style(2, {1, 0, 0});
        if (c.spec.styles > 0 && t == 4) set_style(0, {0.2f, 0.3f, 0.5f});
        const std::span<const int32_t> step(tokens.data() + size_t(t) * kStreams, kStreams);
        const std::span<const float> want = cpu.step(step);  // valid until cpu's next step
        EXPECT_LT(rel_error(gpu.step(step), want, kTiny), precision == Precision::f16 ? kF16 : kF32) << "step " << t;
      }
    }
}

// f16 on sequence models (one conditioned) and on a seq2one one (a non-sequence LSTM: hy out, dhy
// in, in half). The update is SGD with weight decay, which unlike Adam is not blind to the
// gradients' scale: the parameters must be what the CPU optimizer makes of the GPU's unscaled
// gradients.
TEST(CudaParity, HalfPrecisionWithinStatedBounds) {
  REQUIRE_GPU();
  OptimizerSpec sgd;
  sgd.kind = OptimizerKind::sgd;
  sgd.lr = 0.05f;
  sgd.weight_decay = 0.01f;
  for (const Case& c : {cases()[0], cases()[1], cases()[4]}) {
    SCOPED_TRACE(c.name);
    Model m = cpu_model(c.spec, 19);
    auto gpu = gpu_engine(m, Precision::f16);
    const Batch b = make_batch(m, 23);
    m.seed_dropout(1);
    const double cpu_loss = m.forward_backward(b.tokens.data(), b.targets.data(), b.sty());
    std::vector<float> grads(m.grads().size());
    double gpu_loss = 0;
    UpdateResult r{0, true};
    // A loss scale too large for this batch is halved and the update skipped: that may happen a few times.
    for (int attempt = 0; attempt < 8 && r.skipped; ++attempt) {
      gpu->seed_dropout(1);
      gpu_loss = gpu->forward_backward(b.tokens_tm.data(), b.sty_tm(), b.rows.data());
      gpu->download_grads(grads);
      r = gpu->update({sgd, 0.0f, 1});
    }
    ASSERT_FALSE(r.skipped) << "every loss scale overflowed";
    EXPECT_LT(rel(gpu_loss, cpu_loss), kF16);
    EXPECT_LT(rel_error(gpu->logits(), m.logits(), kTiny), kF16) << "logits";
    expect_tensors_close(m, grads, m.grads(), true, kF16, "gradient");
    std::vector<float> cpu_grads(m.grads().begin(), m.grads().end());
    EXPECT_LT(rel(r.grad_norm, clip_grad_norm(cpu_grads, 1e30)), kF16);
    Optimizer cpu_opt(sgd, ScheduleSpec{}, 0.0f, m.params().size());
    EXPECT_LT(rel(cpu_opt.step(m.params(), grads), r.grad_norm), 1e-5) << "the norm of the unscaled gradients";
    const Downloaded d = download(*gpu, m, 0);
    expect_tensors_close(m, d.params, m.params(), true, kF32, "parameter after the f16 update");
  }
}

TEST(CudaParity, HalfPrecisionSkipsTheUpdateOnOverflow) {
  REQUIRE_GPU();
  const Case c = cases()[0];
  Model m = cpu_model(c.spec, 29);
  // Logit weights 1e4 times too large: the scaled gradient reaching the last LSTM overflows half.
  const TensorSlot& w = m.layout().tensors[m.layout().layer_slots.back()[0]];
  for (float& v : m.tensor(w)) v *= 1e4f;
  auto gpu = gpu_engine(m, Precision::f16);
  const Batch b = make_batch(m, 31);
  gpu->forward_backward(b.tokens_tm.data(), b.sty_tm(), b.rows.data());
  const UpdateResult r = gpu->update({c.spec.optimizer, 0.0f, 1});
  EXPECT_TRUE(r.skipped);
  const Downloaded d = download(*gpu, m, 0);
  EXPECT_EQ((rel_error<float, float>(d.params, m.params())), 0.0) << "a skipped update changed the parameters";
}

}  // namespace
}  // namespace etude::nn
