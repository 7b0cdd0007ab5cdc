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

Device resolve_device(DeviceChoice choice) {
  switch (choice) {
    case DeviceChoice::cpu: return Device::cpu;
    case DeviceChoice::cuda: cuda_backend(); return Device::cuda;
    case DeviceChoice::automatic: return loaded().api ? Device::cuda : Device::cpu;
  }
  return Device::cpu;
}

}  // namespace etude::nn
