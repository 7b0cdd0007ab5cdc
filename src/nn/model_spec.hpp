// The model description: a Keras-Sequential-like stack (input, layers, head) plus its training
// settings, parsed from and written to JSON, and the named presets (seed-skuli, seed-voc, ...).
// nn/ knows no music: the vocabulary is just the number of distinct integer tokens.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace etude::nn {

enum class InputKind { embedding, scalar, onehot };  // scalar: token / vocab as one float
enum class LayerKind { lstm, dropout, batchnorm, dense, activation };
enum class Activation { none, relu, tanh };
enum class Mode { seq2seq, seq2one };  // seq2one: loss at the last position only
enum class OptimizerKind { adam, rmsprop, sgd };
enum class ScheduleKind { constant, cosine, step };

struct LayerSpec {
  LayerKind kind = LayerKind::dense;
  int units = 0;                  // lstm/dense; dense: kVocabUnits means "vocab"
  bool return_sequences = true;   // lstm: false keeps only the last step's output
  float forget_bias = 1.0f;       // lstm: initial forget-gate bias in bias_ih (Keras' unit_forget_bias)
  float rate = 0.0f;              // dropout: probability of zeroing (inverted dropout)
  Activation activation = Activation::none;  // dense
  float momentum = 0.1f;          // batchnorm: running-stat momentum (PyTorch's)
  float eps = 1e-5f;              // batchnorm: variance epsilon (PyTorch's)
};
inline constexpr int kVocabUnits = -1;

// Defaults follow PyTorch's optimizers (Adam eps outside the square root, RMSprop alpha 0.99).
struct OptimizerSpec {
  OptimizerKind kind = OptimizerKind::adam;
  float lr = 1e-3f;
  float beta1 = 0.9f, beta2 = 0.999f;  // adam
  float alpha = 0.99f;                 // rmsprop smoothing
  float eps = 1e-8f;                   // adam, rmsprop
  float momentum = 0.0f;               // sgd (also rmsprop's momentum: 0 only)
  float weight_decay = 0.0f;           // L2 added to the gradient, as torch.optim does
};

// lr(step): constant; cosine from lr to min_lr over total_steps; step: lr * gamma^(step/step_size).
struct ScheduleSpec {
  ScheduleKind kind = ScheduleKind::constant;
  int64_t total_steps = 0;  // cosine
  float min_lr = 0.0f;      // cosine
  int64_t step_size = 0;    // step
  float gamma = 0.1f;       // step
};

struct ModelSpec {
  InputKind input = InputKind::embedding;
  int embed_dim = 256;  // embedding only
  // Style conditioning (embedding only): a learned table of `styles` vectors of embed_dim, one per
  // style; the input at every step is embedding[token] + style vector (a blend: a weighted sum of
  // rows). 0: an unconditioned model, as before.
  int styles = 0;
  int vocab = 0;        // number of tokens (required)
  std::vector<LayerSpec> layers;
  Mode mode = Mode::seq2seq;
  int window = 128;     // training window (time steps)
  OptimizerSpec optimizer;
  int batch = 64;
  float clip = 0.0f;    // global gradient-norm clipping; 0 = off
  ScheduleSpec schedule;
};

// Throws FormatError naming the offending key and what would be accepted.
ModelSpec parse_model_spec(const nlohmann::json& j);
nlohmann::json model_spec_to_json(const ModelSpec& spec);
// Checks the stack is computable (shapes, rates, seq2seq needs sequences to the end); throws
// InvalidArgument naming the layer.
void validate_model_spec(const ModelSpec& spec);

// Presets: "seed-skuli", "seed-voc", "default", "small". Throws InvalidArgument for other names.
ModelSpec preset_spec(const std::string& name, int vocab);
std::vector<std::string> preset_names();

// Features coming out of the input stage (embedding dim, 1, or vocab). Inline, as the CUDA plugin
// uses it and links nothing of etude_nn.
inline int input_features(const ModelSpec& spec) {
  switch (spec.input) {
    case InputKind::embedding: return spec.embed_dim;
    case InputKind::scalar: return 1;
    case InputKind::onehot: return spec.vocab;
  }
  return 0;
}
// Resolved units of a dense layer (kVocabUnits -> vocab).
inline int dense_units(const ModelSpec& spec, const LayerSpec& layer) {
  return layer.units == kVocabUnits ? spec.vocab : layer.units;
}

}  // namespace etude::nn
