/* seqcast-host: the seqcast kernel (build/seqcast-scalar.wasm, translated to C by wabt's wasm2c) driven from C
 * through the ABI of docs/abi.md, with no JavaScript anywhere. docs/embedding.md walks through this file.
 *
 *   seqcast-host MODEL.safetensors FRAMES.csv
 *   seqcast-host --time CALLS BATCH MODEL.safetensors FRAMES.csv   (bench/edge.ts: µs per stepBatch of BATCH slots)
 *
 * Reads a seqcast model, configures the kernel, writes its parameters, opens two stream slots A and B, and steps
 * both with one stepBatch call per CSV row: A reads the rows in order, B in reverse. After the first half of the
 * rows it snapshots A (state and position); at the end it restores A from the snapshot and steps A alone through the
 * second half again. Every output is printed as the bits of its f32 (8 hex digits), so two hosts can be compared
 * exactly:
 *
 *   step <t> A <bits>...      step <t> B <bits>...      replay <t> A <bits>...
 *
 * A CSV row holds one number per input channel (frame models) or one token id (token models); a first row that
 * does not start with a number is a header. Frames are fed as (x − mean) / std when the model has a normalizer;
 * outputs are the head's raw outputs, in model units (Stream.step's `raw: true`). */
#include <errno.h>
#include <math.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"
#include "seqcast.h" /* made by wasm2c: Z_seqcast_instance_t and one Z_seqcastZ_<export> function per export */
#include "wasm-rt-impl.h" /* wabt's runtime: wasm_rt_impl_try, to catch a trap */

/* ── the kernel instance ────────────────────────────────────────────────────────────────────────────────────── */

static Z_seqcast_instance_t kernel;

/* Byte offset `ptr` of linear memory as a host pointer. Read `data` afresh after every call that may grow memory:
 * growing can move it. Wasm memory is little-endian, as the hosts this example targets (x86-64, arm64). */
static uint8_t *at(uint32_t ptr) { return Z_seqcastZ_memory(&kernel)->data + ptr; }

static const char *KERNEL_ERRORS[] = {
  "ok", "not configured", "already configured", "bad configuration", "out of memory", "bad slot",
  "bad batch size", "duplicate slot in batch", "token id out of range", "non-finite input", "not trainable",
  "non-finite loss", "non-finite gradient", "no optimizer configured",
};

/* Exits with the kernel's error message if `code` (an i32 return value) is negative. */
static int32_t check(uint32_t result, const char *call) {
  int32_t code = (int32_t)result;
  if (code >= 0) return code;
  const char *meaning = -code < (int32_t)(sizeof KERNEL_ERRORS / sizeof *KERNEL_ERRORS) ? KERNEL_ERRORS[-code] : "unknown error";
  fprintf(stderr, "seqcast-host: %s failed: %s (%d)\n", call, meaning, code);
  exit(1);
}

/* ── the architecture, from tensor names and shapes (docs/model-format.md) ──────────────────────────────────── */

enum { CELL_RNN_TANH = 0, CELL_LSTM = 1, CELL_GRU = 2, CELL_RNN_RELU = 3 };
enum { POSITIONAL_SINUSOIDAL = 0, POSITIONAL_NONE = 1, POSITIONAL_ALIBI = 2 };
static const char *CELL_PREFIX[] = { "rnn", "lstm", "gru", "rnn" }; /* tensor names: both RNNs are "rnn." */

typedef struct {
  const char *kind;                  /* "recurrent", "transformer" or "hybrid" */
  int cell, layers;                  /* cell = -1: no recurrent stack */
  int input, vocab, hidden, output;  /* input: frame width X, or the embedding width E for token models */
  int width, heads, mlp, blocks, window, sinks;
  int positional;                    /* POSITIONAL_*: -1 for the kind's default (a file without the key) */
  float *mean, *std;                 /* normalizer (input floats each), or NULL */
} architecture;

static void die(const char *format, const char *detail) {
  fprintf(stderr, "seqcast-host: ");
  fprintf(stderr, format, detail);
  fputc('\n', stderr);
  exit(1);
}

static const tensor *find(const model_file *file, const char *format, const char *prefix, int index) {
  char name[128];
  snprintf(name, sizeof name, format, prefix, index);
  return model_file_tensor(file, name);
}

