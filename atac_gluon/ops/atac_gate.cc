// atac_gate: the float32 ATAC gate y = x * sigmoid(g) of a training graph, with its gradient,
// each in one pass.
//
// ChaATAC computes the product as Activation(sigmoid) then elemwise_mul: two forward and two
// backward operators, each a pass over the feature map through MXNet's generic elementwise
// kernels (which do not vectorize the sigmoid), plus the layout reorders MXNet puts around a
// non-oneDNN operator. Here the forward pass reads x and g and writes y; the backward pass
// reads dy, x and g and writes dx = dy * s and dg = dy * x * s * (1 - s), with s recomputed
// from g (cheaper than keeping it in memory).
//
// Inputs: x, g (float32, the same shape). Output: y. Built and loaded by atac_gluon.ops.
#include <cmath>
#include <cstdint>
#include <string>
#include "mxnet/lib_api.h"

using namespace mxnet::ext;

namespace {

// exp(t) for t <= 0: Cephes' expf (range reduction by ln 2, a degree-5 polynomial), written so
// that GCC vectorizes it (with -fno-trapping-math, for the float-to-int conversion). Relative
// error about 1e-7. Below -87 the result is clamped to exp(-87) ~ 1.6e-38; NaN stays NaN.
inline float exp_nonpositive(float t) {
  t = t < -87.0f ? -87.0f : t;
  const float n = std::floor(t * 1.44269504088896341f + 0.5f);
  const float r = t - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e = p * r * r + r + 1.0f;
  union { int32_t i; float f; } scale;  // 2^n, n in [-126, 0]
  scale.i = (static_cast<int32_t>(n == n ? n : 0.0f) + 127) << 23;  // NaN: e is NaN already
  return e * scale.f;
}

// 1 / (1 + exp(-g)) from exp(-|g|), which never overflows
inline float sigmoid(float g) {
  const float e = exp_nonpositive(-std::fabs(g));
  const float s = 1.0f / (1.0f + e);
  return g >= 0.0f ? s : e * s;
}

// sigmoid(g) and 1 - sigmoid(g) = sigmoid(-g), each without cancellation (1 - s computed from a
// rounded s near 1 would lose most of its digits)
inline void sigmoid_pair(float g, float* s, float* one_minus_s) {
  const float e = exp_nonpositive(-std::fabs(g));
  const float big = 1.0f / (1.0f + e);
  const float small = e * big;
  *s = g >= 0.0f ? big : small;
  *one_minus_s = g >= 0.0f ? small : big;
}

// chunks for the threads, a vectorized loop in each
const int64_t kChunk = 4096;

void gate_forward(const float* __restrict x, const float* __restrict g, float* __restrict y,
                  int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t begin = 0; begin < n; begin += kChunk) {
    const int64_t end = begin + kChunk < n ? begin + kChunk : n;
    for (int64_t i = begin; i < end; ++i) y[i] = x[i] * sigmoid(g[i]);
  }
}

void gate_backward(const float* __restrict dy, const float* __restrict x,
                   const float* __restrict g, float* __restrict dx, float* __restrict dg,
                   int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t begin = 0; begin < n; begin += kChunk) {
    const int64_t end = begin + kChunk < n ? begin + kChunk : n;
    for (int64_t i = begin; i < end; ++i) {
      float s, one_minus_s;
      sigmoid_pair(g[i], &s, &one_minus_s);
      const float d = dy[i] * s;
      dx[i] = d;
      dg[i] = d * x[i] * one_minus_s;
    }
  }
}

MXReturnValue parse_attrs(const std::unordered_map<std::string, std::string>& attrs,
                          int* num_in, int* num_out) {
  *num_in = 2;  // x, the gate's logits
  *num_out = 1;
  return MX_SUCCESS;
}

MXReturnValue infer_type(const std::unordered_map<std::string, std::string>& attrs,
                         std::vector<int>* in, std::vector<int>* out) {
  for (size_t i = 0; i < in->size(); ++i) {
    if ((*in)[i] == -1) (*in)[i] = kFloat32;  // not known yet: it will have to be
    if ((*in)[i] != kFloat32) {
      MX_ERROR_MSG << "atac_gate: " << (i == 0 ? "x" : "the gate") << " is not float32 (type "
                   << (*in)[i] << "); the fused gate is float32 only";
      return MX_FAIL;
    }
  }
  (*out)[0] = kFloat32;
  return MX_SUCCESS;
}

MXReturnValue infer_shape(const std::unordered_map<std::string, std::string>& attrs,
                          std::vector<std::vector<unsigned int>>* in,
                          std::vector<std::vector<unsigned int>>* out) {
  if ((*in)[0] != (*in)[1]) {
    MX_ERROR_MSG << "atac_gate: x and the gate must have the same shape";
    return MX_FAIL;
  }
  (*out)[0] = (*in)[0];
  return MX_SUCCESS;
}

MXReturnValue forward(const std::unordered_map<std::string, std::string>& attrs,
                      std::vector<MXTensor>* in, std::vector<MXTensor>* out,
                      const OpResource& res) {
  gate_forward((*in)[0].data<float>(), (*in)[1].data<float>(), (*out)[0].data<float>(),
               static_cast<int64_t>((*in)[0].size()));
  return MX_SUCCESS;
}

// inputs: dy; x, g (the forward inputs); y (the forward output, unused). outputs: dx, dg
MXReturnValue backward(const std::unordered_map<std::string, std::string>& attrs,
                       std::vector<MXTensor>* in, std::vector<MXTensor>* out,
                       const OpResource& res) {
  gate_backward((*in)[0].data<float>(), (*in)[1].data<float>(), (*in)[2].data<float>(),
                (*out)[0].data<float>(), (*out)[1].data<float>(),
                static_cast<int64_t>((*in)[1].size()));
  return MX_SUCCESS;
}

}  // namespace

REGISTER_OP(atac_gate)
.setParseAttrs(parse_attrs)
.setInferType(infer_type)
.setInferShape(infer_shape)
.setForward(forward, "cpu")
.setBackward(backward, "cpu");
