// The fast CPU LSTM kernel: oneDNN 2.6 LSTM primitives (f32, or bf16 data and weights with f32
// gradients), all memory sized at construction; small inference steps go to the BLAS path.
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/error.hpp"
#include "nn/cpu/lstm_blas_step.hpp"
#include "nn/cpu/lstm_cpu.hpp"
#include "nn/lstm_kernel.hpp"

namespace etude::nn {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

std::string shape(const LstmDims& d) {
  return "T=" + std::to_string(d.T) + " B=" + std::to_string(d.B) + " I=" + std::to_string(d.I) +
         " H=" + std::to_string(d.H);
}

// A memory object over a caller's buffer (pointer set per call) or over one of ours.
memory wrap(const memory::desc& md, const dnnl::engine& eng) {
  return memory(md, eng, DNNL_MEMORY_NONE);
}
void point(memory& m, const void* p) { m.set_data_handle(const_cast<void*>(p)); }

class OnednnLstm final : public LstmKernel {
 public:
  OnednnLstm(const LstmDims& d, Precision prec, bool blas_for_small_inference) : d_(d), prec_(prec), eng_(dnnl::engine::kind::cpu, 0), strm_(eng_) {
    const memory::dim T = d.T, B = d.B, I = d.I, H = d.H;
    const dt data = prec == Precision::bf16 ? dt::bf16 : dt::f32;
    // Caller-side (f32, PyTorch) layouts. w_ih [4H][I] is oneDNN's ldgoi with L = D = 1.
    const memory::desc x32({T, B, I}, dt::f32, tag::tnc), y32({T, B, H}, dt::f32, tag::tnc);
    const memory::desc s32({1, 1, B, H}, dt::f32, tag::ldnc);
    const memory::desc wl_user({1, 1, I, 4, H}, dt::f32, tag::ldgoi);
    const memory::desc wi_user({1, 1, H, 4, H}, dt::f32, tag::ldgoi);
    const memory::desc bias({1, 1, 4, H}, dt::f32, tag::ldgo);
    // Kernel-side data: bf16 for the layer input/output and hidden state, c state in f32.
    const memory::desc xk({T, B, I}, data, tag::tnc), yk({T, B, H}, data, tag::tnc);
    const memory::desc sk({1, 1, B, H}, data, tag::ldnc);
    const memory::desc wl_any({1, 1, I, 4, H}, data, tag::any), wi_any({1, 1, H, 4, H}, data, tag::any);
    const memory::desc dwl_any({1, 1, I, 4, H}, dt::f32, tag::any), dwi_any({1, 1, H, 4, H}, dt::f32, tag::any);

    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    const auto dir = dnnl::rnn_direction::unidirectional_left2right;
    try {
      train_pd_ = dnnl::lstm_forward::primitive_desc(
          {dnnl::prop_kind::forward_training, dir, xk, sk, s32, wl_any, wi_any, bias, yk, sk, s32}, attr, eng_);
      infer_pd_ = dnnl::lstm_forward::primitive_desc(
          {dnnl::prop_kind::forward_inference, dir, xk, sk, s32, wl_any, wi_any, bias, yk, sk, s32}, attr, eng_);
      bwd_pd_ = dnnl::lstm_backward::primitive_desc(
          {dnnl::prop_kind::backward, dir, xk, sk, s32, wl_any, wi_any, bias, yk, sk, s32,
           x32, s32, s32, dwl_any, dwi_any, bias, y32, s32, s32},
          attr, eng_, train_pd_);
    } catch (const dnnl::error& e) {
      throw DeviceError(std::string("oneDNN refused an LSTM of ") + shape(d) +
                        (prec == Precision::bf16 ? " in bf16" : " in f32") + ": " + e.what() +
                        " (try Precision::f32, or the reference kernel)");
    }
    train_ = dnnl::lstm_forward(train_pd_);
    infer_ = dnnl::lstm_forward(infer_pd_);
    bwd_ = dnnl::lstm_backward(bwd_pd_);

    // Scratchpad shared by the three primitives (never run at the same time), workspace for
    // training, weights in each primitive's layout, and the zero / discard buffers.
    const size_t scratch = std::max({train_pd_.scratchpad_desc().get_size(),
                                     infer_pd_.scratchpad_desc().get_size(),
                                     bwd_pd_.scratchpad_desc().get_size()});
    scratch_buf_.assign(scratch / sizeof(float) + 16, 0.0f);
    workspace_ = memory(train_pd_.workspace_desc(), eng_);
    auto scratch_mem = [&](const memory::desc& md) { return memory(md, eng_, scratch_buf_.data()); };
    train_scratch_ = scratch_mem(train_pd_.scratchpad_desc());
    infer_scratch_ = scratch_mem(infer_pd_.scratchpad_desc());
    bwd_scratch_ = scratch_mem(bwd_pd_.scratchpad_desc());

    wl_user_ = wrap(wl_user, eng_);
    wi_user_ = wrap(wi_user, eng_);
    bias_ = memory(bias, eng_);
    diff_bias_ = memory(bias, eng_);
    train_w_ = {Weight(train_pd_.weights_layer_desc(), wl_user_, eng_), Weight(train_pd_.weights_iter_desc(), wi_user_, eng_)};
    infer_w_ = {Weight(infer_pd_.weights_layer_desc(), wl_user_, eng_), Weight(infer_pd_.weights_iter_desc(), wi_user_, eng_)};
    bwd_w_ = {Weight(bwd_pd_.weights_layer_desc(), wl_user_, eng_), Weight(bwd_pd_.weights_iter_desc(), wi_user_, eng_)};
    // Weight gradients: straight into the caller's arrays when oneDNN's layout is theirs.
    dwl_direct_ = bwd_pd_.diff_weights_layer_desc() == wl_user;
    dwi_direct_ = bwd_pd_.diff_weights_iter_desc() == wi_user;
    dwl_ = dwl_direct_ ? wrap(wl_user, eng_) : memory(bwd_pd_.diff_weights_layer_desc(), eng_);
    dwi_ = dwi_direct_ ? wrap(wi_user, eng_) : memory(bwd_pd_.diff_weights_iter_desc(), eng_);
    gl_user_ = wrap(wl_user, eng_);
    gi_user_ = wrap(wi_user, eng_);
    if (!dwl_direct_) dwl_out_ = dnnl::reorder(dwl_, gl_user_);
    if (!dwi_direct_) dwi_out_ = dnnl::reorder(dwi_, gi_user_);

    // Caller buffers (f32): x, y, states and all diffs.
    x32_ = wrap(x32, eng_);
    y32_ = wrap(y32, eng_);
    for (auto* m : {&h0_, &c0_, &hT_, &cT_, &dh0_, &dc0_, &dhT_, &dcT_}) *m = wrap(s32, eng_);
    dx_ = wrap(x32, eng_);
    dy_ = wrap(y32, eng_);
    zeros_.assign(size_t(T) * B * std::max(I, H), 0.0f);
    discard_dx_.assign(size_t(T) * B * I, 0.0f);
    discard_state_.assign(2 * size_t(B) * H, 0.0f);
    own_y_.assign(size_t(T) * B * H, 0.0f);
    own_hT_.assign(size_t(B) * H, 0.0f);
    own_cT_.assign(size_t(B) * H, 0.0f);
    if (prec == Precision::bf16) {
      xk_ = memory(xk, eng_);
      yk_ = memory(yk, eng_);
      h0k_ = memory(sk, eng_);
      hTk_ = memory(sk, eng_);
      to_xk_ = dnnl::reorder(x32_, xk_);
      to_h0k_ = dnnl::reorder(h0_, h0k_);
      from_yk_ = dnnl::reorder(yk_, y32_);
      from_hTk_ = dnnl::reorder(hTk_, hT_);
    }
    if (blas_for_small_inference && d.T * d.B <= kBlasStepMaxRows && prec == Precision::f32)
      blas_ = std::make_unique<LstmBlasStep>(d);
  }

