// Choosing a style inside a conditioned model: "chopin", or a blend "chopin:0.7,pop:0.3" of its
// style rows, turned into one weight per row; and finding, among the installed models, the one
// that holds the asked styles (a model file of that name first, as before styles were rows).
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace etude {

struct StyleModel;

// One weight per style row of a model with `styles` rows (names matched without regard to case),
// normalized to sum 1. Empty text: every style equally. InvalidArgument naming the known styles
// for an unknown name, and for a weight that does not parse, is negative, or a blend summing to 0.
std::vector<float> style_weights(const std::vector<std::string>& styles, const std::string& text);
// The style names a blend text mentions (InvalidArgument for a malformed text).
std::vector<std::string> blend_names(const std::string& text);
// A readable form of weights: "Chopin" or "Chopin 0.70 + Pop 0.30".
std::string describe_blend(const std::vector<std::string>& styles, const std::vector<float>& weights);

struct StyleChoice {
  std::filesystem::path model;  // the model file to compose with
  std::string blend;            // the style text to ask it for ("" for a model file named by the text)
};
// `--style TEXT` against the models folder: TEXT.safetensors when it is a single name with such a
// file; else the first installed model (by name) whose style rows hold every name of the blend.
// InvalidArgument listing the installed models and styles otherwise.
StyleChoice resolve_style(const std::filesystem::path& dir, const std::string& text);

}  // namespace etude
