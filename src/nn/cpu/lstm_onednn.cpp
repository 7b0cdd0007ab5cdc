// The fast CPU LSTM kernel: oneDNN 2.6 LSTM primitives (f32, or bf16 data and weights with f32
// gradients), all memory sized at construction; small inference steps go to the BLAS path.
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "base/error.hpp"
#include "nn/cpu/lstm_blas_step.hpp"
#include "nn/cpu/lstm_cpu.hpp"
#include "nn/lstm_kernel.hpp"
#include "nn/device.hpp"

namespace etude::nn {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

std::string shape(const LstmDims& d) {
  return "T=" + std::to_string(d.T) + " B=" + std::to_string(d.B) + " I=" + std::to_string(d.I) +
         " H=" + std::to_string(d.H);
}

// A memory object over a caller's buffer: its pointer is set before each call.
memory wrap(const memory::desc& md, const dnnl::engine& eng) {
  return memory(md, eng, DNNL_MEMORY_NONE);
}
void point(memory& m, const void* p) { m.set_data_handle(const_cast<void*>(p)); }

// A primitive with its arguments fixed at construction (memory objects whose pointers change
// between calls, never the objects), run through the C API: nothing is allocated per call.
class Call {
 public:
  Call() = default;
  Call(const dnnl::primitive& prim, const std::vector<std::pair<int, memory>>& args) : prim_(prim) {
    for (const auto& [k, m] : args) {
      mems_.push_back(m);
      raw_.push_back({k, m.get()});
    }
  }
  // A reorder from one memory into another (an empty Call when from is to: nothing to do).
  static Call reorder(const memory& from, const memory& to) {
    if (from.get() == to.get()) return {};
    return Call(dnnl::reorder(from, to), {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}});
  }
  void run(const dnnl::stream& s) const {
    if (raw_.empty()) return;
    const dnnl_status_t st = dnnl_primitive_execute(prim_.get(), s.get(), int(raw_.size()), raw_.data());
    if (st != dnnl_success)
      throw DeviceError("oneDNN: an LSTM primitive failed to run (status " + std::to_string(int(st)) +
                        "); try the reference kernel");
  }

 private:
  dnnl::primitive prim_;
  std::vector<memory> mems_;  // keeps the memory objects alive
  std::vector<dnnl_exec_arg_t> raw_;
};

// One weight tensor as a primitive wants it: the caller's array itself when the layouts agree
// (then `fill` is empty), else our copy, refilled from the caller's array by `fill`.
struct Weight {
  memory mem;
  Call fill;
  Weight(const memory::desc& want, const memory& user, const dnnl::engine& eng)
      : mem(want == user.get_desc() ? user : memory(want, eng)), fill(Call::reorder(user, mem)) {}
};

