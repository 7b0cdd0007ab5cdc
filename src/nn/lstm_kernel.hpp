// The seam between the LSTM layer and its kernels: one interface, a naive reference kernel
// (the test oracle, plain loops) and fast ones (oneDNN on CPU; cuDNN later) behind it.
#pragma once
#include <cstdint>
#include <memory>

namespace etude::nn {

// One LSTM layer over a time-major batch. Gate order i, f, g, o (PyTorch's nn.LSTM).
struct LstmDims {
  int T = 1;  // time steps
  int B = 1;  // batch (independent streams)
  int I = 1;  // input features
  int H = 1;  // hidden units
};

// bf16: bf16 data/weights inside the CPU kernels; f16: half data inside cuDNN's LSTM (CUDA only).
// Both keep f32 master copies of the weights.
enum class Precision { f32, bf16, f16 };

// Parameters in PyTorch layout, row-major: w_ih [4H][I], w_hh [4H][H], b_ih [4H], b_hh [4H].
struct LstmParams {
  const float* w_ih;
  const float* w_hh;
  const float* b_ih;
  const float* b_hh;
};

// Gradients in the same layout; backward OVERWRITES them (callers accumulate if they must).
struct LstmGrads {
  float* w_ih;
  float* w_hh;
  float* b_ih;
  float* b_hh;
};

// Buffers, all time-major and row-major:
//   x [T][B][I], y [T][B][H], h0/c0/hT/cT [B][H] (h0/c0 may be nullptr: zeros;
//   hT/cT may be nullptr: not wanted).
// backward: dy [T][B][H] (nullptr: zeros), dhT/dcT [B][H] (nullptr: zeros), dx [T][B][I]
// (nullptr: not wanted), dh0/dc0 [B][H] (nullptr: not wanted).
// A kernel is built for fixed dims; a training forward keeps what backward needs inside the
// kernel (its workspace is allocated once, at construction), so backward must follow the
// forward of the same batch with the same pointers still valid. No allocation per call.
class LstmKernel {
 public:
  virtual ~LstmKernel() = default;
  virtual const LstmDims& dims() const = 0;
  virtual void forward(const LstmParams& p, const float* x, const float* h0, const float* c0,
                       float* y, float* hT, float* cT, bool training) = 0;
  virtual void backward(const LstmParams& p, const float* x, const float* h0, const float* c0,
                        const float* dy, const float* dhT, const float* dcT, float* dx,
                        const LstmGrads& g, float* dh0, float* dc0) = 0;
};

// The naive reference (plain loops, float accumulation in double): the oracle for tests.
std::unique_ptr<LstmKernel> make_reference_lstm(const LstmDims& dims);
// The fast CPU kernel (oneDNN LSTM primitives; small f32 inference calls on BLAS). Throws
// DeviceError if oneDNN refuses the shape. (Composing steps packed weights instead: inference.hpp.)
std::unique_ptr<LstmKernel> make_cpu_lstm(const LstmDims& dims, Precision precision = Precision::f32);

}  // namespace etude::nn