static int metadata_int(const model_file *file, const char *key, int fallback) {
  const json_value *v = json_get(&file->seqcast, key);
  if (!v) return fallback;
  if (v->kind != JSON_NUMBER || v->number != floor(v->number) || v->number < 0 || v->number > 65536) die("metadata \"%s\" is not an integer from 0 to 65536", key);
  return (int)v->number;
}

static architecture infer(const model_file *file) {
  architecture a = { .cell = -1, .positional = -1 };
  for (int c = 0; c < 3; c++) if (find(file, "%s.weight_ih_l%d", CELL_PREFIX[c], 0)) a.cell = c;
  const tensor *embed = model_file_tensor(file, "embed.weight"), *proj = model_file_tensor(file, "proj_in.weight");
  if (embed) { a.vocab = (int)embed->shape[0]; a.input = (int)embed->shape[1]; }
  if (a.cell >= 0) {
    while (find(file, "%s.weight_ih_l%d", CELL_PREFIX[a.cell], a.layers)) a.layers++;
    a.hidden = (int)find(file, "%s.weight_hh_l%d", CELL_PREFIX[a.cell], 0)->shape[1];
    if (!embed) a.input = (int)find(file, "%s.weight_ih_l%d", CELL_PREFIX[a.cell], 0)->shape[1];
  }
  while (find(file, "%s%d.ln1.weight", "blocks.", a.blocks)) a.blocks++;
  if (a.blocks > 0) {
    const tensor *ln_f = model_file_tensor(file, "ln_f.weight"), *fc1 = find(file, "%s%d.fc1.weight", "blocks.", 0);
    if (!ln_f || !fc1) die("%s", "an attention model needs ln_f.weight and blocks.0.fc1.weight");
    a.width = (int)ln_f->shape[0];
    a.mlp = (int)fc1->shape[0];
    if (proj && !embed) a.input = (int)proj->shape[1];
    if (!embed && !proj && a.cell < 0) die("%s", "a transformer needs embed.weight or proj_in.weight");
    a.heads = metadata_int(file, "heads", 0);
    a.window = metadata_int(file, "window", 0);
    a.sinks = metadata_int(file, "sinks", 0);
    if (a.heads < 1 || a.window < 1) die("%s", "an attention model needs heads and window in its seqcast metadata");
    /* how attention knows order (docs/model-format.md, "Positions"): a file without the key keeps the kind's default */
    const json_value *positional = json_get(&file->seqcast, "positional");
    if (positional) {
      static const char *SCHEMES[] = { "sinusoidal", "none", "alibi" };
      for (int p = 0; p < 3; p++) if (positional->kind == JSON_STRING && strcmp(positional->string, SCHEMES[p]) == 0) a.positional = p;
      if (a.positional < 0) die("%s", "metadata \"positional\" must be \"alibi\", \"sinusoidal\" or \"none\"");
    }
  } else if (a.cell < 0) {
    die("%s", "no rnn, lstm or gru weights and no attention blocks: not a seqcast model");
  }
  /* a relu nn.RNN has a tanh one's tensors: only the metadata tells them apart (docs/model-format.md) */
  const json_value *nonlinearity = json_get(&file->seqcast, "nonlinearity");
  if (nonlinearity) {
    int relu = nonlinearity->kind == JSON_STRING && strcmp(nonlinearity->string, "relu") == 0;
    int tanh_ = nonlinearity->kind == JSON_STRING && strcmp(nonlinearity->string, "tanh") == 0;
    if ((!relu && !tanh_) || a.cell != CELL_RNN_TANH) die("%s", "metadata \"nonlinearity\" must be \"tanh\" or \"relu\", on an rnn model");
    if (relu) a.cell = CELL_RNN_RELU;
  }
  a.kind = a.blocks == 0 ? "recurrent" : a.cell >= 0 ? "hybrid" : "transformer";
  const tensor *head = model_file_tensor(file, "head.weight");
  a.output = head ? (int)head->shape[0] : 0;
  const json_value *normalizer = json_get(&file->seqcast, "normalizer");
  if (normalizer && !a.vocab) {
    const json_value *mean = json_get(normalizer, "mean"), *std = json_get(normalizer, "std");
    if (!mean || !std || mean->kind != JSON_ARRAY || std->kind != JSON_ARRAY || (int)mean->count != a.input || (int)std->count != a.input) {
      die("%s", "the normalizer needs one mean and one std per input channel");
    }
    a.mean = malloc(sizeof(float) * (size_t)a.input);
    a.std = malloc(sizeof(float) * (size_t)a.input);
    for (int j = 0; j < a.input; j++) { a.mean[j] = (float)mean->items[j].number; a.std[j] = (float)std->items[j].number; }
  }
  return a;
}