class OnednnLstm final : public LstmKernel {
 public:
  OnednnLstm(const LstmDims& d, Precision prec, bool blas_for_small_inference)
      : d_(d), eng_(dnnl::engine::kind::cpu, 0), strm_(eng_) {
    const memory::dim T = d.T, B = d.B, I = d.I, H = d.H;
    const bool bf16 = prec == Precision::bf16;
    const dt data = bf16 ? dt::bf16 : dt::f32;
    // Caller-side (f32, PyTorch) layouts. w_ih [4H][I] is oneDNN's ldgoi with L = D = 1; oneDNN's
    // vanilla LSTM gate order is PyTorch's (i, f, g, o); it has one bias: b_ih + b_hh.
    const memory::desc x32({T, B, I}, dt::f32, tag::tnc), y32({T, B, H}, dt::f32, tag::tnc);
    const memory::desc s32({1, 1, B, H}, dt::f32, tag::ldnc);
    const memory::desc wl_user({1, 1, I, 4, H}, dt::f32, tag::ldgoi);
    const memory::desc wi_user({1, 1, H, 4, H}, dt::f32, tag::ldgoi);
    const memory::desc bias({1, 1, 4, H}, dt::f32, tag::ldgo);
    // Kernel-side data: in bf16 mode the layer input/output and hidden state are bf16; the cell
    // state, the bias and every gradient stay f32 (oneDNN refuses bf16 gradients).
    const memory::desc xk({T, B, I}, data, tag::tnc), yk({T, B, H}, data, tag::tnc);
    const memory::desc sk({1, 1, B, H}, data, tag::ldnc);
    const memory::desc wl_any({1, 1, I, 4, H}, data, tag::any), wi_any({1, 1, H, 4, H}, data, tag::any);
    const memory::desc dwl_any({1, 1, I, 4, H}, dt::f32, tag::any), dwi_any({1, 1, H, 4, H}, dt::f32, tag::any);

    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    const auto dir = dnnl::rnn_direction::unidirectional_left2right;
    dnnl::lstm_forward::primitive_desc train_pd, infer_pd;
    dnnl::lstm_backward::primitive_desc bwd_pd;
    try {
      train_pd = dnnl::lstm_forward::primitive_desc(
          {dnnl::prop_kind::forward_training, dir, xk, sk, s32, wl_any, wi_any, bias, yk, sk, s32}, attr, eng_);
      infer_pd = dnnl::lstm_forward::primitive_desc(
          {dnnl::prop_kind::forward_inference, dir, xk, sk, s32, wl_any, wi_any, bias, yk, sk, s32}, attr, eng_);
      bwd_pd = dnnl::lstm_backward::primitive_desc(
          {dnnl::prop_kind::backward, dir, xk, sk, s32, wl_any, wi_any, bias, yk, sk, s32,
           x32, s32, s32, dwl_any, dwi_any, bias, y32, s32, s32},
          attr, eng_, train_pd);
    } catch (const dnnl::error& e) {
      throw DeviceError(std::string("oneDNN refused an LSTM of ") + shape(d) + (bf16 ? " in bf16" : " in f32") +
                        ": " + e.what() + " (try Precision::f32, or the reference kernel)");
    }

    // Buffers: one scratchpad shared by the three primitives (never run at the same time), the
    // training workspace, zeros for absent inputs, sinks for unwanted outputs.
    const size_t scratch = std::max({train_pd.scratchpad_desc().get_size(), infer_pd.scratchpad_desc().get_size(),
                                     bwd_pd.scratchpad_desc().get_size()});
    scratch_buf_.assign(scratch / sizeof(float) + 16, 0.0f);
    const memory workspace(train_pd.workspace_desc(), eng_);
    auto scratch_mem = [&](const memory::desc& md) { return memory(md, eng_, scratch_buf_.data()); };
    zeros_.assign(size_t(T) * B * std::max(I, H), 0.0f);
    discard_dx_.assign(size_t(T) * B * I, 0.0f);
    discard_state_.assign(2 * size_t(B) * H, 0.0f);
    own_y_.assign(size_t(T) * B * H, 0.0f);
    own_hT_.assign(size_t(B) * H, 0.0f);
    own_cT_.assign(size_t(B) * H, 0.0f);

    // Caller arrays (f32), pointed at before each call.
    w_ih_ = wrap(wl_user, eng_), w_hh_ = wrap(wi_user, eng_), g_ih_ = wrap(wl_user, eng_), g_hh_ = wrap(wi_user, eng_);
    x_ = wrap(x32, eng_), y_ = wrap(y32, eng_), dx_ = wrap(x32, eng_), dy_ = wrap(y32, eng_);
    for (memory* m : {&h0_, &c0_, &hT_, &cT_, &dh0_, &dc0_, &dhT_, &dcT_}) *m = wrap(s32, eng_);
    bias_ = memory(bias, eng_);
    diff_bias_ = memory(bias, eng_);

    // The data as the primitives see it: the caller's f32 arrays, or bf16 copies.
    memory xk_mem = x_, yk_mem = y_, h0k_mem = h0_, hTk_mem = hT_;
    if (bf16) {
      xk_mem = memory(xk, eng_), yk_mem = memory(yk, eng_), h0k_mem = memory(sk, eng_), hTk_mem = memory(sk, eng_);
      to_kernel_ = {Call::reorder(x_, xk_mem), Call::reorder(h0_, h0k_mem)};
      from_kernel_ = {Call::reorder(yk_mem, y_), Call::reorder(hTk_mem, hT_)};
    }

    // Forward (training and inference), each with the weights in its own layout.
    for (bool training : {true, false}) {
      const auto& pd = training ? train_pd : infer_pd;
      Weight wl(pd.weights_layer_desc(), w_ih_, eng_), wi(pd.weights_iter_desc(), w_hh_, eng_);
      std::vector<std::pair<int, memory>> args{
          {DNNL_ARG_SRC_LAYER, xk_mem}, {DNNL_ARG_SRC_ITER, h0k_mem}, {DNNL_ARG_SRC_ITER_C, c0_},
          {DNNL_ARG_WEIGHTS_LAYER, wl.mem}, {DNNL_ARG_WEIGHTS_ITER, wi.mem}, {DNNL_ARG_BIAS, bias_},
          {DNNL_ARG_DST_LAYER, yk_mem}, {DNNL_ARG_DST_ITER, hTk_mem}, {DNNL_ARG_DST_ITER_C, cT_},
          {DNNL_ARG_SCRATCHPAD, scratch_mem(pd.scratchpad_desc())}};
      if (training) args.push_back({DNNL_ARG_WORKSPACE, workspace});
      Phase& phase = training ? train_ : infer_;
      phase.fill = {wl.fill, wi.fill};
      phase.run = Call(dnnl::lstm_forward(pd), args);
    }
    // Backward: weights in its layout, weight gradients in ours (oneDNN's layout is padded).
    Weight wl(bwd_pd.weights_layer_desc(), w_ih_, eng_), wi(bwd_pd.weights_iter_desc(), w_hh_, eng_);
    Weight gl(bwd_pd.diff_weights_layer_desc(), g_ih_, eng_), gi(bwd_pd.diff_weights_iter_desc(), g_hh_, eng_);
    dw_ih_ = gl.mem, dw_hh_ = gi.mem;
    Call run(dnnl::lstm_backward(bwd_pd),
             {{DNNL_ARG_SRC_LAYER, xk_mem}, {DNNL_ARG_SRC_ITER, h0k_mem}, {DNNL_ARG_SRC_ITER_C, c0_},
              {DNNL_ARG_WEIGHTS_LAYER, wl.mem}, {DNNL_ARG_WEIGHTS_ITER, wi.mem}, {DNNL_ARG_BIAS, bias_},
              {DNNL_ARG_DST_LAYER, yk_mem}, {DNNL_ARG_DST_ITER, hTk_mem}, {DNNL_ARG_DST_ITER_C, cT_},
              {DNNL_ARG_DIFF_SRC_LAYER, dx_}, {DNNL_ARG_DIFF_SRC_ITER, dh0_}, {DNNL_ARG_DIFF_SRC_ITER_C, dc0_},
              {DNNL_ARG_DIFF_WEIGHTS_LAYER, dw_ih_}, {DNNL_ARG_DIFF_WEIGHTS_ITER, dw_hh_},
              {DNNL_ARG_DIFF_BIAS, diff_bias_}, {DNNL_ARG_DIFF_DST_LAYER, dy_}, {DNNL_ARG_DIFF_DST_ITER, dhT_},
              {DNNL_ARG_DIFF_DST_ITER_C, dcT_}, {DNNL_ARG_WORKSPACE, workspace},
              {DNNL_ARG_SCRATCHPAD, scratch_mem(bwd_pd.scratchpad_desc())}});
    bwd_.fill = {wl.fill, wi.fill};
    bwd_.run = std::move(run);
    grads_out_ = {Call::reorder(dw_ih_, g_ih_), Call::reorder(dw_hh_, g_hh_)};

    if (blas_for_small_inference && d.T * d.B <= kBlasStepMaxRows && !bf16) blas_ = std::make_unique<LstmBlasStep>(d);
  }

