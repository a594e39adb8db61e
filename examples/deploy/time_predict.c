/* Latency of an exported model: the median over 31 rounds of predict() on n examples (random
 * pixels; the result is not looked at), printed as µs per call and per example.
 *   cc -O2 -Iout time_predict.c out/model.o -lm -o time_predict && ./time_predict N [WEIGHTS.bin] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "model.h"

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp(const void* a, const void* b) {
  const double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

int main(int argc, char** argv) {
  const long n = argc > 1 ? atol(argv[1]) : 1;
  float* x = malloc(sizeof(float) * GRADC_MODEL_INPUT_SIZE * (size_t)n);
  float* out = malloc(sizeof(float) * GRADC_MODEL_OUTPUT_SIZE * (size_t)n);
  if (n < 1 || !x || !out || (argc > 2 && gradc_model_load_weights(argv[2]) != 0)) return 2;
  for (long i = 0; i < GRADC_MODEL_INPUT_SIZE * n; ++i) x[i] = (float)(rand() % 256) / 255.f;
  double t[31];
  const int inner = n >= 100 ? 20 : 2000;
  for (int r = 0; r < 31; ++r) {
    const double a = now_us();
    for (int i = 0; i < inner; ++i)
      if (gradc_model_predict(x, n, out) != 0) return 1;
    t[r] = (now_us() - a) / inner;
  }
  qsort(t, 31, sizeof t[0], cmp);
  printf("n=%ld batch=%d: %.2f us per call, %.3f us per example (median of 31; range %.2f-%.2f)\n", n,
         GRADC_MODEL_BATCH, t[15], t[15] / n, t[0], t[30]);
  free(x);
  free(out);
  return 0;
}
