// The CPU's training engine: a DeviceEngine over a host Network<float> and Optimizer, so Trainer
// holds one engine whichever device trains (the CUDA plugin's is the other). Its numbers are the
// Network's and the Optimizer's, bit for bit; and the host row scoring both engines' callers use.
#pragma once
#include <cstdint>
#include <memory>
#include <span>

#include "nn/device.hpp"
#include "nn/optimizer.hpp"

namespace etude::nn {

// The model and the optimizer must outlive the engine; the model is prepared for (batch, time) here.
// Its host blocks are the ones trained: upload and download of those very blocks do nothing.
std::unique_ptr<DeviceEngine> make_cpu_engine(Model& model, Optimizer& optimizer, int batch, int time,
                                              LstmBackend backend, Precision precision);

// Cross-entropy (nats) and top-1 hit of every row of logits [rows][vocab] whose target is >= 0, in
// parallel (rows with target -1 are left as they were).
void score_rows_on_host(std::span<const float> logits, const int32_t* row_targets, int rows, int vocab,
                        double* row_loss, uint8_t* row_right);

}  // namespace etude::nn
