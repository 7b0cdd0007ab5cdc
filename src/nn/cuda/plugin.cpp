// The CUDA plugin's entry point: etude_cuda_backend() hands the loader (nn/device.cpp) the table
// of what this backend does: probe device 0, make a training engine, make a composing stepper.
#include <cuda_runtime.h>

#include "nn/device.hpp"

namespace etude::nn::cuda {

CudaStatus probe() {
  CudaStatus s;
  int count = 0;
  if (const cudaError_t e = cudaGetDeviceCount(&count); e != cudaSuccess) {
    s.why = std::string("the CUDA runtime found no usable device: ") + cudaGetErrorString(e);
    return s;
  }
  if (count < 1) {
    s.why = "the CUDA runtime found no device";
    return s;
  }
  cudaDeviceProp p{};
  if (const cudaError_t e = cudaGetDeviceProperties(&p, 0); e != cudaSuccess) {
    s.why = std::string("cannot read device 0: ") + cudaGetErrorString(e);
    return s;
  }
  s.usable = true;
  s.name = p.name;
  s.sm = p.major * 10 + p.minor;
  s.memory_gib = double(p.totalGlobalMem) / double(1 << 30);
  s.sms = p.multiProcessorCount;
  int khz = 0;
  if (cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, 0) == cudaSuccess) s.clock_mhz = khz / 1000.0;
  return s;
}

std::unique_ptr<DeviceEngine> make_engine(const ModelSpec& spec, const ParamLayout& layout, int batch, int time,
                                          Precision precision);
std::unique_ptr<DeviceStepper> make_stepper(const ModelSpec& spec, const ParamLayout& layout,
                                            std::span<const float> params, std::span<const float> buffers,
                                            int streams, Precision precision);

}  // namespace etude::nn::cuda

extern "C" __attribute__((visibility("default"))) const etude::nn::CudaBackendApi* etude_cuda_backend() {
  static const etude::nn::CudaBackendApi api{etude::nn::kCudaPluginAbi, &etude::nn::cuda::probe,
                                             &etude::nn::cuda::make_engine, &etude::nn::cuda::make_stepper};
  return &api;
}
