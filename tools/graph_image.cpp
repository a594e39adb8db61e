#include "tools/graph_image.h"

#include "autodiff/dot.h"
#include "runtime/files.h"

namespace gradc::cli {

void render_dot(const std::string& dot, const std::string& path) {
  const auto dotpos = path.rfind('.');
  const std::string ext = dotpos == std::string::npos ? "" : path.substr(dotpos + 1);
  write_file(path, ext == "dot" || ext == "gv" ? dot : render_graphviz(dot, ext, path));
}

}  // namespace gradc::cli
