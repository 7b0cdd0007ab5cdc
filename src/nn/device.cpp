// Device choice and the CUDA plugin's loader; see device.hpp. The plugin is found beside the
// running executable (or at $ETUDE_CUDA_PLUGIN) and loaded once per process: the dynamic loader's
// state is per process anyway, so the answer is kept in one function-local static.
#include "nn/device.hpp"

#include <dlfcn.h>

#include <filesystem>
#include <mutex>

#include "base/error.hpp"

namespace etude::nn {

DeviceChoice parse_device(std::string_view name) {
  if (name == "cpu") return DeviceChoice::cpu;
  if (name == "cuda") return DeviceChoice::cuda;
  if (name == "auto") return DeviceChoice::automatic;
  throw InvalidArgument("--device: \"" + std::string(name) + "\" (use cpu, cuda or auto)");
}

const char* device_name(Device device) { return device == Device::cuda ? "cuda" : "cpu"; }

namespace {

struct Loaded {
  CudaStatus status;
  const CudaBackendApi* api = nullptr;
};

std::filesystem::path plugin_path() {
  if (const char* env = std::getenv("ETUDE_CUDA_PLUGIN"); env && *env) return env;
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (ec ? std::filesystem::path(".") : exe.parent_path()) / "libetude_cuda.so";
}

Loaded load() {
  Loaded l;
#ifndef ETUDE_HAVE_CUDA
  l.status.why = "this etude was built without CUDA (CMake found no CUDA toolkit with cuDNN, or -DETUDE_CUDA=OFF)";
  return l;
#else
  // Without the driver there is no GPU to use; asking costs a failed dlopen, not the plugin's
  // cuBLAS and cuDNN (about 80 ms of loading).
  if (void* driver = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL)) {
    dlclose(driver);
  } else {
    l.status.why = "no NVIDIA driver on this machine (libcuda.so.1 not found)";
    return l;
  }
  const std::filesystem::path path = plugin_path();
  l.status.plugin = path.string();
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* e = dlerror();
    l.status.why = "cannot load the CUDA plugin " + path.string() + ": " + (e ? e : "unknown error") +
                   " (build it with CMake beside etude, or point ETUDE_CUDA_PLUGIN at it)";
    return l;
  }
  using Entry = const CudaBackendApi* (*)();
  auto entry = reinterpret_cast<Entry>(dlsym(handle, "etude_cuda_backend"));
  const CudaBackendApi* api = entry ? entry() : nullptr;
  if (!api || api->abi != kCudaPluginAbi) {
    l.status.why = path.string() + " is not this etude's CUDA plugin (missing entry point or another ABI version); rebuild it";
    return l;  // the handle stays open: unloading a library that may have started threads is unsafe
  }
  l.status = api->probe();
  l.status.plugin = path.string();
  if (l.status.usable) l.api = api;
  return l;
#endif
}

const Loaded& loaded() {
  static std::once_flag once;
  static Loaded l;
  std::call_once(once, [] { l = load(); });
  return l;
}

}  // namespace

CudaStatus cuda_status() { return loaded().status; }

const CudaBackendApi& cuda_backend() {
  const Loaded& l = loaded();
  if (!l.api) throw DeviceError("CUDA is not usable: " + l.status.why + " (use --device cpu)");
  return *l.api;
}

Precision parse_precision(std::string_view name) {
  if (name == "f32") return Precision::f32;
  if (name == "bf16") return Precision::bf16;
  if (name == "f16") return Precision::f16;
  throw InvalidArgument("--precision: \"" + std::string(name) +
                        "\" (use f32, bf16 on the CPU, or f16 on CUDA)");
}

const char* precision_name(Precision precision) {
  switch (precision) {
    case Precision::f32: return "f32";
    case Precision::bf16: return "bf16";
    case Precision::f16: return "f16";
  }
  return "f32";
}

void check_precision(Device device, Precision precision) {
  if (device == Device::cpu && precision == Precision::f16)
    throw InvalidArgument("precision f16 is the CUDA mixed precision; on the CPU use f32 or bf16 (or --device cuda)");
  if (device == Device::cuda && precision == Precision::bf16)
    throw InvalidArgument("precision bf16 runs on the CPU kernels only; on CUDA use f32 or f16 (or --device cpu)");
}

Device choose_device(DeviceChoice choice, Precision precision, LstmBackend backend) {
  if (choice == DeviceChoice::automatic) {
    if (precision == Precision::bf16 || backend == LstmBackend::reference) choice = DeviceChoice::cpu;
    if (precision == Precision::f16) {
      if (!loaded().api)
        throw DeviceError("precision f16 needs CUDA, which is not usable here: " + loaded().status.why +
                          "; on the CPU use --precision f32 or bf16");
      choice = DeviceChoice::cuda;
    }
  }
  const Device device = resolve_device(choice);
  check_precision(device, precision);
  return device;
}

std::string why_cpu(DeviceChoice choice, Precision precision, LstmBackend backend) {
  if (choice == DeviceChoice::cpu) return "the CPU was asked for";
  if (choice == DeviceChoice::cuda) return "";
  if (precision == Precision::bf16) return "bf16 runs on the CPU kernels";
  if (backend == LstmBackend::reference) return "the reference LSTM runs on the CPU";
  return loaded().api ? "" : loaded().status.why;
}

Device resolve_device(DeviceChoice choice) {
  switch (choice) {
    case DeviceChoice::cpu: return Device::cpu;
    case DeviceChoice::cuda: cuda_backend(); return Device::cuda;
    case DeviceChoice::automatic: return loaded().api ? Device::cuda : Device::cpu;
  }
  return Device::cpu;
}

}  // namespace etude::nn
