// atac_int8_gate: the ATAC gate of an int8 graph, x * sigmoid(g), in one pass over int8 data.
//
// MXNet 1.9.1 has no int8 sigmoid, so its int8 graph computes the gate in float32:
// dequantize(g), sigmoid, dequantize(x), multiply, quantize -- five passes over the feature
// map, two thirds of a quantized ResNet-20 ATAC's time. Here the sigmoid of each of the 256 int8
// gate values is tabulated once per call, so each element costs a lookup and a multiply.
//
// Inputs: g (int8) and its calibrated min / max, x (int8 or uint8) and its min / max (the
// tensors MXNet's quantized operators pass along). Attributes min_calib_range /
// max_calib_range: the product's calibrated range, as quantize_v2 takes it. Outputs: the
// product, int8 (uint8 when the range is non-negative, as quantize_v2's out_type 'auto'), and
// its min / max. Built and loaded by atac_gluon.ops (mx.library.load).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include "mxnet/lib_api.h"

using namespace mxnet::ext;

namespace {

float range_of(const MXTensor& lo, const MXTensor& hi) {
  float a = std::fabs(*reinterpret_cast<float*>(lo.data_ptr));
  float b = std::fabs(*reinterpret_cast<float*>(hi.data_ptr));
  return a > b ? a : b;
}

// real value of one quantization step of an int8 (127 steps) or uint8 (255) tensor
float step_of(MXDType dtype, float range) {
  return range / (dtype == kUint8 ? 255.0f : 127.0f);
}

float attr(const std::unordered_map<std::string, std::string>& attrs, const char* name) {
  return std::stof(attrs.at(name));
}

MXReturnValue parse_attrs(const std::unordered_map<std::string, std::string>& attrs,
                          int* num_in, int* num_out) {
  if (!attrs.count("min_calib_range") || !attrs.count("max_calib_range")) {
    MX_ERROR_MSG << "atac_int8_gate needs min_calib_range and max_calib_range";
    return MX_FAIL;
  }
  *num_in = 6;  // the gate's logits, their min, max; x, its min, max
  *num_out = 3;  // the product, its min, max
  return MX_SUCCESS;
}

MXReturnValue infer_type(const std::unordered_map<std::string, std::string>& attrs,
                         std::vector<int>* in, std::vector<int>* out) {
  (*out)[0] = attr(attrs, "min_calib_range") >= 0 ? kUint8 : kInt8;
  (*out)[1] = kFloat32;
  (*out)[2] = kFloat32;
  return MX_SUCCESS;
}

MXReturnValue infer_shape(const std::unordered_map<std::string, std::string>& attrs,
                          std::vector<std::vector<unsigned int>>* in,
                          std::vector<std::vector<unsigned int>>* out) {
  if ((*in)[0] != (*in)[3]) {
    MX_ERROR_MSG << "atac_int8_gate: the gate and x must have the same shape";
    return MX_FAIL;
  }
  (*out)[0] = (*in)[3];
  (*out)[1] = std::vector<unsigned int>{1};
  (*out)[2] = std::vector<unsigned int>{1};
  return MX_SUCCESS;
}

// y = round(x * table[g]), clamped to [lo, hi]; table is indexed by g's bit pattern
template <typename GT, typename XT, typename YT>
void apply_gate(const GT* g, const XT* x, YT* y, int64_t n, const float* table, float lo,
                float hi) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    float v = static_cast<float>(x[i]) * table[static_cast<uint8_t>(g[i])];
    v = v < lo ? lo : (v > hi ? hi : v);
    // round half away from zero: equal to MXNet's own float island on ~99% of the elements,
    // one step off on the rest (tests/test_quantize.py)
    y[i] = static_cast<YT>(static_cast<int32_t>(v + (v >= 0.f ? 0.5f : -0.5f)));
  }
}

