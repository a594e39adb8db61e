#include "models/export.h"

#include <stdexcept>

#include "models/params.h"

namespace gradc {

AotModule export_model(ExportRequest req) {
  if (req.batch < 1 || req.batch > 65536) throw std::invalid_argument("gradc: export: --batch must be in 1..65536");
  auto m = build_model(req.model, {.batch = req.batch, .training = false}, req.arch);
  m->g.outputs() = {m->logits.id};  // the loss and its labels are not part of prediction
  check_weights(m->g, req.weights, req.source);
  for (NamedTensor& t : req.weights) req.aot.params[t.name] = std::move(t.data);
  req.aot.input = "x";
  req.aot.output = m->logits.id;
  return compile_aot(m->g, req.aot, req.compile);
}

}  // namespace gradc