  const LstmDims& dims() const override { return d_; }

  void forward(const LstmParams& p, const float* x, const float* h0, const float* c0, float* y,
               float* hT, float* cT, bool training) override {
    if (!training && blas_) {
      blas_->forward(p, x, h0, c0, y, hT, cT);
      return;
    }
    sum_bias(p);
    point(wl_user_, p.w_ih);
    point(wi_user_, p.w_hh);
    Weights& w = training ? train_w_ : infer_w_;
    fy_ = y ? y : own_y_.data();
    fhT_ = hT ? hT : own_hT_.data();
    fcT_ = cT ? cT : own_cT_.data();
    point(y32_, fy_);
    point(hT_, fhT_);
    point(cT_, fcT_);
    std::unordered_map<int, memory> args = states(x, h0, c0);
    args[DNNL_ARG_WEIGHTS_LAYER] = w.layer.get(strm_);
    args[DNNL_ARG_WEIGHTS_ITER] = w.iter.get(strm_);
    args[DNNL_ARG_BIAS] = bias_;
    if (training) {
      args[DNNL_ARG_WORKSPACE] = workspace_;
      args[DNNL_ARG_SCRATCHPAD] = train_scratch_;
      train_.execute(strm_, args);
    } else {
      args[DNNL_ARG_SCRATCHPAD] = infer_scratch_;
      infer_.execute(strm_, args);
    }
    if (prec_ == Precision::bf16) {
      from_yk_.execute(strm_, yk_, y32_);
      from_hTk_.execute(strm_, hTk_, hT_);
    }
    strm_.wait();
  }

