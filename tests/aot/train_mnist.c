/* Runs an exported training step (gradc export --train-step) on consecutive batches of the first
 * MNIST images and labels, then saves the weights and optimizer state: the same program is linked
 * for x86-64 and for AArch64 (run under qemu) and the two files compared. Plain C, libc + libm.
 *   train_mnist IMAGES.idx3 LABELS.idx1 STEPS LR WEIGHTS_OUT.bin */
#include <stdio.h>
#include <stdlib.h>

#include "model.h"

static int fail(const char* what, int rc) {
  fprintf(stderr, "train_mnist: %s (%d)\n", what, rc);
  return 1;
}

int main(int argc, char** argv) {
  if (argc != 6) return fail("usage: train_mnist IMAGES.idx3 LABELS.idx1 STEPS LR WEIGHTS_OUT.bin", 0);
  const long steps = atol(argv[3]), n = steps * GRADC_MODEL_BATCH;
  const float lr = strtof(argv[4], NULL);
  FILE* fi = fopen(argv[1], "rb");
  FILE* fl = fopen(argv[2], "rb");
  unsigned char* px = malloc((size_t)n * GRADC_MODEL_INPUT_SIZE);
  unsigned char* lb = malloc((size_t)n);
  float* x = malloc(sizeof(float) * GRADC_MODEL_BATCH * GRADC_MODEL_INPUT_SIZE);
  int32_t y[GRADC_MODEL_BATCH];
  if (!fi || !fl || !px || !lb || !x || steps < 1) return fail("cannot read the data", 0);
  if (fseek(fi, 16, SEEK_SET) || fread(px, GRADC_MODEL_INPUT_SIZE, (size_t)n, fi) != (size_t)n)
    return fail("short images", 0);
  if (fseek(fl, 8, SEEK_SET) || fread(lb, 1, (size_t)n, fl) != (size_t)n) return fail("short labels", 0);
  for (long s = 0; s < steps; ++s) {
    for (long i = 0; i < GRADC_MODEL_BATCH * GRADC_MODEL_INPUT_SIZE; ++i)
      x[i] = (float)px[s * GRADC_MODEL_BATCH * GRADC_MODEL_INPUT_SIZE + i] / 255.f;
    for (int i = 0; i < GRADC_MODEL_BATCH; ++i) y[i] = lb[s * GRADC_MODEL_BATCH + i];
    float loss = 0;
    const int rc = gradc_model_train_step(x, y, lr, (int32_t)s, &loss);
    if (rc != 0) return fail("train_step failed", rc);
    printf("step %ld: loss %.6f\n", s + 1, loss);
  }
  const int rc = gradc_model_save_weights(argv[5]);
  if (rc != 0) return fail("save_weights failed", rc);
  fclose(fi);
  fclose(fl);
  free(px);
  free(lb);
  free(x);
  return 0;
}
