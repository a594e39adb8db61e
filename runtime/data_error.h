// The error of any malformed input file (data, checkpoints, lists): the message names the file, the
// byte offset or line, and what was expected. The CLI maps it to exit status 2.
#pragma once
#include <stdexcept>

namespace gradc {

class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace gradc
