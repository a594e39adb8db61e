// A fresh directory per test (mkdtemp, named after the running test), removed when it goes: two
// runs of the suite on one machine, or two tests of one run, never share a path.
#pragma once
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>

namespace gradc {

class TestDir {
 public:
  TestDir() : path_(make()) {}
  ~TestDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TestDir(const TestDir&) = delete;
  TestDir& operator=(const TestDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  std::string str() const { return path_.string(); }

 private:
  static std::filesystem::path make() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string tag = info ? std::string(info->test_suite_name()) + "." + info->name() : "gradc";
    for (char& ch : tag)
      if (ch == '/') ch = '_';
    std::string tmpl = (std::filesystem::temp_directory_path() / ("gradc_" + tag + "_XXXXXX")).string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("cannot create a test directory from " + tmpl);
    return tmpl;
  }
  std::filesystem::path path_;
};

}  // namespace gradc
