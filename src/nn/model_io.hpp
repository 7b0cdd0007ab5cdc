// Model files: a Model (spec + parameters + batchnorm running stats) in safetensors, with the
// model JSON and the caller's opaque strings (tokenizer, training summary, ...) in the metadata.
//
// Tensor names follow an equivalent PyTorch nn.Module with one submodule per layer, named by the
// layer's type and its index in "layers" (the embedding has none):
//   embedding.weight                      nn.Embedding(vocab, dim).weight          [vocab][dim]
//   style_embedding.weight                nn.Embedding(styles, dim).weight         [styles][dim]
//                                         (added: x = embedding(token) + style_embedding(style))
//   lstm.<i>.weight_ih_l0 / weight_hh_l0  nn.LSTM(in, units).weight_ih_l0 / _hh    [4H][in] / [4H][H]
//   lstm.<i>.bias_ih_l0 / bias_hh_l0      gate order i, f, g, o                    [4H]
//   dense.<i>.weight / dense.<i>.bias     nn.Linear(in, units)                     [out][in] / [out]
//   batchnorm.<i>.weight / bias / running_mean / running_var   nn.BatchNorm1d(features)   [F]
// (BatchNorm1d's num_batches_tracked is not stored; load with strict=False or set it to 0.)
#pragma once
#include <filesystem>
#include <map>
#include <string>

#include "nn/network.hpp"
#include "nn/safetensors.hpp"

namespace etude::nn {

inline constexpr const char* kMetaModel = "etude.model";         // the model JSON
inline constexpr const char* kMetaTokenizer = "etude.tokenizer";  // opaque JSON from the caller
inline constexpr const char* kMetaTraining = "etude.training";    // opaque JSON from the caller
// A conditioned model's style names, a JSON array: entry k names row k of style_embedding.weight.
inline constexpr const char* kMetaStyles = "etude.styles";

struct LoadedModel {
  Model model;
  std::map<std::string, std::string> metadata;  // everything, etude.model included
  std::vector<std::string> warnings;            // one line each (a file without checksums), for app/ to show
};

// Writes atomically; `metadata` adds caller entries (etude.tokenizer, etude.training, ...);
// etude.model is always written from the model's spec.
void save_model(const std::filesystem::path& path, const Model& model, DType dtype,
                const std::map<std::string, std::string>& metadata = {});
std::vector<uint8_t> encode_model(const Model& model, DType dtype, const std::map<std::string, std::string>& metadata);

// Refuses (FormatError naming the tensor) a file whose tensors do not match its own model JSON.
LoadedModel load_model(const std::filesystem::path& path);
LoadedModel decode_model(std::span<const uint8_t> bytes, const std::string& what);
// The same from a decoded file (a caller that stores extra tensors removes them first).
LoadedModel model_from_safetensors(SafetensorsFile file, const std::string& what);

}  // namespace etude::nn
