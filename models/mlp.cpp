// Fully connected MNIST classifiers: softmax regression and the ReLU MLPs of the tutorials.
#include "autodiff/dsl.h"
#include "models/models.h"

namespace gradc {

void build_linear(Model& m, const ModelOptions& o) {
  Tensor x = m.g.input("x", {o.batch, 784});
  Tensor y = m.g.input("y", {o.batch}, DType::I32);
  m.logits = dense(x, 10, "logits");
  m.loss = softmax_xent(m.logits, y);
}

// Seed 004's comparison with softmax regression: ten independent logistic classifiers on the same
// 784 pixels, each trained on "is it digit k" (sigmoid cross-entropy, summed over the classes and
// averaged over the batch); the prediction is the highest of the ten scores.
void build_ova(Model& m, const ModelOptions& o) {
  Tensor x = m.g.input("x", {o.batch, 784});
  Tensor y = m.g.input("y", {o.batch}, DType::I32);
  m.logits = dense(x, 10, "logits");
  m.loss = sigmoid_xent(m.logits, one_hot(y, 10)) * 10.f;  // sigmoid_xent averages over all B·10 entries
  m.head = Head::OneVsAll;
}

// The tutorial DNN: 784-100-100-10 with ReLU.
void build_dnn(Model& m, const ModelOptions& o) {
  Tensor x = m.g.input("x", {o.batch, 784});
  Tensor y = m.g.input("y", {o.batch}, DType::I32);
  Tensor h = relu(dense(x, 100, "hidden1"));
  h = relu(dense(h, 100, "hidden2"));
  m.logits = dense(h, 10, "logits");
  m.loss = softmax_xent(m.logits, y);
}

// Keras mnist_mlp: 3×512 ReLU with dropout 0.2 after each hidden layer.
void build_mlp512(Model& m, const ModelOptions& o) {
  Tensor x = m.g.input("x", {o.batch, 784});
  Tensor y = m.g.input("y", {o.batch}, DType::I32);
  Tensor key = m.g.input("dropout_key", Shape::scalar(), DType::I32);
  Tensor h = x;
  for (int i = 1; i <= 3; ++i) h = dropout(relu(dense(h, 512, "dense" + std::to_string(i))), key, 0.2f, o.training);
  m.logits = dense(h, 10, "logits");
  m.loss = softmax_xent(m.logits, y);
}

// The TF "mnist_deep"-era 784-500-10 classifier.
void build_mlp500(Model& m, const ModelOptions& o) {
  Tensor x = m.g.input("x", {o.batch, 784});
  Tensor y = m.g.input("y", {o.batch}, DType::I32);
  m.logits = dense(relu(dense(x, 500, "layer1")), 10, "layer2");
  m.loss = softmax_xent(m.logits, y);
}

}  // namespace gradc

namespace gradc {

// The flag-defined MLP: dense layers of the given widths, each followed by the activation and
// (when set) dropout, then a 10-way softmax layer.
void build_mlp(Model& m, const ModelOptions& o, const Arch& a) {
  Tensor x = m.g.input("x", {o.batch, 784});
  Tensor y = m.g.input("y", {o.batch}, DType::I32);
  Tensor key = a.dropout > 0 ? m.g.input("dropout_key", Shape::scalar(), DType::I32) : Tensor{};
  Tensor h = x;
  for (size_t i = 0; i < a.hidden.size(); ++i) {
    h = activation(dense(h, a.hidden[i], "dense" + std::to_string(i + 1)), a.activation);
    if (a.dropout > 0) h = dropout(h, key, a.dropout, o.training);
  }
  m.logits = dense(h, 10, "logits");
  m.loss = softmax_xent(m.logits, y);
}

}  // namespace gradc
