// One LSTM layer through cuDNN's v8 RNN API (one layer, unidirectional, two bias vectors, gate
// order i, f, g, o as PyTorch's nn.LSTM), over time-major f32 device buffers. f16 runs cuDNN on
// half data with float math; the layer converts at its boundary and keeps its weights in half.
#pragma once
#include <vector>

#include "nn/cuda/common.hpp"
#include "nn/lstm_kernel.hpp"

namespace etude::nn::cuda {

// cuDNN descriptors, destroyed with their owner.
template <class S, cudnnStatus_t (*Create)(S**), cudnnStatus_t (*Destroy)(S*)>
class Descriptor {
 public:
  Descriptor() { check(Create(&p_), "cudnnCreate*Descriptor"); }
  ~Descriptor() {
    if (p_) Destroy(p_);
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  S* get() const { return p_; }

 private:
  S* p_ = nullptr;
};

class CudnnLstm {
 public:
  // training: forward keeps what backward needs (cuDNN's reserve space); otherwise inference only.
  // Workspace, reserve space and the weight space are sized here, once. Precision bf16 is refused.
  CudnnLstm(const Context& ctx, const LstmDims& dims, Precision precision, bool training);
  const LstmDims& dims() const { return d_; }
  // Copies PyTorch-layout f32 device weights into cuDNN's weight space (f16: rounded to half).
  // Call again after every change of the weights.
  void set_weights(const LstmParams& p);
  // x [T][B][I]; y [T][B][H] (nullptr: not wanted); hx, cx [B][H] (nullptr: zeros); hy, cy
  // [B][H] (nullptr: not wanted). All device f32.
  void forward(const float* x, float* y, const float* hx, const float* cx, float* hy, float* cy);
  // After a training forward, whose buffers must be unchanged: dy [T][B][H] and dhy [B][H]
  // (nullptr: zeros), dx [T][B][I] (nullptr: not wanted); the gradients are overwritten.
  void backward(const float* dy, const float* dhy, float* dx, const LstmGrads& g);

 private:
  // Where one gate's matrix or bias vector of a PyTorch tensor lies in cuDNN's weight space.
  struct Segment {
    int tensor;     // 0 w_ih, 1 w_hh, 2 b_ih, 3 b_hh
    size_t offset;  // elements into that tensor
    size_t count;
    size_t bytes;   // byte offset into the weight space
  };
  void map_weights();
  const void* in(const float* x, Buffer<char>& half, size_t n);  // f16: converted into `half`
  void* out(float* y, Buffer<char>& own);                         // where cuDNN writes y

  const Context& ctx_;
  LstmDims d_;
  bool half_, training_;
  cudnnDataType_t type_;
  Descriptor<cudnnDropoutStruct, cudnnCreateDropoutDescriptor, cudnnDestroyDropoutDescriptor> dropout_;  // outlives rnn_
  Descriptor<cudnnRNNStruct, cudnnCreateRNNDescriptor, cudnnDestroyRNNDescriptor> rnn_;
  Descriptor<cudnnRNNDataStruct, cudnnCreateRNNDataDescriptor, cudnnDestroyRNNDataDescriptor> xdesc_, ydesc_;
  Descriptor<cudnnTensorStruct, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor> hdesc_;
  Buffer<int32_t> seq_lengths_;
  Buffer<char> weights_, dweights_, work_, reserve_;
  std::vector<Segment> segments_;
  // Own data: y and dx when the caller wants none (and under f16), zeros for dy, and the half
  // copies of x and of the states under f16.
  Buffer<char> x_, y_, dy_, dx_, hx_, cx_, hy_, cy_, dhy_;
  struct Last {  // the training forward's buffers, which backward reads again
    const void *x = nullptr, *y = nullptr, *hx = nullptr, *cx = nullptr;
  } last_;
};

}  // namespace etude::nn::cuda
