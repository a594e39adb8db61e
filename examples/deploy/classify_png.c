/* Classifies a 28x28 grayscale PNG (a light digit on black, as MNIST) with a model exported by
 *   gradc export --checkpoint CKPT -o out --embed-weights
 * and built with: cc -Iout classify_png.c out/model.o -lpng -lm -o classify */
#include <png.h>
#include <stdio.h>

#include "model.h"

int main(int argc, char** argv) {
  png_image im = {.version = PNG_IMAGE_VERSION};
  unsigned char px[28 * 28];
  float x[GRADC_MODEL_INPUT_SIZE], logits[GRADC_MODEL_OUTPUT_SIZE];
  if (argc != 2 || !png_image_begin_read_from_file(&im, argv[1])) return 2;
  im.format = PNG_FORMAT_GRAY;
  if (im.width != 28 || im.height != 28 || !png_image_finish_read(&im, NULL, px, 28, NULL)) return 2;
  for (int i = 0; i < 28 * 28; ++i) x[i] = px[i] / 255.f; /* as gradc reads MNIST */
  if (gradc_model_predict(x, 1, logits) != 0) return 1;
  int best = 0;
  for (int k = 1; k < GRADC_MODEL_OUTPUT_SIZE; ++k)
    if (logits[k] > logits[best]) best = k;
  printf("%s: %d\n", argv[1], best);
  return 0;
}
