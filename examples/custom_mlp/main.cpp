// Your own model through gradc's Trainer: a 784-64-32-10 tanh MLP trained with Adam on MNIST,
// with a validation split, early stopping and the best weights kept — then its test accuracy.
//   custom_mlp DATA_DIR [EPOCHS [REPORT_DIR]]   (DATA_DIR holds train-/t10k-*-ubyte[.gz], e.g. data/mnist)
#include <autodiff/dsl.h>
#include <models/callbacks.h>
#include <models/summary.h>
#include <models/trainer.h>
#include <tools/report.h>

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
  if (argc < 2) return std::fprintf(stderr, "usage: custom_mlp DATA_DIR [EPOCHS [REPORT_DIR]]\n"), 2;
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
  std::shared_ptr<cli::Report> report;  // optional: charts + index.html for this run
  if (argc > 3) {
    cli::RunInfo info{"custom_mlp: 784-64-32-10 tanh", "custom_mlp", "", {{"optimizer", "adam, lr 1e-3"}}};
    info.layers = summary(trainer.graph());
    trainer.add_callback(report = std::make_shared<cli::Report>(argv[3], info));
  }
  const FitResult fit = trainer.fit(train, val);
  const Metrics m = trainer.evaluate(test);
  if (report) report->finish({fit, trainer.evaluate(val), m, trainer.weights(true), &train});
  std::printf("test accuracy %.4f  log-loss %.4f  (%lld images)\n", m.accuracy(), m.log_loss(),
              static_cast<long long>(m.count));
  return m.accuracy() > 0.9 ? 0 : 1;  // the example is also a test: it must learn
}
