// Your own model through gradc's Trainer: a 784-64-32-10 tanh MLP trained with Adam on MNIST,
// with a validation split, early stopping and the best weights kept — then its test accuracy.
//   custom_mlp DATA_DIR [EPOCHS]    (DATA_DIR holds train-/t10k-*-ubyte[.gz], e.g. data/mnist)
#include <autodiff/dsl.h>
#include <models/callbacks.h>
#include <models/trainer.h>

#include <cstdio>
#include <cstdlib>

using namespace gradc;

void tanh_mlp(Model& m, const ModelOptions& o) {  // called per batch size: training and evaluation
  Tensor x = m.g.input("x", {o.batch, 784});
  Tensor y = m.g.input("y", {o.batch}, DType::I32);
  Tensor h = tanh(dense(x, 64, "hidden1"));
  h = tanh(dense(h, 32, "hidden2"));
  m.logits = dense(h, 10, "out");
  m.loss = softmax_xent(m.logits, y);
}

int main(int argc, char** argv) {
  if (argc < 2) return std::fprintf(stderr, "usage: custom_mlp DATA_DIR [EPOCHS]\n"), 2;
  const Dataset all = load_mnist_dir(argv[1], "train"), test = load_mnist_dir(argv[1], "test");
  const Dataset train = slice(all, 0, 54000), val = slice(all, 54000, 6000);
  FitConfig cfg;
  cfg.batch = 64;
  cfg.epochs = argc > 2 ? std::atoi(argv[2]) : 2;
  cfg.opt.kind = OptKind::Adam;
  cfg.lr = 1e-3f;
  Trainer trainer("tanh_mlp", tanh_mlp, cfg);
  trainer.add_callback(std::make_shared<ProgressLogger>(false));
  trainer.add_callback(std::make_shared<BestWeights>());  // keeps the lowest val_loss's weights
  trainer.add_callback(std::make_shared<EarlyStopping>("val_loss", 2));
  trainer.fit(train, val);
  const Metrics m = trainer.evaluate(test);
  std::printf("test accuracy %.4f  log-loss %.4f  (%lld images)\n", m.accuracy(), m.log_loss(),
              static_cast<long long>(m.count));
  return m.accuracy() > 0.9 ? 0 : 1;  // the example is also a test: it must learn
}