/* ── parameters: the kernel's block holds them in docs/abi.md's order ──────────────────────────────────────── */

static const char *BLOCK_TENSORS[] = {
  "ln1.weight", "ln1.bias", "attn.in_proj_weight", "attn.in_proj_bias", "attn.out_proj.weight", "attn.out_proj.bias",
  "ln2.weight", "ln2.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias",
};

/* Copies tensor `name` into kernel parameter `index`, checking that the two agree in length. */
static void write_param(const model_file *file, uint32_t index, const char *name) {
  const tensor *t = model_file_tensor(file, name);
  if (!t) die("the model has no tensor \"%s\"", name);
  uint32_t floats = Z_seqcastZ_getParamLength(&kernel, index);
  if (floats != t->floats) die("tensor \"%s\" does not have the length the kernel laid out", name);
  memcpy(at(Z_seqcastZ_getParamPtr(&kernel, index)), t->data, sizeof(float) * t->floats);
}

static void write_params(const model_file *file, const architecture *a) {
  char name[128];
  uint32_t index = 0;
  if (a->vocab) write_param(file, index++, "embed.weight");
  if (!a->vocab && a->cell < 0) { write_param(file, index++, "proj_in.weight"); write_param(file, index++, "proj_in.bias"); }
  for (int l = 0; l < a->layers; l++) {
    static const char *PARTS[] = { "weight_ih", "weight_hh", "bias_ih", "bias_hh" };
    for (int p = 0; p < 4; p++) {
      snprintf(name, sizeof name, "%s.%s_l%d", CELL_PREFIX[a->cell], PARTS[p], l);
      write_param(file, index++, name);
    }
  }
  for (int b = 0; b < a->blocks; b++) {
    for (int p = 0; p < 12; p++) {
      snprintf(name, sizeof name, "blocks.%d.%s", b, BLOCK_TENSORS[p]);
      write_param(file, index++, name);
    }
  }
  if (a->blocks) { write_param(file, index++, "ln_f.weight"); write_param(file, index++, "ln_f.bias"); }
  if (a->output) { write_param(file, index++, "head.weight"); write_param(file, index++, "head.bias"); }
  if (index != Z_seqcastZ_getParamCount(&kernel) || index != file->tensor_count) {
    die("%s", "the model's tensors are not exactly the ones its architecture needs");
  }
  check(Z_seqcastZ_commitParams(&kernel), "commitParams");
}

static void configure(const architecture *a, uint32_t batch) {
  uint32_t result;
  if (strcmp(a->kind, "recurrent") == 0) {
    result = Z_seqcastZ_configure(&kernel, (uint32_t)a->cell, (uint32_t)a->layers, (uint32_t)a->input, (uint32_t)a->vocab,
                                  (uint32_t)a->hidden, (uint32_t)a->output, batch, batch);
  } else if (strcmp(a->kind, "transformer") == 0) {
    result = Z_seqcastZ_configureTransformer(&kernel, (uint32_t)a->input, (uint32_t)a->vocab, (uint32_t)a->width, (uint32_t)a->heads,
                                             (uint32_t)a->mlp, (uint32_t)a->blocks, (uint32_t)a->window, (uint32_t)a->sinks,
                                             (uint32_t)a->output, batch, batch);
  } else {
    result = Z_seqcastZ_configureHybrid(&kernel, (uint32_t)a->cell, (uint32_t)a->layers, (uint32_t)a->input, (uint32_t)a->vocab,
                                        (uint32_t)a->hidden, (uint32_t)a->heads, (uint32_t)a->mlp, (uint32_t)a->blocks,
                                        (uint32_t)a->window, (uint32_t)a->sinks, (uint32_t)a->output, batch, batch);
  }
  check(result, "configure");
  if (a->positional >= 0) check(Z_seqcastZ_configurePositional(&kernel, (uint32_t)a->positional), "configurePositional");
}

/* ── frames from a CSV ──────────────────────────────────────────────────────────────────────────────────────── */

typedef struct { double *values; int rows, columns; } csv_rows;

