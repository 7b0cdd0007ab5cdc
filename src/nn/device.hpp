// Where the network runs: the CPU engine in this process, or the CUDA backend (cuDNN's RNN,
// cuBLAS and our kernels, src/nn/cuda/) built as a plugin, libetude_cuda.so, that is loaded on
// first use, so etude starts and runs on a machine without CUDA and pays nothing for its libraries.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "nn/lstm_kernel.hpp"
#include "nn/model_spec.hpp"
#include "nn/network.hpp"

namespace etude::nn {

enum class Device { cpu, cuda };
enum class DeviceChoice { cpu, cuda, automatic };

// "cpu" | "cuda" | "auto"; InvalidArgument naming the flag's value otherwise.
DeviceChoice parse_device(std::string_view name);
const char* device_name(Device device);

// "f32" | "bf16" | "f16"; InvalidArgument naming the value otherwise.
Precision parse_precision(std::string_view name);
const char* precision_name(Precision precision);
// InvalidArgument when `device` cannot run `precision`: bf16 is the CPU kernels' reduced precision,
// f16 the CUDA mixed precision (cuDNN's LSTM in half with f32 master weights and loss scaling).
void check_precision(Device device, Precision precision);
// The device for a run: resolve_device(choice), except that automatic keeps to the CPU for what
// only it runs (bf16, the reference LSTM) and f16 needs cuda (DeviceError saying why it is not
// usable); then check_precision.
Device choose_device(DeviceChoice choice, Precision precision, LstmBackend backend = LstmBackend::fast);
// Why choose_device gives the CPU for these (for a note to the user); empty when it gives cuda.
std::string why_cpu(DeviceChoice choice, Precision precision, LstmBackend backend = LstmBackend::fast);

struct CudaStatus {
  bool usable = false;
  std::string why;     // when not usable: built without CUDA, plugin missing, no driver, no device
  std::string name;    // the GPU, e.g. "NVIDIA H100 80GB HBM3"
  int sm = 0;          // compute capability x 10 (90 for Hopper)
  double memory_gib = 0;
  int sms = 0;            // streaming multiprocessors
  double clock_mhz = 0;   // SM clock (for the share of peak a benchmark reports)
  std::string plugin;  // the plugin file that was loaded
};
// Looks for the NVIDIA driver first (a missing libcuda.so.1 answers at once), then loads the
// plugin (beside the etude executable, or $ETUDE_CUDA_PLUGIN) and asks it for device 0. The
// answer is worked out once per process.
CudaStatus cuda_status();

// cpu -> cpu; cuda -> cuda, or DeviceError saying why not; automatic -> cuda when usable.
Device resolve_device(DeviceChoice choice);

// ---- The engines behind Trainer and Stepper: the CPU implements both (cpu/cpu_engine,
// cpu/cpu_stepper), the CUDA plugin too. Only host values cross the plugin's boundary (spans of the
// host blocks, the spec and layout), and it uses nothing of etude_nn but its headers' inline code.

// One optimizer update as the host Optimizer would make it (its spec with the scheduled learning
// rate already applied, the 1-based number of this update for Adam's bias correction).
struct UpdateSettings {
  OptimizerSpec optimizer;  // lr = this update's learning rate
  float clip = 0;           // global gradient-norm clipping; 0 = off (the norm is measured anyway)
  int64_t step = 1;
};
// Sums over scored logit rows: cross-entropy in nats, top-1 hits, rows counted.
struct RowScore {
  double loss_sum = 0;
  int64_t count = 0, correct = 0;
};

struct UpdateResult {
  double grad_norm = 0;  // before clipping (of the unscaled gradients under mixed precision)
  bool skipped = false;  // mixed precision: the scaled gradients overflowed, the loss scale was
                         // halved and no update was made (not a divergence)
};

// A model's training copy on a device: parameters, gradients, batchnorm buffers, optimizer state
// and activations all stay there; the host sees only what it asks to download (on the CPU they
// are the host blocks themselves).
class DeviceEngine {
 public:
  virtual ~DeviceEngine() = default;
  // Host blocks in Network's layout. opt_state: the Optimizer's state block, or empty (zeros).
  virtual void upload(std::span<const float> params, std::span<const float> buffers,
                      std::span<const float> opt_state) = 0;
  virtual void download(std::span<float> params, std::span<float> buffers, std::span<float> opt_state) = 0;
  virtual void download_grads(std::span<float> grads) = 0;  // of the last forward_backward
  // Replaces the gradients the next update applies (data-parallel: the ranks' sum, as the whole
  // batch's mean-loss gradient; unscaled, as download_grads gives them).
  virtual void upload_grads(std::span<const float> grads) = 0;
  // Data-parallel: this engine's batch is columns offset .. offset + batch of a batch of
  // global_batch, and dropout draws the masks the whole batch would give those columns (so the
  // ranks together drop exactly what one process would). 0: the engine's own batch.
  virtual void set_batch_shard(int offset, int global_batch) = 0;
  // Dropout masks are drawn as Network draws them (one Rng::next() per dropout layer and forward,
  // element i masked by Rng::hash(base + i)), so a CPU and a GPU run of one seed agree.
  virtual void seed_dropout(uint64_t seed) = 0;
  // tokens time-major [T][B] (checked by the caller); styles_tm likewise, the style row of every
  // token for a conditioned model (spec.styles > 0), else nullptr. Training mode: dropout and batch
  // statistics.
  virtual void forward(const int32_t* tokens_tm, const int32_t* styles_tm, bool training) = 0;
  // Training forward, softmax cross-entropy and backward. targets: one per logit row (-1: not
  // counted), laid out by logit_row_targets. Returns the mean loss.
  virtual double forward_backward(const int32_t* tokens_tm, const int32_t* styles_tm, const int32_t* row_targets) = 0;
  // The last forward's logits, copied to the host: [logit_steps * B][vocab], time-major.
  virtual std::span<const float> logits() = 0;
  // Adds the last forward's rows whose target is >= 0 (row_targets as forward_backward takes them)
  // to `total`, computed on the device: only three numbers cross to the host, not the logits.
  virtual void add_score(const int32_t* row_targets, RowScore& total) = 0;
  virtual UpdateResult update(const UpdateSettings& settings) = 0;
};

// Composing on the device: `streams` token streams stepped together (see nn::Stepper).
class DeviceStepper {
 public:
  virtual ~DeviceStepper() = default;
  virtual void reset() = 0;
  virtual void reset_stream(int s) = 0;
  // Feeds tokens[s] to stream s; returns the logits [streams][vocab] on the host.
  virtual std::span<const float> step(std::span<const int32_t> tokens) = 0;
  // Conditioned models: the vector added to stream s's token embedding from now on (embed_dim
  // floats: a style row or a blend of rows, computed by the host).
  virtual void set_style(int s, std::span<const float> vector) = 0;
  // Host threads a step runs on (0: the stepper's own choice); the CPU's use them.
  virtual int threads() const { return 1; }
  virtual void set_threads(int) {}
};

// The plugin's one exported symbol, etude_cuda_backend(), returns this table.
inline constexpr int kCudaPluginAbi = 5;
struct CudaBackendApi {
  int abi = kCudaPluginAbi;
  CudaStatus (*probe)();  // device 0, or why there is none
  // precision: f32 (cuDNN and cuBLAS without TF32: the parity mode) or f16 (cuDNN's LSTM on
  // half data with float accumulation and dynamic loss scaling; master weights stay f32).
  std::unique_ptr<DeviceEngine> (*make_engine)(const ModelSpec& spec, const ParamLayout& layout, int batch,
                                               int time, Precision precision);
  std::unique_ptr<DeviceStepper> (*make_stepper)(const ModelSpec& spec, const ParamLayout& layout,
                                                 std::span<const float> params, std::span<const float> buffers,
                                                 int streams, Precision precision);
};
// The loaded plugin's table; DeviceError with cuda_status().why when there is none usable.
const CudaBackendApi& cuda_backend();

}  // namespace etude::nn
