// The CUDA training engine (CudaEngine : DeviceEngine): parameters, gradients, optimizer state
// and activations on the GPU; LSTM layers through cuDNN, dense layers through cuBLAS.
#include "base/error.hpp"
#include "nn/device.hpp"

namespace etude::nn::cuda {

std::unique_ptr<DeviceEngine> make_engine(const ModelSpec&, const ParamLayout&, int, int, Precision) {
  throw DeviceError("the CUDA training engine is not written yet (use --device cpu)");
}

}  // namespace etude::nn::cuda