  void backward(const LstmParams& p, const float* x, const float* h0, const float* c0,
                const float* dy, const float* dhT, const float* dcT, float* dx,
                const LstmGrads& g, float* dh0, float* dc0) override {
    sum_bias(p);
    point(wl_user_, p.w_ih);
    point(wi_user_, p.w_hh);
    // oneDNN accumulates into the weight gradients: start from zero.
    if (dwl_direct_) point(dwl_, g.w_ih);
    if (dwi_direct_) point(dwi_, g.w_hh);
    for (memory* m : {&dwl_, &dwi_, &diff_bias_})
      std::memset(m->get_data_handle(), 0, m->get_desc().get_size());
    point(y32_, fy_);
    point(hT_, fhT_);
    point(cT_, fcT_);
    point(dy_, dy ? dy : zeros_.data());
    point(dhT_, dhT ? dhT : zeros_.data());
    point(dcT_, dcT ? dcT : zeros_.data());
    point(dx_, dx ? dx : discard_dx_.data());
    point(dh0_, dh0 ? dh0 : discard_state_.data());
    point(dc0_, dc0 ? dc0 : discard_state_.data() + size_t(d_.B) * d_.H);
    std::unordered_map<int, memory> args = states(x, h0, c0, /*backward=*/true);
    args[DNNL_ARG_WEIGHTS_LAYER] = bwd_w_.layer.get(strm_);
    args[DNNL_ARG_WEIGHTS_ITER] = bwd_w_.iter.get(strm_);
    args[DNNL_ARG_BIAS] = bias_;
    args[DNNL_ARG_WORKSPACE] = workspace_;
    args[DNNL_ARG_SCRATCHPAD] = bwd_scratch_;
    args[DNNL_ARG_DIFF_SRC_LAYER] = dx_;
    args[DNNL_ARG_DIFF_SRC_ITER] = dh0_;
    args[DNNL_ARG_DIFF_SRC_ITER_C] = dc0_;
    args[DNNL_ARG_DIFF_WEIGHTS_LAYER] = dwl_;
    args[DNNL_ARG_DIFF_WEIGHTS_ITER] = dwi_;
    args[DNNL_ARG_DIFF_BIAS] = diff_bias_;
    args[DNNL_ARG_DIFF_DST_LAYER] = dy_;
    args[DNNL_ARG_DIFF_DST_ITER] = dhT_;
    args[DNNL_ARG_DIFF_DST_ITER_C] = dcT_;
    bwd_.execute(strm_, args);
    if (!dwl_direct_) {
      point(gl_user_, g.w_ih);
      dwl_out_.execute(strm_, dwl_, gl_user_);
    }
    if (!dwi_direct_) {
      point(gi_user_, g.w_hh);
      dwi_out_.execute(strm_, dwi_, gi_user_);
    }
    strm_.wait();
    const float* db = static_cast<const float*>(diff_bias_.get_data_handle());
    std::copy(db, db + 4 * d_.H, g.b_ih);
    std::copy(db, db + 4 * d_.H, g.b_hh);
  }