static csv_rows read_csv(const char *path, int columns) {
  FILE *f = fopen(path, "r");
  if (!f) die("cannot open %s", path);
  csv_rows csv = { NULL, 0, columns };
  int capacity = 0;
  char line[65536];
  for (int line_number = 1; fgets(line, sizeof line, f); line_number++) {
    char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '\n' || *p == '\r' || *p == 0) continue;
    if (line_number == 1 && !strchr("+-.0123456789", *p)) continue; /* a header */
    if (csv.rows == capacity) {
      capacity = capacity ? 2 * capacity : 256;
      csv.values = realloc(csv.values, sizeof(double) * (size_t)capacity * (size_t)columns);
      if (!csv.values) die("%s", "out of memory");
    }
    for (int j = 0; j < columns; j++) {
      char *end;
      errno = 0;
      double value = strtod(p, &end);
      if (end == p || errno == ERANGE) {
        fprintf(stderr, "seqcast-host: %s line %d: column %d is not a number (the model reads %d per row)\n", path, line_number, j + 1, columns);
        exit(1);
      }
      csv.values[(size_t)csv.rows * (size_t)columns + (size_t)j] = value;
      p = end;
      while (*p == ' ' || *p == '\t') p++;
      if (j + 1 < columns && *p++ != ',') {
        fprintf(stderr, "seqcast-host: %s line %d: %d values, the model reads %d per row\n", path, line_number, j + 1, columns);
        exit(1);
      }
    }
    csv.rows++;
  }
  fclose(f);
  return csv;
}

/* ── stepping ───────────────────────────────────────────────────────────────────────────────────────────────── */

/* Writes row `row` of the CSV as batch entry `entry`'s input (a frame, normalized, or a token id). */
static void write_input(const architecture *a, const csv_rows *csv, int entry, int row) {
  const double *x = csv->values + (size_t)row * (size_t)csv->columns;
  if (a->vocab) {
    int32_t token = (int32_t)x[0];
    memcpy(at(Z_seqcastZ_getIoTokensPtr(&kernel)) + 4 * (size_t)entry, &token, 4);
    return;
  }
  float *frame = (float *)at(Z_seqcastZ_getIoInputPtr(&kernel)) + (size_t)entry * (size_t)a->input;
  for (int j = 0; j < a->input; j++) frame[j] = a->mean ? (float)((x[j] - (double)a->mean[j]) / (double)a->std[j]) : (float)x[j];
}

static void print_output(const char *phase, int t, const char *stream, int entry, uint32_t outputs) {
  const uint8_t *out = at(Z_seqcastZ_getIoOutputPtr(&kernel)) + 4 * (size_t)entry * outputs;
  printf("%s %d %s", phase, t, stream);
  for (uint32_t k = 0; k < outputs; k++) {
    uint32_t bits;
    memcpy(&bits, out + 4 * k, 4);
    printf(" %08x", bits);
  }
  putchar('\n');
}

/* Steps the `n` slots of `slots` by one position, entry b reading CSV row rows[b]. */
static void step(const architecture *a, const csv_rows *csv, const int32_t *slots, const int *rows, int n) {
  memcpy(at(Z_seqcastZ_getIoSlotsPtr(&kernel)), slots, 4 * (size_t)n);
  for (int b = 0; b < n; b++) write_input(a, csv, b, rows[b]);
  uint32_t code = Z_seqcastZ_stepBatch(&kernel, (uint32_t)n);
  if ((int32_t)code < 0) fprintf(stderr, "seqcast-host: batch entry %d was refused\n", (int32_t)Z_seqcastZ_getErrorIndex(&kernel));
  check(code, "stepBatch");
}

/* Times `calls` stepBatch calls of `batch` slots (after a tenth as many to warm up); prints µs per call. */
static void time_steps(const architecture *a, const csv_rows *csv, int calls, int batch) {
  int32_t *slots = malloc(sizeof(int32_t) * (size_t)batch);
  int *rows = malloc(sizeof(int) * (size_t)batch);
  for (int b = 0; b < batch; b++) slots[b] = check(Z_seqcastZ_slotOpen(&kernel), "slotOpen");
  struct timespec start = { 0 }, end;
  for (int call = -calls / 10 - 1; call < calls; call++) {
    if (call == 0) clock_gettime(CLOCK_MONOTONIC, &start);
    for (int b = 0; b < batch; b++) rows[b] = (call + calls + b) % csv->rows;
    step(a, csv, slots, rows, batch);
  }
  clock_gettime(CLOCK_MONOTONIC, &end);
  double us = ((double)(end.tv_sec - start.tv_sec) * 1e9 + (double)(end.tv_nsec - start.tv_nsec)) / 1e3 / calls;
  printf("stepBatch(%d): %.3f us per call over %d calls\n", batch, us, calls);
  free(slots);
  free(rows);
}

