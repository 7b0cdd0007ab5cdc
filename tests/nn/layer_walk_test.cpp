// The layer walk (nn/layer_walk.hpp) on its own: the order it hands layers to the ops, forward and
// backward, and the shapes it hands with them (an lstm without return_sequences ends the sequence).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "nn/layer_walk.hpp"
#include "nn/network.hpp"

namespace etude::nn {
namespace {

struct Recorder {
  std::vector<std::string> seen;
  void note(const char* what, const LayerStep& s) {
    seen.push_back(std::string(what) + std::to_string(s.index) + ":" + std::to_string(s.steps) + "x" +
                   std::to_string(s.rows) + ":" + std::to_string(s.in) + ">" + std::to_string(s.out));
  }
  void input_forward() { seen.push_back("input"); }
  void input_backward() { seen.push_back("input'"); }
  void lstm_forward(const LayerStep& s) { note("lstm", s); }
  void dense_forward(const LayerStep& s) { note("dense", s); }
  void dropout_forward(const LayerStep& s) { note("dropout", s); }
  void batchnorm_forward(const LayerStep& s) { note("batchnorm", s); }
  void lstm_backward(const LayerStep& s) { note("lstm'", s); }
  void dense_backward(const LayerStep& s) { note("dense'", s); }
  void dropout_backward(const LayerStep& s) { note("dropout'", s); }
  void batchnorm_backward(const LayerStep& s) { note("batchnorm'", s); }
  void activation_forward(const LayerStep& s) { note("activation", s); }
  void activation_backward(const LayerStep& s) { note("activation'", s); }
};

ModelSpec stack() {
  ModelSpec spec;
  spec.vocab = 11;
  spec.embed_dim = 6;
  spec.mode = Mode::seq2one;
  spec.layers = {{.kind = LayerKind::lstm, .units = 8},
                 {.kind = LayerKind::dropout, .rate = 0.2f},
                 {.kind = LayerKind::lstm, .units = 5, .return_sequences = false},
                 {.kind = LayerKind::batchnorm},
                 {.kind = LayerKind::dense, .units = kVocabUnits}};
  validate_model_spec(spec);
  return spec;
}

TEST(LayerWalk, ForwardInOrderBackwardInReverseWithTheirShapes) {
  const ModelSpec spec = stack();
  const StackShape shape = stack_shape(spec, 3, 4);  // batch 3, time 4
  Recorder r;
  walk_forward(spec, shape, r);
  EXPECT_EQ(r.seen, (std::vector<std::string>{"input", "lstm0:4x12:6>8", "dropout1:4x12:8>8", "lstm2:4x12:8>5",
                                              "batchnorm3:1x3:5>5", "dense4:1x3:5>11"}));
  r.seen.clear();
  walk_backward(spec, shape, r);
  EXPECT_EQ(r.seen, (std::vector<std::string>{"dense'4:1x3:5>11", "batchnorm'3:1x3:5>5", "lstm'2:4x12:8>5",
                                              "dropout'1:4x12:8>8", "lstm'0:4x12:6>8", "input'"}));
  EXPECT_EQ(shape.logit_rows(), 3);
}

TEST(LayerWalk, ShapesAgreeWithTheParameterLayout) {
  const ModelSpec spec = stack();
  const ParamLayout layout = make_layout(spec);
  const StackShape shape = stack_shape(spec, 2, 7);
  ASSERT_EQ(shape.features.size(), spec.layers.size() + 1);
  EXPECT_EQ(shape.features[0], input_features(spec));
  for (size_t i = 0; i < spec.layers.size(); ++i) EXPECT_EQ(shape.features[i + 1], layout.features[i]) << i;
  const std::vector<float> block(layout.param_count);
  const LstmTensors<const float> t = lstm_tensors(layout, 2, block.data());
  EXPECT_EQ(size_t(t.w_hh - t.w_ih), size_t(4 * 5 * 8));  // w_ih [4H][I] of the second lstm, then w_hh
}

}  // namespace
}  // namespace etude::nn