 private:
  // One weight tensor as a primitive wants it: the caller's array itself when the layouts agree,
  // else our copy, refilled by a reorder at each use.
  struct Weight {
    memory user, own;
    dnnl::reorder fill;
    bool direct = false;
    Weight() = default;
    Weight(const memory::desc& want, const memory& user_mem, const dnnl::engine& eng)
        : user(user_mem), direct(want == user_mem.get_desc()) {
      if (direct) return;
      own = memory(want, eng);
      fill = dnnl::reorder(user, own);
    }
    const memory& get(dnnl::stream& s) {
      if (direct) return user;
      fill.execute(s, user, own);
      return own;
    }
  };
  struct Weights {
    Weight layer, iter;
  };

  // oneDNN has one bias per gate: b_ih + b_hh.
  void sum_bias(const LstmParams& p) {
    float* b = static_cast<float*>(bias_.get_data_handle());
    for (int r = 0; r < 4 * d_.H; ++r) b[r] = p.b_ih[r] + p.b_hh[r];
  }

  // The source and destination state arguments shared by forward and backward (bf16: converted
  // copies of x and h0 made in forward, reused by backward).
  std::unordered_map<int, memory> states(const float* x, const float* h0, const float* c0,
                                         bool backward = false) {
    point(x32_, x);
    point(h0_, h0 ? h0 : zeros_.data());
    point(c0_, c0 ? c0 : zeros_.data());
    std::unordered_map<int, memory> args;
    if (prec_ == Precision::bf16) {
      if (!backward) {
        to_xk_.execute(strm_, x32_, xk_);
        to_h0k_.execute(strm_, h0_, h0k_);
      }
      args[DNNL_ARG_SRC_LAYER] = xk_;
      args[DNNL_ARG_SRC_ITER] = h0k_;
      args[DNNL_ARG_DST_LAYER] = yk_;
      args[DNNL_ARG_DST_ITER] = hTk_;
    } else {
      args[DNNL_ARG_SRC_LAYER] = x32_;
      args[DNNL_ARG_SRC_ITER] = h0_;
      args[DNNL_ARG_DST_LAYER] = y32_;
      args[DNNL_ARG_DST_ITER] = hT_;
    }
    args[DNNL_ARG_SRC_ITER_C] = c0_;
    args[DNNL_ARG_DST_ITER_C] = cT_;
    return args;
  }

  LstmDims d_;
  Precision prec_;
  dnnl::engine eng_;
  dnnl::stream strm_;
  dnnl::lstm_forward::primitive_desc train_pd_, infer_pd_;
  dnnl::lstm_backward::primitive_desc bwd_pd_;
  dnnl::lstm_forward train_, infer_;
  dnnl::lstm_backward bwd_;
  std::vector<float> scratch_buf_, zeros_, discard_dx_, discard_state_, own_y_, own_hT_, own_cT_;
  memory workspace_, train_scratch_, infer_scratch_, bwd_scratch_;
  memory wl_user_, wi_user_, gl_user_, gi_user_, bias_, diff_bias_, dwl_, dwi_;
  Weights train_w_, infer_w_, bwd_w_;
  bool dwl_direct_ = false, dwi_direct_ = false;
  dnnl::reorder dwl_out_, dwi_out_;
  memory x32_, y32_, h0_, c0_, hT_, cT_, dx_, dy_, dh0_, dc0_, dhT_, dcT_;
  memory xk_, yk_, h0k_, hTk_;
  dnnl::reorder to_xk_, to_h0k_, from_yk_, from_hTk_;
  float *fy_ = nullptr, *fhT_ = nullptr, *fcT_ = nullptr;  // forward's outputs, read by backward
  std::unique_ptr<LstmBlasStep> blas_;
};

}  // namespace

std::unique_ptr<LstmKernel> make_onednn_lstm(const LstmDims& dims, Precision precision,
                                             bool blas_for_small_inference) {
  if (dims.T < 1 || dims.B < 1 || dims.I < 1 || dims.H < 1)
    throw InvalidArgument("CPU LSTM: dims " + shape(dims) + " must all be at least 1");
  return std::make_unique<OnednnLstm>(dims, precision, blas_for_small_inference);
}

std::unique_ptr<LstmKernel> make_cpu_lstm(const LstmDims& dims, Precision precision) {
  return make_onednn_lstm(dims, precision, true);
}

}  // namespace etude::nn
