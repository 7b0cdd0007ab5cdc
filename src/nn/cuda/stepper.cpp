// The CUDA composing stepper (CudaStepper : DeviceStepper): weights uploaded once, each step runs
// the input stage, one cuDNN time step per LSTM layer and the dense head for all streams.
#include "base/error.hpp"
#include "nn/device.hpp"

namespace etude::nn::cuda {

std::unique_ptr<DeviceStepper> make_stepper(const ModelSpec&, const ParamLayout&, std::span<const float>,
                                            std::span<const float>, int, Precision) {
  throw DeviceError("the CUDA stepper is not written yet (use --device cpu)");
}

}  // namespace etude::nn::cuda
