// What every file of the CUDA plugin shares: status checks that throw etude::DeviceError naming
// the failed call, its status and a hint; RAII device buffers; the stream with its cuBLAS and cuDNN
// handles (one per engine or stepper, so all their work is ordered on one stream).
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstddef>
#include <string>
#include <utility>

#include "base/error.hpp"
#include "nn/lstm_kernel.hpp"

namespace etude::nn::cuda {

[[noreturn]] inline void fail(const char* call, const std::string& status, const char* hint) {
  throw DeviceError(std::string(call) + " failed: " + status + " (" + hint + ")");
}
inline void check(cudaError_t e, const char* call) {
  if (e == cudaErrorMemoryAllocation)
    fail(call, cudaGetErrorString(e), "out of GPU memory: use a smaller batch, window or model");
  if (e != cudaSuccess) fail(call, cudaGetErrorString(e), "a CUDA error; rerun with CUDA_LAUNCH_BLOCKING=1 to locate it");
}
inline void check(cudnnStatus_t s, const char* call) {
  if (s != CUDNN_STATUS_SUCCESS)
    fail(call, cudnnGetErrorString(s), "cuDNN refused this LSTM shape or precision; try --precision f32 or --device cpu");
}
inline void check(cublasStatus_t s, const char* call) {
  if (s != CUBLAS_STATUS_SUCCESS) fail(call, cublasGetStatusName(s), "a cuBLAS error in a dense layer");
}

// f32 and f16 run on the GPU; bf16 is the CPU engine's reduced precision.
inline void check_precision(Precision p) {
  if (p == Precision::bf16)
    throw InvalidArgument("precision bf16 runs on the CPU only; on the GPU use f16 (mixed precision) or f32");
}

// Device memory for n elements of T, freed on destruction; move-only.
template <class T>
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(size_t n) : n_(n) {
    if (n) check(cudaMalloc(reinterpret_cast<void**>(&p_), n * sizeof(T)), "cudaMalloc");
  }
  Buffer(Buffer&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  Buffer& operator=(Buffer&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    return *this;
  }
  ~Buffer() {
    if (p_) cudaFree(p_);
  }
  T* get() const { return p_; }
  size_t size() const { return n_; }
  size_t bytes() const { return n_ * sizeof(T); }
  bool empty() const { return n_ == 0; }

 private:
  T* p_ = nullptr;
  size_t n_ = 0;
};

// One stream; cuBLAS and cuDNN bound to it. f32 keeps cuBLAS's default math (no TF32).
class Context {
 public:
  explicit Context(bool tf32 = false) {
    try {
      check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
      check(cublasCreate(&blas), "cublasCreate");
      check(cublasSetStream(blas, stream), "cublasSetStream");
      if (tf32) check(cublasSetMathMode(blas, CUBLAS_TF32_TENSOR_OP_MATH), "cublasSetMathMode");
      check(cudnnCreate(&dnn), "cudnnCreate");
      check(cudnnSetStream(dnn, stream), "cudnnSetStream");
    } catch (...) {
      release();
      throw;
    }
  }
  ~Context() { release(); }
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  void sync() const { check(cudaStreamSynchronize(stream), "cudaStreamSynchronize"); }
  // For destructors: the stream's queued work ends before the buffers it uses are freed.
  void drain() const noexcept { cudaStreamSynchronize(stream); }
  // Copies and fills of 0 bytes (a model without batchnorm has no buffers) do nothing.
  void to_device(void* dst, const void* src, size_t bytes) const {
    if (bytes) check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync (to the GPU)");
  }
  // Waits for the stream: the host copy is complete on return.
  void to_host(void* dst, const void* src, size_t bytes) const {
    if (bytes) check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync (to the host)");
    sync();
  }
  void zero(void* p, size_t bytes) const {
    if (bytes) check(cudaMemsetAsync(p, 0, bytes, stream), "cudaMemsetAsync");
  }

  cudaStream_t stream = nullptr;
  cublasHandle_t blas = nullptr;
  cudnnHandle_t dnn = nullptr;

 private:
  void release() noexcept {
    if (dnn) cudnnDestroy(dnn);
    if (blas) cublasDestroy(blas);
    if (stream) cudaStreamDestroy(stream);
  }
};

}  // namespace etude::nn::cuda
