// The fast CPU LSTM kernel against torch.nn.LSTM (Debian's python3-torch, float64) with the same
// weights: outputs, final state and all gradients, through tests/nn/lstm_torch_check.py.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "base/file_io.hpp"
#include "nn/lstm_kernel.hpp"

namespace etude::nn {
namespace {

namespace fs = std::filesystem;

TEST(LstmTorch, SameWeightsGiveSameOutputsAndGradients) {
  const char* source = std::getenv("ETUDE_SOURCE");
  if (!source) GTEST_SKIP() << "ETUDE_SOURCE is not set (run through ctest)";
  if (!fs::exists("/usr/bin/python3")) GTEST_SKIP() << "no /usr/bin/python3 (scripts/setup.sh installs it)";
  const LstmDims d{6, 3, 5, 7};
  const size_t G = 4 * size_t(d.H), BH = size_t(d.B) * d.H, TB = size_t(d.T) * d.B;

  // Inputs, in the order the script reads them.
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-0.6f, 0.6f);
  const size_t sizes[] = {G * d.I, G * d.H, G, G, TB * d.I, BH, BH, TB * d.H, BH, BH};
  std::vector<std::vector<float>> in;
  std::vector<uint8_t> bytes;
  for (size_t n : sizes) {
    std::vector<float> v(n);
    for (auto& e : v) e = u(rng);
    const auto* p = reinterpret_cast<const uint8_t*>(v.data());
    bytes.insert(bytes.end(), p, p + n * sizeof(float));
    in.push_back(std::move(v));
  }
  const fs::path dir = fs::temp_directory_path() / ("etude_lstm_torch_" + std::to_string(getpid()));
  fs::create_directories(dir);
  write_file_atomic(dir / "in.bin", bytes);
  const std::string cmd = "/usr/bin/python3 " + std::string(source) + "/tests/nn/lstm_torch_check.py " +
                          (dir / "in.bin").string() + " " + (dir / "out.bin").string() + " " +
                          std::to_string(d.T) + " " + std::to_string(d.B) + " " + std::to_string(d.I) +
                          " " + std::to_string(d.H);
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const std::vector<uint8_t> raw = read_file_bytes(dir / "out.bin");
  fs::remove_all(dir);

  // Outputs in the script's order: y, hT, cT, dx, dh0, dc0, grads of w_ih, w_hh, b_ih, b_hh.
  const char* names[] = {"y", "hT", "cT", "dx", "dh0", "dc0", "grad w_ih", "grad w_hh", "grad b_ih", "grad b_hh"};
  const size_t out_sizes[] = {TB * d.H, BH, BH, TB * d.I, BH, BH, G * d.I, G * d.H, G, G};
  std::vector<std::vector<float>> got;
  size_t total = 0;
  for (size_t n : out_sizes) got.emplace_back(n), total += n;
  ASSERT_EQ(raw.size(), total * sizeof(double));

  auto k = make_cpu_lstm(d);
  const LstmParams p{in[0].data(), in[1].data(), in[2].data(), in[3].data()};
  k->forward(p, in[4].data(), in[5].data(), in[6].data(), got[0].data(), got[1].data(), got[2].data(), true);
  k->backward(p, in[4].data(), in[5].data(), in[6].data(), in[7].data(), in[8].data(), in[9].data(),
              got[3].data(), {got[6].data(), got[7].data(), got[8].data(), got[9].data()}, got[4].data(),
              got[5].data());
  size_t at = 0;
  for (size_t t = 0; t < got.size(); ++t) {
    double diff = 0, ref = 1e-30;
    for (size_t e = 0; e < got[t].size(); ++e, ++at) {
      double want;
      std::memcpy(&want, raw.data() + at * sizeof(double), sizeof(double));
      diff = std::max(diff, std::abs(got[t][e] - want));
      ref = std::max(ref, std::abs(want));
    }
    EXPECT_LT(diff / ref, 1e-5) << names[t] << ": max difference " << diff << " against torch";
  }
}

}  // namespace
}  // namespace etude::nn
