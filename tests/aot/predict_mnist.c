/* Runs an exported model (gradc export) on the first N images of an MNIST IDX file and writes the
 * logits as raw f32: what `gradc eval --logits` writes for the same images. Plain C: links only
 * model.o, libc and libm (and libomp for an object exported with --threads > 1).
 *   predict_mnist IMAGES.idx3 N LOGITS.f32 [WEIGHTS.bin or ""] [THREADS] */
#include <stdio.h>
#include <stdlib.h>

#include "model.h"

static int fail(const char* what) {
  fprintf(stderr, "predict_mnist: %s\n", what);
  return 1;
}

int main(int argc, char** argv) {
  if (argc < 4) return fail("usage: predict_mnist IMAGES.idx3 N LOGITS.f32 [WEIGHTS.bin] [THREADS]");
  const long n = atol(argv[2]);
  FILE* f = fopen(argv[1], "rb");
  if (!f || n < 1) return fail("cannot open the images or bad N");
  unsigned char* px = malloc((size_t)n * 784);
  float* x = malloc((size_t)n * 784 * sizeof(float));
  float* out = malloc((size_t)n * GRADC_MODEL_OUTPUT_SIZE * sizeof(float));
  if (!px || !x || !out) return fail("out of memory");
  if (fseek(f, 16, SEEK_SET) != 0 || fread(px, 784, (size_t)n, f) != (size_t)n) return fail("short image file");
  fclose(f);
  for (long i = 0; i < n * 784; ++i) x[i] = (float)px[i] / 255.f; /* as gradc loads MNIST */
  int rc = argc > 4 && argv[4][0] ? gradc_model_load_weights(argv[4]) : 0;
  if (rc != 0) {
    fprintf(stderr, "predict_mnist: load_weights returned %d\n", rc);
    return 1;
  }
  if (argc > 5 && gradc_model_set_threads(atoi(argv[5])) != atoi(argv[5])) return fail("set_threads refused");
  rc = gradc_model_predict(x, n, out);
  if (rc != 0) {
    fprintf(stderr, "predict_mnist: predict returned %d\n", rc);
    return 1;
  }
  FILE* o = fopen(argv[3], "wb");
  if (!o || fwrite(out, sizeof(float) * GRADC_MODEL_OUTPUT_SIZE, (size_t)n, o) != (size_t)n || fclose(o) != 0)
    return fail("cannot write the logits");
  free(px);
  free(x);
  free(out);
  return 0;
}