  const LstmDims& dims() const override { return d_; }

  void forward(const LstmParams& p, const float* x, const float* h0, const float* c0, float* y,
               float* hT, float* cT, bool training) override {
    if (!training && blas_) {
      blas_->forward(p, x, h0, c0, y, hT, cT);
      return;
    }
    set_inputs(p, x, h0, c0);
    // Backward reads the forward's outputs again: keep where they went.
    fy_ = y ? y : own_y_.data();
    fhT_ = hT ? hT : own_hT_.data();
    fcT_ = cT ? cT : own_cT_.data();
    set_outputs();
    for (const Call& c : to_kernel_) c.run(strm_);
    const Phase& ph = training ? train_ : infer_;
    for (const Call& c : ph.fill) c.run(strm_);
    ph.run.run(strm_);
    for (const Call& c : from_kernel_) c.run(strm_);
    strm_.wait();
  }

  void backward(const LstmParams& p, const float* x, const float* h0, const float* c0,
                const float* dy, const float* dhT, const float* dcT, float* dx,
                const LstmGrads& g, float* dh0, float* dc0) override {
    set_inputs(p, x, h0, c0);  // in bf16 mode the kernel-side copies from forward are reused
    set_outputs();
    point(dy_, dy ? dy : zeros_.data());
    point(dhT_, dhT ? dhT : zeros_.data());
    point(dcT_, dcT ? dcT : zeros_.data());
    point(dx_, dx ? dx : discard_dx_.data());
    point(dh0_, dh0 ? dh0 : discard_state_.data());
    point(dc0_, dc0 ? dc0 : discard_state_.data() + size_t(d_.B) * d_.H);
    point(g_ih_, g.w_ih);
    point(g_hh_, g.w_hh);
    // oneDNN accumulates into the weight gradients: start from zero.
    for (memory* m : {&dw_ih_, &dw_hh_, &diff_bias_}) std::memset(m->get_data_handle(), 0, m->get_desc().get_size());
    for (const Call& c : bwd_.fill) c.run(strm_);
    bwd_.run.run(strm_);
    for (const Call& c : grads_out_) c.run(strm_);
    strm_.wait();
    const float* db = static_cast<const float*>(diff_bias_.get_data_handle());
    std::copy(db, db + 4 * d_.H, g.b_ih);
    std::copy(db, db + 4 * d_.H, g.b_hh);
  }

