// Parity with PyTorch: for small models of each kind, the C++ engine writes its initial weights
// (a real model file), its logits, loss, every gradient, and the parameters after 3 Adam and 3
// RMSprop steps (and 3 SGD-momentum steps); tests/nn/torch_parity.py rebuilds the model in torch
// and compares (1e-4 relative).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "nn/model_io.hpp"
#include "nn/trainer.hpp"
#include "nn_test_util.hpp"

namespace etude::nn {
namespace {
using namespace testing;
namespace fs = std::filesystem;

struct ParityCase {
  std::string name;
  ModelSpec spec;
};

std::vector<ParityCase> parity_cases() {
  std::vector<ParityCase> cases{
      {"embedding_seq2seq", small_spec(InputKind::embedding, Mode::seq2seq, {lstm(8), lstm(6), dense(kVocabUnits)}, 11)},
      {"scalar_seq2one", small_spec(InputKind::scalar, Mode::seq2one,
                                    {lstm(8), lstm(6, false), dense(7, Activation::tanh), dense(kVocabUnits)}, 9)},
      {"embedding_seq2one_batchnorm",
       small_spec(InputKind::embedding, Mode::seq2one,
                  {lstm(8), batchnorm(), lstm(6, false), dense(5, Activation::relu), batchnorm(), dense(kVocabUnits)},
                  10)},
      {"onehot_seq2seq_relu", small_spec(InputKind::onehot, Mode::seq2seq,
                                         {lstm(6), dense(8, Activation::relu), dense(kVocabUnits)}, 8)},
      {"scalar_seq2one_batchnorm",  // the seed-voc shape in miniature, dropout rate 0
       small_spec(InputKind::scalar, Mode::seq2one,
                  {lstm(8), dropout(0.0f), batchnorm(), lstm(6, false), dropout(0.0f), batchnorm(),
                   dense(5, Activation::relu), batchnorm(), dense(kVocabUnits)},
                  12)},
      {"embedding_seq2seq_activations",  // parameter-free activation layers between the lstms
       small_spec(InputKind::embedding, Mode::seq2seq,
                  {lstm(8), activation(Activation::tanh), lstm(6), activation(Activation::relu), dense(kVocabUnits)},
                  11)},
  };
  // Style conditioning: three learned style vectors added to the token embedding.
  cases.push_back({"embedding_styles_seq2seq",
                   small_spec(InputKind::embedding, Mode::seq2seq, {lstm(8), lstm(6), dense(kVocabUnits)}, 11)});
  cases.back().spec.styles = 3;
  cases.back().spec.embed_dim = 5;
  cases[0].spec.clip = 0.05f;  // small enough that clipping acts
  cases[0].spec.embed_dim = 5;
  cases[2].spec.clip = 0.5f;
  // Batchnorm over only B rows is ill-conditioned (float rounding amplified by 1/std of a few
  // samples), so those cases use a larger batch; the learning rate is Keras' RMSprop default.
  cases[2].spec.batch = cases[4].spec.batch = 8;
  for (auto& c : cases) c.spec.optimizer.lr = 1e-3f;
  return cases;
}

void add_views(const Model& m, const std::string& prefix, std::vector<TensorView>& out) {
  for (const TensorSlot& t : m.layout().tensors) out.push_back({prefix + t.name, t.shape, m.tensor(t)});
}

// Runs 3 optimizer steps of `kind` from the initial weights; returns parameters and stats after.
Model trained(const Model& init, OptimizerKind kind, const std::vector<int32_t>& tokens,
              const std::vector<int32_t>& targets, const int32_t* styles) {
  ModelSpec spec = init.spec();
  spec.optimizer.kind = kind;
  if (kind == OptimizerKind::sgd) {  // the python side uses the same constants
    spec.optimizer.lr = 0.02f;
    spec.optimizer.momentum = 0.9f;
  }
  Model m(spec);
  std::copy(init.params().begin(), init.params().end(), m.params().begin());
  std::copy(init.buffers().begin(), init.buffers().end(), m.buffers().begin());
  Trainer trainer(m, spec.batch, spec.window);
  for (int i = 0; i < 3; ++i) trainer.step(tokens.data(), targets.data(), styles);
  return m;
}

TEST(TorchParity, LogitsLossGradientsAndOptimizerSteps) {
  const char* source = std::getenv("ETUDE_SOURCE");
  if (!source) GTEST_SKIP() << "ETUDE_SOURCE is not set (ctest sets it to the repository root)";
  const fs::path dir = fs::temp_directory_path() / ("etude_torch_parity_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  for (const ParityCase& c : parity_cases()) {
    const int B = c.spec.batch, T = c.spec.window, V = c.spec.vocab;
    Model model(c.spec);
    model.init_random(1234);
    const auto tokens = random_tokens(size_t(B) * T, V, 5);
    const auto targets = random_tokens(c.spec.mode == Mode::seq2seq ? size_t(B) * T : B, V, 6);
    nlohmann::json data{{"tokens", tokens}, {"targets", targets}, {"batch", B}, {"time", T}};
    std::vector<int32_t> style_ids;
    if (c.spec.styles > 0) {  // style rows start at zero: give them values, and every token a style
      const TensorSlot& st = model.layout().tensors[model.layout().style_slot];
      auto rows = model.tensor(st);
      for (size_t i = 0; i < rows.size(); ++i) rows[i] = float(std::sin(1.7 * double(i) + 0.3));
      style_ids = random_tokens(size_t(B) * T, c.spec.styles, 8);
      data["styles"] = style_ids;
    }
    const int32_t* styles = style_ids.empty() ? nullptr : style_ids.data();
    const std::string meta = data.dump();
    save_model(dir / (c.name + ".model.safetensors"), model, DType::f32, {{"test.data", meta}});

    Model step_model(c.spec);
    std::copy(model.params().begin(), model.params().end(), step_model.params().begin());
    std::copy(model.buffers().begin(), model.buffers().end(), step_model.buffers().begin());
    step_model.prepare(B, T);
    const float loss = float(step_model.forward_backward(tokens.data(), targets.data(), styles));
    const int steps = step_model.logit_steps();
    std::vector<TensorView> out{{"logits", {steps, B, V}, step_model.logits()}, {"loss", {1}, {&loss, 1}}};
    for (const TensorSlot& t : step_model.layout().tensors) {
      if (!t.trainable) continue;
      out.push_back({"grad." + t.name, t.shape, std::span<const float>(step_model.grads()).subspan(t.offset, t.size())});
    }
    const Model adam = trained(model, OptimizerKind::adam, tokens, targets, styles);
    const Model rmsprop = trained(model, OptimizerKind::rmsprop, tokens, targets, styles);
    add_views(adam, "adam3.", out);
    add_views(rmsprop, "rmsprop3.", out);
    const Model sgd = trained(model, OptimizerKind::sgd, tokens, targets, styles);
    add_views(sgd, "sgd3.", out);
    write_safetensors(dir / (c.name + ".expected.safetensors"), out, {}, DType::f32);
  }
  const std::string cmd = "/usr/bin/python3 " + (fs::path(source) / "tests/nn/torch_parity.py").string() + " " +
                          dir.string();
  const int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << cmd << " reported a mismatch (its output above names the tensor)";
  if (rc == 0) fs::remove_all(dir);  // kept on failure for a look
}

}  // namespace
}  // namespace etude::nn
