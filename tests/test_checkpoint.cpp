// safetensors checkpoints: round trip, Python-compatible header layout, atomic write, corrupt files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "runtime/checkpoint.h"
#include "runtime/checkpoint_list.h"
#include "runtime/dataset.h"
#include "tests/test_dir.h"

namespace gradc {
namespace {

namespace fs = std::filesystem;

// This test's directory (ctest runs each test in its own process).
const fs::path& dir() {
  static const TestDir d;
  return d.path();
}

Checkpoint sample() {
  Checkpoint c;
  c.metadata = {{"model", "dnn"}, {"step", "7"}};
  c.tensors.push_back({"hidden1/W", {2, 3}, {1, 2, 3, 4, 5, 6}});
  c.tensors.push_back({"hidden1/b", {3}, {-1, 0.5f, 1e-8f}});
  return c;
}

// A tensor whose data does not fill its shape is refused before anything is written (it used to
// write a file its own loader rejects), and an existing checkpoint stays as it was.
TEST(Checkpoint, RefusesTensorsWhoseDataDoesNotMatchTheirShape) {
  const std::string path = (dir() / "mismatch.safetensors").string();
  save_checkpoint(path, sample());
  Checkpoint bad = sample();
  bad.tensors[1].data.pop_back();
  try {
    save_checkpoint(path, bad);
    ADD_FAILURE() << "saved a tensor of 2 values for shape [3]";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'hidden1/b' has 2 values for shape [3]"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(load_checkpoint(path).find("hidden1/b")->data, sample().tensors[1].data);
}

// Two writers saving into one directory at once never share a temp file (they once collided on
// "last.safetensors.tmp" and one died with "cannot rename").
TEST(Checkpoint, ConcurrentWritersUseTheirOwnTempFiles) {
  const fs::path own = dir() / "concurrent";  // ctest runs other tests in dir() at the same time
  fs::create_directories(own);
  const std::string path = (own / "shared.safetensors").string();
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (int w = 0; w < 4; ++w)
    writers.emplace_back([&] {
      for (int i = 0; i < 25; ++i) try {
          save_checkpoint(path, sample());
        } catch (...) {
          ++failures;
        }
    });
  for (auto& t : writers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(load_checkpoint(path).metadata.at("step"), "7");
}

TEST(Checkpoint, RoundTripAndHeaderLayout) {
  const std::string path = (dir() / "a.safetensors").string();
  save_checkpoint(path, sample());
  for (const auto& e : fs::directory_iterator(dir()))  // no temp file of this save left behind
    EXPECT_NE(e.path().filename().string().rfind(".a.safetensors.", 0), 0u) << e.path();
  Checkpoint c = load_checkpoint(path);
  EXPECT_EQ(c.metadata.at("step"), "7");
  ASSERT_EQ(c.tensors.size(), sample().tensors.size());
  for (const NamedTensor& want : sample().tensors) {  // every tensor, shape and bits
    const NamedTensor* got = c.find(want.name);
    ASSERT_NE(got, nullptr) << want.name;
    EXPECT_EQ(got->shape, want.shape) << want.name;
    ASSERT_EQ(got->data.size(), want.data.size()) << want.name;
    EXPECT_EQ(std::memcmp(got->data.data(), want.data.data(), want.data.size() * sizeof(float)), 0) << want.name;
  }
  // What Python's safetensors expects: u64 LE header size, JSON with dtype/shape/data_offsets,
  // data section starting 8-byte aligned and covered exactly.
  std::ifstream f(path, std::ios::binary);
  uint64_t n = 0;
  f.read(reinterpret_cast<char*>(&n), 8);
  EXPECT_EQ((n + 8) % 8, 0u);
  std::string header(n, '\0');
  f.read(header.data(), static_cast<std::streamsize>(n));
  auto h = nlohmann::json::parse(header);
  EXPECT_EQ(h["hidden1/W"]["dtype"], "F32");
  EXPECT_EQ(h["hidden1/W"]["shape"], nlohmann::json::array({2, 3}));
  EXPECT_EQ(h["hidden1/W"]["data_offsets"], nlohmann::json::array({0, 24}));
  EXPECT_EQ(h["hidden1/b"]["data_offsets"], nlohmann::json::array({24, 36}));
  EXPECT_EQ(h["__metadata__"]["model"], "dnn");
  EXPECT_EQ(fs::file_size(path), 8 + n + 36);
}

TEST(Checkpoint, CorruptFilesAreNamedErrors) {
  const std::string good = (dir() / "good.safetensors").string();
  save_checkpoint(good, sample());
  std::ifstream in(good, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  auto expect_error = [&](const std::string& name, const std::string& content, const std::string& what) {
    const std::string p = (dir() / name).string();
    std::ofstream(p, std::ios::binary) << content;
    try {
      load_checkpoint(p);
      ADD_FAILURE() << name << ": no error";
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  expect_error("short.safetensors", bytes.substr(0, 5), "truncated at byte 5");
  expect_error("trunc.safetensors", bytes.substr(0, bytes.size() - 4), "do not match");
  std::string huge = bytes;
  huge[7] = 0x7f;
  expect_error("huge.safetensors", huge, "exceeds the file");
  std::string badjson = bytes;
  badjson[8] = '[';
  badjson[9] = '[';
  expect_error("json.safetensors", badjson, "header JSON");
  EXPECT_THROW(load_checkpoint((dir() / "missing.safetensors").string()), DataError);
}

// keep_last's list: pruning removes only files the list holds, oldest written first, and never
// follows a link; a list naming anything but ckpt-STEP.safetensors is refused.
TEST(Checkpoint, CheckpointListPrunesOnlyWhatItListed) {
  const TestDir tmp;
  const fs::path& d = tmp.path();
  for (const char* f : {"ckpt-1000.safetensors", "ckpt-0003.safetensors", "ckpt-10.safetensors", "victim"})
    std::ofstream(d / f) << "x";
  EXPECT_EQ(numbered_checkpoint(42), "ckpt-42.safetensors");
  {
    CheckpointList list(d.string(), false);
    for (int64_t step : {10, 20, 30}) {
      std::ofstream(d / numbered_checkpoint(step)) << "mine";
      list.add(step, 2);
    }
    ASSERT_EQ(list.entries().size(), 2u);
    EXPECT_EQ(list.entries()[0].step, 20);
  }
  EXPECT_FALSE(fs::exists(d / "ckpt-10.safetensors"));
  for (const char* f : {"ckpt-1000.safetensors", "ckpt-0003.safetensors", "ckpt-20.safetensors", "ckpt-30.safetensors"})
    EXPECT_TRUE(fs::exists(d / f)) << f;
  {  // resumed: the list goes on; a listed name that became a link is dropped, not followed
    fs::remove(d / "ckpt-20.safetensors");
    fs::create_symlink(d / "victim", d / "ckpt-20.safetensors");
    CheckpointList list(d.string(), true);
    std::ofstream(d / "ckpt-40.safetensors") << "mine";
    list.add(40, 1);
    EXPECT_EQ(list.entries().size(), 1u);
  }
  EXPECT_TRUE(fs::exists(d / "victim"));
  EXPECT_TRUE(fs::is_symlink(d / "ckpt-20.safetensors"));
  EXPECT_FALSE(fs::exists(d / "ckpt-30.safetensors"));
  EXPECT_TRUE(fs::exists(d / "ckpt-40.safetensors"));
  EXPECT_TRUE(fs::exists(d / "ckpt-1000.safetensors"));
  for (const char* hostile : {R"({"checkpoints": [{"file": "../victim", "step": 1}]})",
                              R"({"checkpoints": [{"file": "ckpt-0003.safetensors", "step": 3}]})", "[1,2", "{}"}) {
    std::ofstream(d / CheckpointList::kFile) << hostile;
    EXPECT_THROW(CheckpointList(d.string(), true), DataError) << hostile;
  }
}

}  // namespace
}  // namespace gradc
