// cuDNN's LSTM as one layer; see cudnn_lstm.hpp. The weight space's layout is cuDNN's own: every
// gate's matrix and bias is located with cudnnGetRNNWeightParams and its shape checked, never assumed.
#include "nn/cuda/cudnn_lstm.hpp"

#include <string>

#include "nn/cuda/kernels.hpp"

namespace etude::nn::cuda {

CudnnLstm::CudnnLstm(const Context& ctx, const LstmDims& dims, Precision precision, bool training)
    : ctx_(ctx), d_(dims), half_(precision == Precision::f16), training_(training),
      type_(half_ ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT) {
  check_precision(precision);
  const auto [T, B, I, H] = d_;
  // No dropout inside cuDNN (one layer has none; Etude's dropout is a layer of its own), as PyTorch sets it.
  check(cudnnSetDropoutDescriptor(dropout_.get(), ctx_.dnn, 0.0f, nullptr, 0, 0), "cudnnSetDropoutDescriptor");
  // f32: FMA only (no TF32), so the LSTM matches the CPU to 1e-4; f16: tensor cores, float accumulation.
  check(cudnnSetRNNDescriptor_v8(rnn_.get(), CUDNN_RNN_ALGO_STANDARD, CUDNN_LSTM, CUDNN_RNN_DOUBLE_BIAS,
                                 CUDNN_UNIDIRECTIONAL, CUDNN_LINEAR_INPUT, type_, CUDNN_DATA_FLOAT,
                                 half_ ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH, I, H, H, 1, dropout_.get(),
                                 CUDNN_RNN_PADDED_IO_DISABLED),
        "cudnnSetRNNDescriptor_v8");
  // Time-major [T][B][F] with every sequence T long: the packed layout is exactly our activations.
  const std::vector<int32_t> lengths(size_t(B), T);
  check(cudnnSetRNNDataDescriptor(xdesc_.get(), type_, CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_PACKED, T, B, I,
                                  lengths.data(), nullptr),
        "cudnnSetRNNDataDescriptor (x)");
  check(cudnnSetRNNDataDescriptor(ydesc_.get(), type_, CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_PACKED, T, B, H,
                                  lengths.data(), nullptr),
        "cudnnSetRNNDataDescriptor (y)");
  const int hdims[3] = {1, B, H}, hstrides[3] = {B * H, H, 1};
  check(cudnnSetTensorNdDescriptor(hdesc_.get(), type_, 3, hdims, hstrides), "cudnnSetTensorNdDescriptor (h, c)");
  seq_lengths_ = Buffer<int32_t>(size_t(B));  // cuDNN reads the lengths on the device, asynchronously
  ctx_.to_device(seq_lengths_.get(), lengths.data(), seq_lengths_.bytes());
  ctx_.sync();  // `lengths` is a local: the copy must be done before it goes

  size_t weight_bytes = 0, work_bytes = 0, reserve_bytes = 0;
  check(cudnnGetRNNWeightSpaceSize(ctx_.dnn, rnn_.get(), &weight_bytes), "cudnnGetRNNWeightSpaceSize");
  check(cudnnGetRNNTempSpaceSizes(ctx_.dnn, rnn_.get(), training ? CUDNN_FWD_MODE_TRAINING : CUDNN_FWD_MODE_INFERENCE,
                                  xdesc_.get(), &work_bytes, &reserve_bytes),
        "cudnnGetRNNTempSpaceSizes");
  weights_ = Buffer<char>(weight_bytes);
  ctx_.zero(weights_.get(), weights_.bytes());  // no gaps are expected, but none may hold garbage (as PyTorch)
  work_ = Buffer<char>(work_bytes);
  const size_t e = half_ ? 2 : 4, nx = size_t(T) * B * I, ny = size_t(T) * B * H, nh = size_t(B) * H;
  y_ = Buffer<char>(ny * e);
  if (training) {
    dweights_ = Buffer<char>(weight_bytes);
    reserve_ = Buffer<char>(reserve_bytes);
    dy_ = Buffer<char>(ny * e);
    ctx_.zero(dy_.get(), dy_.bytes());
    dx_ = Buffer<char>(nx * e);
  }
  if (half_) {
    x_ = Buffer<char>(nx * e);
    for (Buffer<char>* b : {&hx_, &cx_, &hy_, &cy_}) *b = Buffer<char>(nh * e);
    if (training) dhy_ = Buffer<char>(nh * e);
  }
  map_weights();
}

void CudnnLstm::map_weights() {
  const int H = d_.H;
  Descriptor<cudnnTensorStruct, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor> mdesc, bdesc;
  const size_t e = half_ ? 2 : 4;
  auto locate = [&](const cudnnTensorDescriptor_t desc, void* addr, int rows, int cols, int tensor, int gate,
                    const char* what) {
    cudnnDataType_t type;
    int nb = 0, dims[3] = {0, 0, 0}, strides[3] = {0, 0, 0};
    check(cudnnGetTensorNdDescriptor(desc, 3, &type, &nb, dims, strides), "cudnnGetTensorNdDescriptor");
    const size_t offset = addr ? size_t(static_cast<char*>(addr) - weights_.get()) : 0;
    const size_t count = size_t(rows) * cols;
    // Documented as {1, rows, cols}, dense and row-major: PyTorch copies its gate blocks in as they are.
    if (!addr || nb != 3 || dims[0] != 1 || dims[1] != rows || dims[2] != cols || strides[1] != cols ||
        strides[2] != 1 || type != type_ || offset % e != 0 || offset + count * e > weights_.bytes())
      throw DeviceError("cuDNN's weight space holds " + std::string(what) + " of gate " + std::to_string(gate) +
                        " as [" + std::to_string(dims[0]) + ", " + std::to_string(dims[1]) + ", " +
                        std::to_string(dims[2]) + "], not [1, " + std::to_string(rows) + ", " +
                        std::to_string(cols) + "] (this cuDNN lays out LSTM weights unlike cuDNN 9; use --device cpu)");
    segments_.push_back({tensor, size_t(gate) * count, count, offset});
  };
  for (int id = 0; id < 8; ++id) {  // 0..3: input weights of gates i, f, g, o; 4..7: recurrent
    void *m = nullptr, *b = nullptr;
    check(cudnnGetRNNWeightParams(ctx_.dnn, rnn_.get(), 0, weights_.bytes(), weights_.get(), id, mdesc.get(), &m,
                                  bdesc.get(), &b),
          "cudnnGetRNNWeightParams");
    const bool recurrent = id >= 4;
    locate(mdesc.get(), m, H, recurrent ? H : d_.I, recurrent ? 1 : 0, id % 4, recurrent ? "w_hh" : "w_ih");
    locate(bdesc.get(), b, H, 1, recurrent ? 3 : 2, id % 4, recurrent ? "b_hh" : "b_ih");
  }
}

void CudnnLstm::set_weights(const LstmParams& p) {
  const float* src[4] = {p.w_ih, p.w_hh, p.b_ih, p.b_hh};
  for (const Segment& s : segments_) {
    char* dst = weights_.get() + s.bytes;
    if (half_)
      to_half(src[s.tensor] + s.offset, reinterpret_cast<__half*>(dst), int64_t(s.count), ctx_.stream);
    else
      check(cudaMemcpyAsync(dst, src[s.tensor] + s.offset, s.count * 4, cudaMemcpyDeviceToDevice, ctx_.stream),
            "cudaMemcpyAsync (LSTM weights)");
  }
}

const void* CudnnLstm::in(const float* x, Buffer<char>& half, size_t n) {
  if (!x || !half_) return x;
  to_half(x, reinterpret_cast<__half*>(half.get()), int64_t(n), ctx_.stream);
  return half.get();
}

void* CudnnLstm::out(float* y, Buffer<char>& own) { return half_ || !y ? static_cast<void*>(own.get()) : y; }

void CudnnLstm::forward(const float* x, float* y, const float* hx, const float* cx, float* hy, float* cy) {
  const auto [T, B, I, H] = d_;
  const size_t nx = size_t(T) * B * I, ny = size_t(T) * B * H, nh = size_t(B) * H;
  last_ = {in(x, x_, nx), out(y, y_), in(hx, hx_, nh), in(cx, cx_, nh)};
  void* hy_out = hy ? out(hy, hy_) : nullptr;
  void* cy_out = cy ? out(cy, cy_) : nullptr;
  check(cudnnRNNForward(ctx_.dnn, rnn_.get(), training_ ? CUDNN_FWD_MODE_TRAINING : CUDNN_FWD_MODE_INFERENCE,
                        seq_lengths_.get(), xdesc_.get(), last_.x, ydesc_.get(), const_cast<void*>(last_.y),
                        hdesc_.get(), last_.hx, hy_out, hdesc_.get(), last_.cx, cy_out, weights_.bytes(),
                        weights_.get(), work_.bytes(), work_.get(), reserve_.bytes(), reserve_.get()),
        "cudnnRNNForward");
  if (!half_) return;
  auto back = [&](const void* h, float* f, size_t n) {
    if (f) to_float(static_cast<const __half*>(h), f, int64_t(n), ctx_.stream);
  };
  back(last_.y, y, ny);
  back(hy_out, hy, nh);
  back(cy_out, cy, nh);
}

void CudnnLstm::backward(const float* dy, const float* dhy, float* dx, const LstmGrads& g) {
  if (!training_) throw InvalidArgument("CudnnLstm::backward: this layer was built for inference");
  const auto [T, B, I, H] = d_;
  const size_t nx = size_t(T) * B * I, ny = size_t(T) * B * H, nh = size_t(B) * H;
  // cuDNN needs dy even when only the final state has a gradient: dy_ then holds the zeros it was
  // given at construction (a layer without sequence output never has a dy to convert into it).
  const void* dy_in = dy ? in(dy, dy_, ny) : dy_.get();
  void* dx_out = out(dx, dx_);
  check(cudnnRNNBackwardData_v8(ctx_.dnn, rnn_.get(), seq_lengths_.get(), ydesc_.get(), last_.y, dy_in,
                                xdesc_.get(), dx_out, hdesc_.get(), last_.hx, in(dhy, dhy_, nh), nullptr,
                                hdesc_.get(), last_.cx, nullptr, nullptr, weights_.bytes(), weights_.get(),
                                work_.bytes(), work_.get(), reserve_.bytes(), reserve_.get()),
        "cudnnRNNBackwardData_v8");
  if (half_ && dx) to_float(static_cast<const __half*>(dx_out), dx, int64_t(nx), ctx_.stream);
  ctx_.zero(dweights_.get(), dweights_.bytes());  // cuDNN adds the weight gradients (WGRAD_MODE_ADD only)
  check(cudnnRNNBackwardWeights_v8(ctx_.dnn, rnn_.get(), CUDNN_WGRAD_MODE_ADD, seq_lengths_.get(), xdesc_.get(),
                                   last_.x, hdesc_.get(), last_.hx, ydesc_.get(), last_.y, dweights_.bytes(),
                                   dweights_.get(), work_.bytes(), work_.get(), reserve_.bytes(), reserve_.get()),
        "cudnnRNNBackwardWeights_v8");
  float* dst[4] = {g.w_ih, g.w_hh, g.b_ih, g.b_hh};
  for (const Segment& s : segments_) {
    const char* src = dweights_.get() + s.bytes;
    if (half_)
      to_float(reinterpret_cast<const __half*>(src), dst[s.tensor] + s.offset, int64_t(s.count), ctx_.stream);
    else
      check(cudaMemcpyAsync(dst[s.tensor] + s.offset, src, s.count * 4, cudaMemcpyDeviceToDevice, ctx_.stream),
            "cudaMemcpyAsync (LSTM gradients)");
  }
}

}  // namespace etude::nn::cuda
