// The naive reference LSTM: plain loops, templated on Real (double for finite-difference gradient
// checks, float-in/double-accumulate behind the LstmKernel seam). The test oracle; not fast.
#pragma once
#include <vector>

#include "nn/lstm_kernel.hpp"

namespace etude::nn {

// Parameters and gradients in PyTorch layout (see LstmParams): w_ih [4H][I], w_hh [4H][H],
// b_ih [4H], b_hh [4H]; gate order i, f, g, o.
template <typename Real>
struct LstmRefParams {
  const Real* w_ih;
  const Real* w_hh;
  const Real* b_ih;
  const Real* b_hh;
};
template <typename Real>
struct LstmRefGrads {
  Real* w_ih;
  Real* w_hh;
  Real* b_ih;
  Real* b_hh;
};

// Buffers as in LstmKernel (time-major, row-major; h0/c0 nullptr = zeros; y/hT/cT nullptr = not
// wanted). Forward needs no state; backward recomputes the forward itself, so both are pure.
template <typename Real>
void lstm_reference_forward(const LstmDims& d, const LstmRefParams<Real>& p, const Real* x,
                            const Real* h0, const Real* c0, Real* y, Real* hT, Real* cT);

// Gradients of sum(dy*y) + sum(dhT*hT) + sum(dcT*cT); dy/dhT/dcT nullptr = zeros; dx/dh0/dc0
// nullptr = not wanted. Overwrites g (all four tensors).
template <typename Real>
void lstm_reference_backward(const LstmDims& d, const LstmRefParams<Real>& p, const Real* x,
                             const Real* h0, const Real* c0, const Real* dy, const Real* dhT,
                             const Real* dcT, Real* dx, const LstmRefGrads<Real>& g, Real* dh0,
                             Real* dc0);

extern template void lstm_reference_forward<float>(const LstmDims&, const LstmRefParams<float>&,
                                                   const float*, const float*, const float*,
                                                   float*, float*, float*);
extern template void lstm_reference_forward<double>(const LstmDims&, const LstmRefParams<double>&,
                                                    const double*, const double*, const double*,
                                                    double*, double*, double*);
extern template void lstm_reference_backward<float>(const LstmDims&, const LstmRefParams<float>&,
                                                    const float*, const float*, const float*,
                                                    const float*, const float*, const float*,
                                                    float*, const LstmRefGrads<float>&, float*,
                                                    float*);
extern template void lstm_reference_backward<double>(const LstmDims&,
                                                     const LstmRefParams<double>&, const double*,
                                                     const double*, const double*, const double*,
                                                     const double*, const double*, double*,
                                                     const LstmRefGrads<double>&, double*,
                                                     double*);

}  // namespace etude::nn
