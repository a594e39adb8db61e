// A graph's picture as a file: DOT text, or SVG/PNG rendered by Graphviz in memory.
#pragma once
#include <string>

namespace gradc::cli {

// Writes DOT text to `path` as DOT (.dot, .gv) or an image (.svg, .png), atomically (a temp file
// renamed into place): a failed write — a full disk — leaves no truncated file and is a DataError
// naming the path; an unknown extension is std::invalid_argument.
void render_dot(const std::string& dot, const std::string& path);

}  // namespace gradc::cli
