// Deterministic parameter initialisation from a parameter node's Init spec and seed.
#pragma once
#include <vector>

#include "autodiff/graph.h"

namespace gradc {

// Glorot-uniform uses fan_in = prod(dims[:-1]) / fan_out = dims[-1] for [in,out] matrices and
// the Keras HWIO rule (receptive field × channels) for rank-4 filters.
std::vector<float> init_param(const Node& param);

}  // namespace gradc
