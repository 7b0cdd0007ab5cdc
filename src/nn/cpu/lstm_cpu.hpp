// Internals of the CPU LSTM kernel for benchmarks and tests: make_cpu_lstm (lstm_kernel.hpp)
// is make_onednn_lstm with the BLAS path on for small inference calls.
#pragma once
#include <memory>

#include "nn/lstm_kernel.hpp"

namespace etude::nn {

// blas_for_small_inference: f32 inference forwards with T*B <= kBlasStepMaxRows run on LstmBlasStep
// instead of oneDNN. Off: every call goes to oneDNN (for comparing the two).
std::unique_ptr<LstmKernel> make_onednn_lstm(const LstmDims& dims, Precision precision,
                                             bool blas_for_small_inference);

}  // namespace etude::nn