int main(int argc, char **argv) {
  int calls = 0, batch = 2;
  if (argc == 6 && strcmp(argv[1], "--time") == 0) {
    calls = atoi(argv[2]);
    batch = atoi(argv[3]);
    argv += 3;
    argc -= 3;
    if (calls < 1 || batch < 1) die("%s", "--time takes a number of calls and a batch size, both at least 1");
  }
  if (argc != 3) {
    fprintf(stderr, "usage: seqcast-host MODEL.safetensors FRAMES.csv\n       seqcast-host --time CALLS BATCH MODEL.safetensors FRAMES.csv\n");
    return 2;
  }
  model_file file;
  char error[512];
  if (model_file_read(argv[1], &file, error, sizeof error)) { fprintf(stderr, "seqcast-host: %s\n", error); return 1; }
  architecture a = infer(&file);
  csv_rows csv = read_csv(argv[2], a.vocab ? 1 : a.input);
  if (csv.rows < 2) die("%s holds fewer than two rows", argv[2]);

  wasm_rt_init();
  Z_seqcast_init_module();
  Z_seqcast_instantiate(&kernel);
  wasm_rt_trap_t trap = wasm_rt_impl_try();
  if (trap != WASM_RT_TRAP_NONE) die("the kernel trapped: %s", wasm_rt_strerror(trap));
  if (Z_seqcastZ_abiVersion(&kernel) != 1) die("%s", "the kernel's ABI version is not 1, the one this host speaks");

  configure(&a, (uint32_t)batch);
  write_params(&file, &a);
  if (calls > 0) {
    time_steps(&a, &csv, calls, batch);
    return 0;
  }
  const uint32_t outputs = Z_seqcastZ_getOutputSize(&kernel);
  const int32_t A = check(Z_seqcastZ_slotOpen(&kernel), "slotOpen"), B = check(Z_seqcastZ_slotOpen(&kernel), "slotOpen");
  printf("# %s model: cell %d, %d layers, input %d, vocab %d, hidden %d, width %d, heads %d, blocks %d, window %d, sinks %d, outputs %u\n",
         a.kind, a.cell, a.layers, a.input, a.vocab, a.hidden, a.width, a.heads, a.blocks, a.window, a.sinks, outputs);

  /* both streams in one batch per row; A's snapshot after the first half */
  const int half = csv.rows / 2;
  const uint32_t state_floats = Z_seqcastZ_slotStateLength(&kernel);
  float *snapshot = malloc(sizeof(float) * state_floats);
  double snapshot_position = 0;
  for (int t = 0; t < csv.rows; t++) {
    if (t == half) {
      /* the slot's state pointer can move when a call grows memory: read it just before use */
      memcpy(snapshot, at(Z_seqcastZ_slotStatePtr(&kernel, (uint32_t)A)), sizeof(float) * state_floats);
      snapshot_position = Z_seqcastZ_slotPosition(&kernel, (uint32_t)A);
    }
    const int32_t slots[2] = { A, B };
    const int rows[2] = { t, csv.rows - 1 - t };
    step(&a, &csv, slots, rows, 2);
    print_output("step", t, "A", 0, outputs);
    print_output("step", t, "B", 1, outputs);
  }

  /* restore A and step it alone through the second half again: the same outputs, whatever the batch */
  memcpy(at(Z_seqcastZ_slotStatePtr(&kernel, (uint32_t)A)), snapshot, sizeof(float) * state_floats);
  check(Z_seqcastZ_slotSetPosition(&kernel, (uint32_t)A, snapshot_position), "slotSetPosition");
  for (int t = half; t < csv.rows; t++) {
    step(&a, &csv, &A, &t, 1);
    print_output("replay", t, "A", 0, outputs);
  }

  Z_seqcast_free(&kernel);
  wasm_rt_free();
  free(snapshot);
  free(csv.values);
  free(a.mean);
  free(a.std);
  model_file_free(&file);
  return 0;
}
