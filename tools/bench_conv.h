// `gradc bench MODEL --convs`: every convolution of a model's step alone — forward, input gradient
// and filter gradient — compiled by gradc through its default pipeline, next to oneDNN's primitives
// on the same shapes (tools/dnnl_conv_bench.cpp, run as a child process when built).
#pragma once
#include <cstdint>
#include <string>

#include "models/models.h"

namespace gradc::cli {

void conv_table(const std::string& model, int64_t batch, const Arch& arch, int reps, bool json);

}  // namespace gradc::cli