template <typename GT, typename XT>
void dispatch_out(const GT* g, const XT* x, MXTensor* y, int64_t n, const float* table,
                  bool unsigned_out) {
  if (unsigned_out) apply_gate(g, x, y->data<uint8_t>(), n, table, 0.f, 255.f);
  else apply_gate(g, x, y->data<int8_t>(), n, table, -127.f, 127.f);
}

template <typename GT>
void dispatch_x(const GT* g, MXTensor* x, MXTensor* y, int64_t n, const float* table,
                bool unsigned_out) {
  if (x->dtype == kUint8) dispatch_out(g, x->data<uint8_t>(), y, n, table, unsigned_out);
  else dispatch_out(g, x->data<int8_t>(), y, n, table, unsigned_out);
}

bool is_8bit(MXDType dtype) { return dtype == kInt8 || dtype == kUint8; }

MXReturnValue forward(const std::unordered_map<std::string, std::string>& attrs,
                      std::vector<MXTensor>* in, std::vector<MXTensor>* out,
                      const OpResource& res) {
  MXTensor& g = (*in)[0];
  MXTensor& x = (*in)[3];
  if (!is_8bit(g.dtype) || !is_8bit(x.dtype)) {
    MX_ERROR_MSG << "atac_int8_gate takes int8 or uint8 gate logits and x";
    return MX_FAIL;
  }
  float lo = attr(attrs, "min_calib_range"), hi = attr(attrs, "max_calib_range");
  float out_range = std::fabs(lo) > std::fabs(hi) ? std::fabs(lo) : std::fabs(hi);
  bool unsigned_out = lo >= 0;
  float out_step = step_of(unsigned_out ? kUint8 : kInt8, out_range);
  float g_step = step_of(g.dtype, range_of((*in)[1], (*in)[2]));
  float x_step = step_of(x.dtype, range_of((*in)[4], (*in)[5]));
  // for each of the 256 bit patterns of g: sigmoid(g's value) times x's step in output steps
  float table[256];
  for (int bits = 0; bits < 256; ++bits) {
    int q = g.dtype == kInt8 ? static_cast<int8_t>(bits) : bits;
    table[bits] = out_step > 0 ? x_step / out_step / (1.0f + std::exp(-q * g_step)) : 0.f;
  }
  int64_t n = x.size();
  MXTensor* y = &(*out)[0];
  if (g.dtype == kInt8) dispatch_x(g.data<int8_t>(), &x, y, n, table, unsigned_out);
  else dispatch_x(g.data<uint8_t>(), &x, y, n, table, unsigned_out);
  *(*out)[1].data<float>() = unsigned_out ? 0.f : -out_range;
  *(*out)[2].data<float>() = out_range;
  return MX_SUCCESS;
}

// int8 graphs are inference graphs: no gradient flows through the gate, as through MXNet's
// own quantized operators (their FGradient makes zeros too)
MXReturnValue backward(const std::unordered_map<std::string, std::string>& attrs,
                       std::vector<MXTensor>* in, std::vector<MXTensor>* out,
                       const OpResource& res) {
  for (MXTensor& grad : *out) {
    size_t bytes = grad.dtype == kFloat32 ? 4 : (is_8bit(grad.dtype) ? 1 : 0);
    if (bytes == 0) {
      MX_ERROR_MSG << "atac_int8_gate: unexpected gradient type " << grad.dtype;
      return MX_FAIL;
    }
    std::memset(grad.data_ptr, 0, bytes * grad.size());
  }
  return MX_SUCCESS;
}

}  // namespace

REGISTER_OP(atac_int8_gate)
.setParseAttrs(parse_attrs)
.setInferType(infer_type)
.setInferShape(infer_shape)
.setForward(forward, "cpu")
.setBackward(backward, "cpu");

MXReturnValue initialize(int version) {
  if (version >= 10900) return MX_SUCCESS;
  MX_ERROR_MSG << "atac_gluon's operators need MXNet 1.9 or newer, this is " << version;
  return MX_FAIL;
}
