// Registers the nn subcommands of `etude`: `forward` (logits of every position of a token list,
// for external checks), `bench train|generate` (speed on random data, text or JSON, on the CPU or
// the GPU) and `devices` (whether CUDA is usable here, and why not).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/commands.hpp"
#include "base/error.hpp"
#include "base/file_io.hpp"
#include "base/input_text.hpp"
#include "nn/inference.hpp"
#include "nn/collective.hpp"
#include "nn/model_io.hpp"
#include "nn/trainer.hpp"

namespace etude::app {
namespace {
using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::vector<int32_t> parse_token_list(const std::string& text) {
  std::vector<int32_t> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t comma = std::min(text.find(',', pos), text.size());
    const std::string item = text.substr(pos, comma - pos);
    try {
      size_t used = 0;
      const long v = std::stol(item, &used);
      if (used != item.size() || v < 0 || v > INT32_MAX) throw std::invalid_argument(item);
      out.push_back(int32_t(v));
    } catch (const std::exception&) {
      throw InvalidArgument("--tokens: \"" + item + "\" is not a token id (expected e.g. 3,17,9)");
    }
    pos = comma + 1;
  }
  return out;
}

void print_json(const json& j) { std::printf("%s\n", j.dump().c_str()); }

// FLOPs of one training step (3 x forward GEMM work: forward, data and weight gradients).
double train_gflop(const nn::ModelSpec& s, int B, int T) {
  double flop = 0;
  int f = nn::input_features(s), steps = T;
  for (const auto& l : s.layers) {
    if (l.kind == nn::LayerKind::lstm) {
      flop += 2.0 * steps * B * (f + l.units) * 4.0 * l.units;
      f = l.units;
      if (!l.return_sequences) steps = 1;
    } else if (l.kind == nn::LayerKind::dense) {
      const int out = nn::dense_units(s, l);
      flop += 2.0 * steps * B * f * out;
      f = out;
    }
  }
  return 3 * flop * 1e-9;
}

struct BenchOptions {
  std::string preset = "default";
  std::string model_json;  // a model JSON file instead of a preset
  int vocab = 388, batch = 0, seq = 0, threads = 0, steps = 5, tokens = 500, streams = 1;
  uint64_t seed = 1;
  std::string precision = "f32", save, dtype = "f32", device = "cpu";  // cpu: the benchmarks against PyTorch
  bool json = false, reference = false;
};

// The name a bench run reports: the preset, or the model JSON file it read instead.
std::string bench_name(const BenchOptions& o) { return o.model_json.empty() ? o.preset : o.model_json; }

nn::ModelSpec bench_spec(const BenchOptions& o) {
  nn::ModelSpec spec;
  if (o.model_json.empty()) {
    spec = nn::preset_spec(o.preset, o.vocab);
  } else {
    try {
      spec = nn::parse_model_spec(json::parse(read_file_text(o.model_json)));
    } catch (const json::exception& e) {
      throw FormatError(o.model_json + ": not valid JSON (" + json_error_text(e) + ")");
    }
  }
  if (o.batch > 0) spec.batch = o.batch;
  if (o.seq > 0) spec.window = o.seq;
  nn::validate_model_spec(spec);
  return spec;
}

nn::LstmBackend backend_of(bool reference) { return reference ? nn::LstmBackend::reference : nn::LstmBackend::fast; }

nn::Device device_of(const BenchOptions& o) {
  return nn::choose_device(nn::parse_device(o.device), nn::parse_precision(o.precision), backend_of(o.reference));
}

// The GPU's dense-matrix peak in FLOP/s for a precision (f32: the FP32 units, as cuDNN and cuBLAS
// run without TF32; f16: the tensor cores, dense), from its SMs and clock; 0 where the per-SM
// rate of this architecture is not in the table.
double gpu_peak_flops(const nn::CudaStatus& g, nn::Precision precision) {
  const bool half = precision == nn::Precision::f16;
  double per_sm_clock = 0;  // FLOPs per SM per clock
  if (g.sm == 90) per_sm_clock = half ? 4096 : 256;       // Hopper (H100, H200)
  else if (g.sm == 80) per_sm_clock = half ? 2048 : 128;  // Ampere A100
  return per_sm_clock * g.sms * g.clock_mhz * 1e6;
}

// Data-parallel (under mpirun): the median time of a bare all-reduce of n floats, each after a
// barrier (so no rank's lateness is counted), over `repeats`.
double allreduce_ms(nn::Collective& world, size_t n, int repeats) {
  std::vector<float> buffer(n, 1.0f);
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    world.barrier();
    const auto t0 = Clock::now();
    world.all_reduce_sum(buffer);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

void bench_train(const BenchOptions& o) {
  const int threads = nn::set_compute_threads(o.threads);
  const nn::Device device = device_of(o);
  // Under mpirun each rank trains its share of every batch (the timed batch is the whole one) and
  // rank 0 alone prints; without it, this is one process as always.
  const std::unique_ptr<nn::Collective> world = nn::make_collective();
  const int ranks = world->size(), rank = world->rank();
  nn::Model model(bench_spec(o));
  model.init_random(o.seed);
  const nn::ModelSpec& s = model.spec();
  const int B = s.batch, T = s.window;
  const nn::BatchShare share = ranks > 1 ? nn::batch_share(B, rank, ranks) : nn::BatchShare{0, B};
  nn::Trainer trainer(model, share.rows, T,
                      {.backend = backend_of(o.reference), .precision = nn::parse_precision(o.precision), .device = device,
                       .parallel = {.collective = world.get(), .offset = share.offset, .global_batch = B, .check_every = 0}});
  nn::Rng rng(o.seed + 1);
  const size_t per_row = s.mode == nn::Mode::seq2seq ? size_t(T) : 1;
  std::vector<int32_t> tokens(size_t(B) * T), targets(size_t(B) * per_row);
  for (auto& t : tokens) t = int32_t(rng.below(s.vocab));
  for (auto& t : targets) t = int32_t(rng.below(s.vocab));
  if (ranks > 1) {  // this rank's rows
    tokens = {tokens.begin() + ptrdiff_t(share.offset) * T, tokens.begin() + ptrdiff_t(share.offset + share.rows) * T};
    targets = {targets.begin() + ptrdiff_t(share.offset * per_row),
               targets.begin() + ptrdiff_t((share.offset + share.rows) * per_row)};
  }
  nn::StepStats first = trainer.step(tokens.data(), targets.data());  // warm-up: kernels, first touch
  std::vector<double> ms;
  nn::StepStats last = first;
  double reduce_ms = 0;
  for (int i = 0; i < o.steps; ++i) {
    const auto t0 = Clock::now();
    last = trainer.step(tokens.data(), targets.data());
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    reduce_ms += last.reduce_seconds * 1e3;
  }
  json parallel;
  if (ranks > 1) {
    trainer.check_replicas("after the benchmark's steps, the weights");
    const size_t floats = model.params().size() + model.buffers().size() + 3;  // Trainer's flat buffer
    const double bare = allreduce_ms(*world, floats, 20);
    const double moved = 2.0 * (ranks - 1) / ranks * double(floats) * 4;  // a ring's bytes per rank
    parallel = {{"ranks", ranks}, {"mpi", world->describe()}, {"rank_batch", share.rows},
                {"reduce_ms_per_step", reduce_ms / o.steps}, {"allreduce_ms", bare},
                {"allreduce_bytes", floats * 4}, {"allreduce_gb_per_s", bare > 0 ? moved / (bare * 1e-3) * 1e-9 : 0}};
    if (rank != 0) return;
  }
  double total = 0;
  for (double m : ms) total += m;
  const double mean = ms.empty() ? 0 : total / ms.size();
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted.empty() ? 0 : sorted[sorted.size() / 2];
  const double tps = mean > 0 ? B * T / (mean * 1e-3) : 0;
  const double pps = mean > 0 ? B * (s.mode == nn::Mode::seq2seq ? T : 1) / (mean * 1e-3) : 0;
  const double gflop = train_gflop(s, B, T), achieved = mean > 0 ? gflop * 1e9 / (mean * 1e-3) : 0;
  const nn::CudaStatus gpu = device == nn::Device::cuda ? nn::cuda_status() : nn::CudaStatus{};
  const double peak = device == nn::Device::cuda ? gpu_peak_flops(gpu, trainer.precision()) : 0;
  trainer.sync_to_host();  // the trained weights, for --save
  if (!o.save.empty()) nn::save_model(o.save, model, nn::parse_dtype(o.dtype), {{nn::kMetaTraining, json{{"steps", o.steps + 1}, {"loss", last.loss}}.dump()}});
  if (o.json) {
    json j{{"preset", bench_name(o)}, {"vocab", s.vocab}, {"batch", B},
           {"seq", T}, {"threads", threads}, {"steps", o.steps}, {"precision", o.precision},
           {"device", nn::device_name(device)}, {"ms_per_step", mean}, {"ms_per_step_median", median},
           {"tokens_per_second", tps}, {"predictions_per_second", pps}, {"gflop_per_step", gflop},
           {"flops_per_token", gflop * 1e9 / (double(B) * T)}, {"gflops", achieved * 1e-9},
           {"first_loss", first.loss}, {"last_loss", last.loss}, {"parameters", model.params().size()}};
    if (!parallel.is_null()) j.update(parallel);
    if (device == nn::Device::cuda) {
      j["gpu"] = {{"name", gpu.name}, {"sm", gpu.sm}, {"sms", gpu.sms}, {"clock_mhz", gpu.clock_mhz},
                  {"memory_gib", gpu.memory_gib}};
      if (peak > 0) j["peak_tflops"] = peak * 1e-12, j["peak_share"] = achieved / peak;
    }
    print_json(j);
  } else {
    std::string where = device == nn::Device::cuda ? "cuda (" + gpu.name + ")" : "cpu";
    if (device == nn::Device::cpu && o.device == "auto")  // say why auto kept the CPU
      where += " (CUDA not used: " +
               nn::why_cpu(nn::DeviceChoice::automatic, trainer.precision(), backend_of(o.reference)) + ")";
    std::printf("train %s on %s: batch %d x seq %d, %zu parameters, %s\n", bench_name(o).c_str(), where.c_str(), B, T,
                model.params().size(), o.precision.c_str());
    std::printf("  %.1f ms/step (median %.1f) over %d steps: %.0f tokens/s, %.1f predictions/s, %.1f GFLOP/s",
                mean, median, o.steps, tps, pps, achieved * 1e-9);
    if (peak > 0) std::printf(" (%.1f%% of the GPU's %.0f TFLOP/s peak)", 100 * achieved / peak, peak * 1e-12);
    std::printf("\n  loss %.4f -> %.4f\n", first.loss, last.loss);
    if (!parallel.is_null())
      std::printf("  %d ranks (%s), %d rows each of the batch: %.2f ms/step in the all-reduce (waits included); "
                  "a bare all-reduce of %.2f MB: %.2f ms (%.2f GB/s per rank, ring)\n",
                  ranks, world->describe().c_str(), share.rows, double(parallel["reduce_ms_per_step"]),
                  double(parallel["allreduce_bytes"]) / 1e6, double(parallel["allreduce_ms"]),
                  double(parallel["allreduce_gb_per_s"]));
  }
}

void bench_generate(const BenchOptions& o) {
  const int threads = nn::set_compute_threads(o.threads);
  nn::Model model(bench_spec(o));
  model.init_random(o.seed);
  const nn::Device device = device_of(o);
  nn::Stepper stepper(model, o.streams, backend_of(o.reference), nn::parse_precision(o.precision), device);
  const int V = model.spec().vocab;
  std::vector<int32_t> tok(o.streams);
  for (int s = 0; s < o.streams; ++s) tok[s] = s % V;
  stepper.step(tok);  // warm-up
  stepper.reset();
  const auto t0 = Clock::now();
  for (int i = 0; i < o.tokens; ++i) {
    auto logits = stepper.step(tok);
    for (int s = 0; s < o.streams; ++s) {  // greedy: the next input is the argmax
      const float* z = logits.data() + size_t(s) * V;
      tok[s] = int32_t(std::max_element(z, z + V) - z);
    }
  }
  const double sec = std::chrono::duration<double>(Clock::now() - t0).count();
  const double tps = sec > 0 ? double(o.tokens) * o.streams / sec : 0;
  if (o.json) {
    print_json({{"preset", bench_name(o)}, {"vocab", V}, {"tokens", o.tokens},
                {"streams", o.streams}, {"threads", threads}, {"step_threads", stepper.step_threads()}, {"precision", o.precision},
                {"device", nn::device_name(device)},
                {"seconds", sec}, {"tokens_per_second", tps}, {"ms_per_token", o.tokens ? sec * 1e3 / o.tokens : 0}});
  } else {
    std::printf("generate %s on %s: %d tokens x %d streams in %.3f s: %.1f tokens/s (%.3f ms per step)\n", bench_name(o).c_str(),
                nn::device_name(device), o.tokens, o.streams, sec, tps, o.tokens ? sec * 1e3 / o.tokens : 0);
  }
}

void add_bench_options(CLI::App* c, BenchOptions& o) {
  c->add_option("--preset", o.preset, "seed-skuli, seed-voc, default or small")->capture_default_str();
  c->add_option("--model-json", o.model_json, "a model JSON file instead of a preset");
  c->add_option("--vocab", o.vocab, "vocabulary size")->capture_default_str()->check(CLI::Range(2, 1 << 20));
  c->add_option("--threads", o.threads, "compute threads (one OpenMP pool for oneDNN and our GEMMs); 0 = one per core")
      ->check(CLI::Range(0, 1024));
  c->add_option("--precision", o.precision, "f32; bf16 (CPU LSTM kernels) or f16 (CUDA mixed precision)")
      ->capture_default_str();
  c->add_option("--device", o.device, "cpu; cuda or auto (cuda when usable) to measure the GPU")->capture_default_str();
  c->add_option("--seed", o.seed, "random seed for weights and data")->capture_default_str();
  c->add_flag("--reference", o.reference, "use the naive reference LSTM (slow; for checks)");
  c->add_flag("--json", o.json, "print one JSON object");
}
}  // namespace

void add_nn_commands(CLI::App& app) {
  struct ForwardOptions {
    std::string model, tokens, device = "cpu";
    bool json = false, reference = false;
  };
  auto fo = std::make_shared<ForwardOptions>();
  CLI::App* fwd = app.add_subcommand("forward", "Print the logits of every position of a token list");
  fwd->add_option("--model", fo->model, "model file (safetensors)")->required();
  fwd->add_option("--tokens", fo->tokens, "comma-separated token ids, e.g. 3,17,9")->required();
  fwd->add_flag("--json", fo->json, "print {\"vocab\", \"tokens\", \"logits\"} as JSON");
  fwd->add_flag("--reference", fo->reference, "use the naive reference LSTM");
  fwd->add_option("--device", fo->device, "cpu, cuda or auto (cuda when usable)")->capture_default_str();
  fwd->callback([fo] {
    const std::vector<int32_t> tokens = parse_token_list(fo->tokens);
    const nn::Device device = nn::choose_device(nn::parse_device(fo->device), nn::Precision::f32, backend_of(fo->reference));
    const nn::LoadedModel loaded = nn::load_model(fo->model);
    print_warnings(loaded.warnings);
    const int V = loaded.model.spec().vocab;
    nn::Stepper stepper(loaded.model, 1, backend_of(fo->reference), nn::Precision::f32, device);
    const std::vector<float> logits = stepper.run(tokens);
    if (fo->json) {
      json rows = json::array();
      for (size_t t = 0; t < tokens.size(); ++t)
        rows.push_back(std::vector<float>(logits.begin() + t * V, logits.begin() + (t + 1) * V));
      print_json({{"vocab", V}, {"tokens", tokens}, {"logits", rows}});
      return;
    }
    for (size_t t = 0; t < tokens.size(); ++t) {
      std::printf("%zu %d:", t, tokens[t]);
      for (int k = 0; k < V; ++k) std::printf(" %.6g", logits[t * V + k]);
      std::printf("\n");
    }
  });

  CLI::App* bench = app.add_subcommand("bench", "Measure training and generation speed on random data");
  bench->require_subcommand(1);
  auto to = std::make_shared<BenchOptions>();
  CLI::App* train = bench->add_subcommand("train", "Training steps per second for a preset");
  add_bench_options(train, *to);
  train->add_option("--batch", to->batch, "batch size (default: the preset's)")->check(CLI::Range(1, 1 << 16));
  train->add_option("--seq", to->seq, "window length (default: the preset's)")->check(CLI::Range(1, 1 << 16));
  train->add_option("--steps", to->steps, "timed steps after one warm-up step")->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  train->add_option("--save", to->save, "save the model after the steps (safetensors)");
  train->add_option("--dtype", to->dtype, "storage for --save: f32, f16 or bf16")->capture_default_str();
  train->callback([to] { bench_train(*to); });

  auto go = std::make_shared<BenchOptions>();
  CLI::App* gen = bench->add_subcommand("generate", "Generated tokens per second for a preset (greedy)");
  add_bench_options(gen, *go);
  gen->add_option("--tokens", go->tokens, "tokens to generate per stream")->capture_default_str()
      ->check(CLI::Range(1, 1 << 24));
  gen->add_option("--streams", go->streams, "independent streams stepped together")->capture_default_str()
      ->check(CLI::Range(1, 1 << 16));
  gen->callback([go] { bench_generate(*go); });

  auto devices_json = std::make_shared<bool>(false);
  CLI::App* dev = app.add_subcommand("devices", "Say whether CUDA is usable here (the GPU), or why not");
  dev->add_flag("--json", *devices_json, "print one JSON object");
  dev->footer("Exit code 0 either way: `usable` (JSON) or the first word (text) tells.");
  dev->callback([devices_json] {
    const nn::CudaStatus g = nn::cuda_status();
    if (*devices_json) {
      print_json({{"cpu", {{"cores", nn::set_compute_threads(0)}}},
                  {"cuda", {{"usable", g.usable}, {"why", g.why}, {"name", g.name}, {"sm", g.sm}, {"sms", g.sms},
                            {"clock_mhz", g.clock_mhz}, {"memory_gib", g.memory_gib}, {"plugin", g.plugin}}}});
    } else if (g.usable) {
      std::printf("cuda: %s, sm %d, %d SMs at %.0f MHz, %.1f GiB (plugin %s); --device auto uses it\n", g.name.c_str(),
                  g.sm, g.sms, g.clock_mhz, g.memory_gib, g.plugin.c_str());
    } else {
      std::printf("cuda: not usable: %s; --device auto uses the CPU\n", g.why.c_str());
    }
  });
}

}  // namespace etude::app