 private:
  // One primitive with the reorders that bring the caller's weights into its layout.
  struct Phase {
    std::vector<Call> fill;
    Call run;
  };

  void set_inputs(const LstmParams& p, const float* x, const float* h0, const float* c0) {
    float* b = static_cast<float*>(bias_.get_data_handle());
    for (int r = 0; r < 4 * d_.H; ++r) b[r] = p.b_ih[r] + p.b_hh[r];
    point(w_ih_, p.w_ih);
    point(w_hh_, p.w_hh);
    point(x_, x);
    point(h0_, h0 ? h0 : zeros_.data());
    point(c0_, c0 ? c0 : zeros_.data());
  }
  void set_outputs() {
    point(y_, fy_);
    point(hT_, fhT_);
    point(cT_, fcT_);
  }

  LstmDims d_;
  dnnl::engine eng_;
  dnnl::stream strm_;
  std::vector<float> scratch_buf_, zeros_, discard_dx_, discard_state_, own_y_, own_hT_, own_cT_;
  memory w_ih_, w_hh_, g_ih_, g_hh_, dw_ih_, dw_hh_, bias_, diff_bias_;
  memory x_, y_, h0_, c0_, hT_, cT_, dx_, dy_, dh0_, dc0_, dhT_, dcT_;
  Phase train_, infer_, bwd_;
  std::vector<Call> to_kernel_, from_kernel_, grads_out_;  // bf16 conversions; gradient layout
  float *fy_ = nullptr, *fhT_ = nullptr, *fcT_ = nullptr;  // forward's outputs, read by backward
  std::unique_ptr<LstmBlasStep> blas_;
};

}  // namespace

std::unique_ptr<LstmKernel> make_onednn_lstm(const LstmDims& dims, Precision precision,
                                             bool blas_for_small_inference) {
  if (dims.T < 1 || dims.B < 1 || dims.I < 1 || dims.H < 1)
    throw InvalidArgument("CPU LSTM: dims " + shape(dims) + " must all be at least 1");
  check_precision(Device::cpu, precision);  // f16 is CUDA's
  return std::make_unique<OnednnLstm>(dims, precision, blas_for_small_inference);
}

std::unique_ptr<LstmKernel> make_cpu_lstm(const LstmDims& dims, Precision precision) {
  return make_onednn_lstm(dims, precision, true);
}

}  // namespace etude::nn
