// A Keras-style model summary of any graph: one row per layer (a layer = the parameters sharing a
// name prefix, "dense1/W" and "dense1/b", with the ops that follow them up to the next layer),
// its output shape with the batch as None, and its parameter count; trainable vs non-trainable
// (optimizer slots and EMA copies are state, not parameters).
#pragma once
#include <string>

#include "autodiff/graph.h"

namespace gradc {

std::string summary(const Graph& g);

}  // namespace gradc
