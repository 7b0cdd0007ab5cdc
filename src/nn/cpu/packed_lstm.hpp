// Inference-only kernels for stepping a fixed model one token at a time: weight matrices packed
// once into panels of 64 rows stored column by column, so a step streams every weight once, in
// address order, into 4 vector accumulators (no horizontal sums); f32 or bf16 (widened on load).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "nn/lstm_kernel.hpp"
#include "nn/model_spec.hpp"

namespace etude::nn {

inline constexpr int kPanelLanes = 16;                // one accumulator vector
inline constexpr int kPanelRows = 4 * kPanelLanes;    // four accumulators: a panel

// A [rows][cols] row-major matrix repacked into panels of 64 rows: for each column, the panel's 64
// values lie together. rows[64 p + 16 v + u] names the source row of panel p, vector v (0..3),
// lane u (-1: padding, zero). Large ones live on transparent huge pages where the kernel offers
// them (a step streams all of it: fewer TLB misses).
class PackedMatrix {
 public:
  PackedMatrix(const float* w, int cols, const std::vector<int>& rows, Precision precision);
  int panels() const { return panels_; }
  // acc[0..64) += panel p times x[0..cols): column by column, in order (the same for any caller).
  void accumulate(int p, const float* x, float* acc) const;

 private:
  using V16 = float __attribute__((vector_size(64)));
  using U16 = uint32_t __attribute__((vector_size(64)));
  struct Free {
    void operator()(void* p) const;
  };
  int cols_, panels_;
  bool bf16_;
  // f32: [panel][col][4 vectors]; bf16: [panel][col][2], vectors 0|1 interleaved (low|high
  // halves of each 32-bit lane), then 2|3
  std::unique_ptr<void, Free> data_;
};

// One LSTM layer (PyTorch layout, gates i f g o) stepped for B streams. Panel p holds hidden
// units 16p..16p+15, its four vectors the four gates. A step may be split into `parts` run by
// different threads (part computes its share of the panels); each stream's arithmetic is the same
// for any B and any split.
class PackedLstm {
 public:
  // with_input false: the layer's input part comes from input_gates() rows (a per-token table),
  // and W_ih is not kept.
  PackedLstm(const LstmParams& p, int I, int H, Precision precision, bool with_input = true);
  int gate_size() const { return panels_ * kPanelRows; }  // floats of one row of input gates
  // g[gate_size()] = b_ih + b_hh + W_ih x in panel order, in f32 from the unrounded weights. The
  // step adds W_hh h to exactly these values, so stepping from a table of them equals stepping
  // from x bit for bit (f32).
  static void input_gates(const LstmParams& p, int I, int H, const float* x, int n, float* g);
  // hn/cn [B][H] from hp/cp [B][H] and either x [B][I] or gates[b] (a row of input_gates).
  void step(int B, const float* x, const float* const* gates, const float* hp, const float* cp, float* hn,
            float* cn, int part = 0, int parts = 1) const;

 private:
  int I_, H_, panels_;
  std::vector<float> bias_;  // b_ih + b_hh in panel order
  std::vector<PackedMatrix> w_;  // {W_hh} or {W_hh, W_ih}
};

// A dense layer y = act(W x + b) stepped the same way.
class PackedDense {
 public:
  PackedDense(const float* w, const float* b, int in, int out, Activation act);
  void step(int B, const float* x, float* y, int part = 0, int parts = 1) const;

 private:
  int in_, out_;
  Activation act_;
  std::vector<float> bias_;  // padded to whole panels
  PackedMatrix w_;
};

}  // namespace etude::nn
