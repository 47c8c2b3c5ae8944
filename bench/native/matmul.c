// The native reference for issue 16: the LSTM gate product of bench/kernel-batch.ts in C, built by bench/native.ts
// with gcc -O3 -march=native -ffast-math (AVX2 + FMA here). Same shapes as seqcast's: out (B, G) = W (G, K) · x (B, K)
// + bias, G = 4H gate rows, K = X + H (136 at X = 8, H = 128).
//   single   B = 1: a matrix-vector product, 4 rows at a time, 8-wide FMA along k
//   tiled    B = 64: a register tile of 4 rows × 3 streams (12 ymm accumulators), the weight rows reused by every
//            tile of streams while they sit in L1
// Usage: matmul <single|tiled> <H> <X> <calls> <repeats>; prints one line per repeat: nanoseconds per call.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef float v8 __attribute__((vector_size(32)));

static inline float hsum(v8 v) {
  float s = 0;
  for (int i = 0; i < 8; i++) s += v[i];
  return s;
}

static inline v8 load8(const float *p) { v8 v; memcpy(&v, p, sizeof v); return v; }

/** out[b, r] = bias[r] + W[r, :] · x[b, :]; k a multiple of 8, rows a multiple of 4. */
static void gemm(float *out, const float *W, const float *x, const float *bias, int batch, int rows, int k) {
  int b = 0;
  for (; b + 3 <= batch; b += 3) {
    const float *x0 = x + (size_t)b * k, *x1 = x0 + k, *x2 = x1 + k;
    for (int r = 0; r < rows; r += 4) {
      v8 a[4][3] = {{{0}}};
      for (int j = 0; j < k; j += 8) {
        v8 u0 = load8(x0 + j), u1 = load8(x1 + j), u2 = load8(x2 + j);
        for (int i = 0; i < 4; i++) {
          v8 w = load8(W + (size_t)(r + i) * k + j);
          a[i][0] += w * u0; a[i][1] += w * u1; a[i][2] += w * u2;
        }
      }
      for (int i = 0; i < 4; i++) {
        out[(size_t)b * rows + r + i] = bias[r + i] + hsum(a[i][0]);
        out[(size_t)(b + 1) * rows + r + i] = bias[r + i] + hsum(a[i][1]);
        out[(size_t)(b + 2) * rows + r + i] = bias[r + i] + hsum(a[i][2]);
      }
    }
  }
  for (; b < batch; b++) {
    const float *x0 = x + (size_t)b * k;
    for (int r = 0; r < rows; r += 4) {
      v8 a[4] = {{0}};
      for (int j = 0; j < k; j += 8) {
        v8 u = load8(x0 + j);
        for (int i = 0; i < 4; i++) a[i] += load8(W + (size_t)(r + i) * k + j) * u;
      }
      for (int i = 0; i < 4; i++) out[(size_t)b * rows + r + i] = bias[r + i] + hsum(a[i]);
    }
  }
}

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc != 6) { fprintf(stderr, "usage: matmul <single|tiled> <H> <X> <calls> <repeats>\n"); return 2; }
  int batch = strcmp(argv[1], "tiled") == 0 ? 64 : 1;
  int H = atoi(argv[2]), X = atoi(argv[3]), calls = atoi(argv[4]), repeats = atoi(argv[5]);
  int rows = 4 * H, k = (X + H + 7) & ~7;
  float *W = aligned_alloc(64, sizeof(float) * rows * k), *x = aligned_alloc(64, sizeof(float) * 64 * k);
  float *out = aligned_alloc(64, sizeof(float) * 64 * rows), *bias = aligned_alloc(64, sizeof(float) * rows);
  for (int i = 0; i < rows * k; i++) W[i] = (float)((i * 7919 % 1000) - 500) * 1e-4f;
  for (int i = 0; i < 64 * k; i++) x[i] = (float)((i * 104729 % 1000) - 500) * 1e-3f;
  for (int i = 0; i < rows; i++) bias[i] = 0.01f * (float)i;
  double sink = 0;
  for (int i = 0; i < calls; i++) { gemm(out, W, x, bias, batch, rows, k); sink += out[0]; } // warm-up
  for (int rep = 0; rep < repeats; rep++) {
    double t0 = now_ns();
    for (int i = 0; i < calls; i++) { gemm(out, W, x, bias, batch, rows, k); sink += out[i % rows]; x[i % k] += 1e-7f; }
    printf("%.1f\n", (now_ns() - t0) / calls);
  }
  fprintf(stderr, "sink %g\n", sink);
  return 0;
}
