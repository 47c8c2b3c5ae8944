/* Reads a seqcast model file: the safetensors layout (u64 little-endian header length N, N bytes of JSON, then the
 * tensor bytes) and the small JSON reader its header needs. See safetensors.h and docs/model-format.md. */
#include "safetensors.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ── JSON ───────────────────────────────────────────────────────────────────────────────────────────────────── */

typedef struct {
  const char *text;
  size_t at, length;
  char *error;
  size_t error_size;
  int depth;
} json_reader;

static int fail(json_reader *r, const char *what) {
  snprintf(r->error, r->error_size, "%s at byte %zu of the JSON", what, r->at);
  return -1;
}

static void skip_space(json_reader *r) {
  while (r->at < r->length && strchr(" \t\r\n", r->text[r->at]) && r->text[r->at]) r->at++;
}

static int literal(json_reader *r, const char *word) {
  size_t n = strlen(word);
  if (r->length - r->at < n || memcmp(r->text + r->at, word, n) != 0) return fail(r, "unexpected character");
  r->at += n;
  return 0;
}

/* Appends code point `c` to out as UTF-8; out has room for 4 more bytes. */
static size_t put_utf8(char *out, unsigned c) {
  if (c < 0x80) { out[0] = (char)c; return 1; }
  if (c < 0x800) { out[0] = (char)(0xc0 | c >> 6); out[1] = (char)(0x80 | (c & 0x3f)); return 2; }
  if (c < 0x10000) {
    out[0] = (char)(0xe0 | c >> 12); out[1] = (char)(0x80 | ((c >> 6) & 0x3f)); out[2] = (char)(0x80 | (c & 0x3f));
    return 3;
  }
  out[0] = (char)(0xf0 | c >> 18); out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
  out[2] = (char)(0x80 | ((c >> 6) & 0x3f)); out[3] = (char)(0x80 | (c & 0x3f));
  return 4;
}

static int hex4(json_reader *r, unsigned *value) {
  *value = 0;
  for (int i = 0; i < 4; i++, r->at++) {
    char c = r->at < r->length ? r->text[r->at] : 0;
    int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (digit < 0) return fail(r, "bad \\u escape");
    *value = *value << 4 | (unsigned)digit;
  }
  return 0;
}

/* A string starting at its opening quote; *out is malloc'd, escapes resolved (an output never outgrows its input). */
static int read_string(json_reader *r, char **out) {
  r->at++; /* the quote */
  char *s = malloc(r->length - r->at + 1);
  size_t n = 0;
  if (!s) return fail(r, "out of memory");
  while (1) {
    if (r->at >= r->length) { free(s); return fail(r, "unterminated string"); }
    char c = r->text[r->at++];
    if (c == '"') break;
    if ((unsigned char)c < 0x20) { free(s); return fail(r, "control character in a string"); }
    if (c != '\\') { s[n++] = c; continue; }
    char e = r->at < r->length ? r->text[r->at++] : 0;
    const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
    const char *hit = e ? strchr(from, e) : NULL;
    if (hit) { s[n++] = to[hit - from]; continue; }
    if (e != 'u') { free(s); return fail(r, "bad escape"); }
    unsigned c1, c2;
    if (hex4(r, &c1)) { free(s); return -1; }
    if (c1 >= 0xd800 && c1 < 0xdc00 && r->at + 1 < r->length && r->text[r->at] == '\\' && r->text[r->at + 1] == 'u') {
      r->at += 2;
      if (hex4(r, &c2)) { free(s); return -1; }
      if (c2 < 0xdc00 || c2 >= 0xe000) { free(s); return fail(r, "unpaired surrogate"); }
      c1 = 0x10000 + ((c1 - 0xd800) << 10) + (c2 - 0xdc00);
    }
    n += put_utf8(s + n, c1);
  }
  s[n] = 0;
  *out = s;
  return 0;
}

static int read_value(json_reader *r, json_value *v);

/* An array or an object, starting at its bracket. */
static int read_members(json_reader *r, json_value *v, int object) {
  char close = object ? '}' : ']';
  size_t capacity = 0;
  v->kind = object ? JSON_OBJECT : JSON_ARRAY;
  r->at++;
  skip_space(r);
  if (r->at < r->length && r->text[r->at] == close) { r->at++; return 0; }
  while (1) {
    if (v->count == capacity) {
      capacity = capacity ? 2 * capacity : 8;
      json_value *items = realloc(v->items, capacity * sizeof *items);
      char **keys = object ? realloc(v->keys, capacity * sizeof *keys) : NULL;
      if (items) v->items = items;
      if (keys) v->keys = keys;
      if (!items || (object && !keys)) return fail(r, "out of memory");
    }
    json_value *item = &v->items[v->count];
    memset(item, 0, sizeof *item);
    skip_space(r);
    if (object) {
      if (r->at >= r->length || r->text[r->at] != '"') return fail(r, "expected a key");
      if (read_string(r, &v->keys[v->count])) return -1;
      for (size_t k = 0; k < v->count; k++) {
        if (strcmp(v->keys[k], v->keys[v->count]) == 0) { free(v->keys[v->count]); return fail(r, "duplicate key"); }
      }
      skip_space(r);
      if (r->at >= r->length || r->text[r->at] != ':') { free(v->keys[v->count]); return fail(r, "expected ':'"); }
      r->at++;
    }
    v->count++; /* counted before it is read, so json_free frees a half-read item */
    if (read_value(r, item)) return -1;
    skip_space(r);
    if (r->at < r->length && r->text[r->at] == ',') { r->at++; continue; }
    if (r->at < r->length && r->text[r->at] == close) { r->at++; return 0; }
    return fail(r, object ? "expected ',' or '}'" : "expected ',' or ']'");
  }
}

static int read_value(json_reader *r, json_value *v) {
  skip_space(r);
  if (r->at >= r->length) return fail(r, "unexpected end");
  if (++r->depth > 64) return fail(r, "nested too deeply");
  int result = 0;
  char c = r->text[r->at];
  if (c == '{' || c == '[') result = read_members(r, v, c == '{');
  else if (c == '"') { v->kind = JSON_STRING; result = read_string(r, &v->string); }
  else if (c == 't') { v->kind = JSON_BOOL; v->number = 1; result = literal(r, "true"); }
  else if (c == 'f') { v->kind = JSON_BOOL; result = literal(r, "false"); }
  else if (c == 'n') { v->kind = JSON_NULL; result = literal(r, "null"); }
  else if (c == '-' || (c >= '0' && c <= '9')) {
    char buffer[64];
    size_t n = 0;
    while (r->at < r->length && n < sizeof buffer - 1 && strchr("+-.eE0123456789", r->text[r->at]) && r->text[r->at]) {
      buffer[n++] = r->text[r->at++];
    }
    buffer[n] = 0;
    char *end;
    v->kind = JSON_NUMBER;
    v->number = strtod(buffer, &end);
    if (*end != 0) result = fail(r, "bad number");
  } else result = fail(r, "unexpected character");
  r->depth--;
  return result;
}

int json_parse(const char *text, size_t length, json_value *out, char *error, size_t error_size) {
  json_reader r = { text, 0, length, error, error_size, 0 };
  memset(out, 0, sizeof *out);
  if (read_value(&r, out)) { json_free(out); return -1; }
  skip_space(&r);
  if (r.at != length) { json_free(out); return fail(&r, "text after the value"); }
  return 0;
}

const json_value *json_get(const json_value *object, const char *key) {
  if (!object || object->kind != JSON_OBJECT) return NULL;
  for (size_t i = 0; i < object->count; i++) if (strcmp(object->keys[i], key) == 0) return &object->items[i];
  return NULL;
}

void json_free(json_value *value) {
  for (size_t i = 0; i < value->count; i++) {
    json_free(&value->items[i]);
    if (value->keys) free(value->keys[i]);
  }
  free(value->items);
  free(value->keys);
  free(value->string);
  memset(value, 0, sizeof *value);
}

/* ── the model file ─────────────────────────────────────────────────────────────────────────────────────────── */

static int file_error(char *error, size_t size, const char *path, const char *format, ...) {
  int n = snprintf(error, size, "%s: ", path);
  va_list args;
  va_start(args, format);
  if (n >= 0 && (size_t)n < size) vsnprintf(error + n, size - (size_t)n, format, args);
  va_end(args);
  return -1;
}

/* Reads one tensor entry of the header into t, checking it against the data section of `data_size` bytes. */
static int read_tensor(const char *path, const char *name, const json_value *entry, const uint8_t *data, size_t data_size,
                       tensor *t, char *error, size_t error_size) {
  const json_value *dtype = json_get(entry, "dtype"), *shape = json_get(entry, "shape"), *offsets = json_get(entry, "data_offsets");
  if (!dtype || dtype->kind != JSON_STRING || !shape || shape->kind != JSON_ARRAY || !offsets || offsets->kind != JSON_ARRAY || offsets->count != 2) {
    return file_error(error, error_size, path, "tensor \"%s\" needs dtype, shape and data_offsets", name);
  }
  if (strcmp(dtype->string, "F32") != 0) {
    return file_error(error, error_size, path, "tensor \"%s\" is %s; this example reads F32 only (seqcast writes F32)", name, dtype->string);
  }
  if (shape->count > TENSOR_MAX_RANK) return file_error(error, error_size, path, "tensor \"%s\" has rank %zu", name, shape->count);
  t->name = name;
  t->rank = (int)shape->count;
  t->floats = 1;
  for (int d = 0; d < t->rank; d++) {
    double extent = shape->items[d].number;
    if (shape->items[d].kind != JSON_NUMBER || extent < 0 || extent > 1e9 || extent != (double)(int64_t)extent) {
      return file_error(error, error_size, path, "tensor \"%s\" has a bad shape", name);
    }
    t->shape[d] = (int64_t)extent;
    t->floats *= (size_t)extent;
  }
  double begin = offsets->items[0].number, end = offsets->items[1].number;
  if (offsets->items[0].kind != JSON_NUMBER || offsets->items[1].kind != JSON_NUMBER || begin < 0 || end < begin ||
      end > (double)data_size || end - begin != (double)t->floats * 4) {
    return file_error(error, error_size, path, "tensor \"%s\": data_offsets [%.0f, %.0f] do not hold its %zu floats inside the %zu data bytes",
                      name, begin, end, t->floats, data_size);
  }
  t->data = (const float *)(data + (size_t)begin);
  return 0;
}

int model_file_read(const char *path, model_file *file, char *error, size_t error_size) {
  memset(file, 0, sizeof *file);
  FILE *f = fopen(path, "rb");
  if (!f) return file_error(error, error_size, path, "cannot open");
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  file->bytes = size > 0 ? malloc((size_t)size) : NULL;
  file->size = size > 0 ? (size_t)size : 0;
  int read_ok = file->bytes && fread(file->bytes, 1, file->size, f) == file->size;
  fclose(f);
  if (!read_ok) { model_file_free(file); return file_error(error, error_size, path, "cannot read"); }
  if (file->size < 8) { model_file_free(file); return file_error(error, error_size, path, "is %zu bytes, shorter than a safetensors header", file->size); }
  uint64_t header_length = 0;
  for (int i = 7; i >= 0; i--) header_length = header_length << 8 | file->bytes[i];
  if (header_length > file->size - 8 || header_length > 100000000) {
    model_file_free(file);
    return file_error(error, error_size, path, "header length %llu does not fit the file", (unsigned long long)header_length);
  }
  char json_error[160];
  if (json_parse((const char *)file->bytes + 8, (size_t)header_length, &file->header, json_error, sizeof json_error) || file->header.kind != JSON_OBJECT) {
    model_file_free(file);
    return file_error(error, error_size, path, "the header is not a JSON object (%s)", json_error);
  }
  const uint8_t *data = file->bytes + 8 + header_length;
  size_t data_size = file->size - 8 - (size_t)header_length;
  file->tensors = calloc(file->header.count, sizeof *file->tensors);
  if (!file->tensors && file->header.count) { model_file_free(file); return file_error(error, error_size, path, "out of memory"); }
  for (size_t i = 0; i < file->header.count; i++) {
    const char *name = file->header.keys[i];
    if (strcmp(name, "__metadata__") == 0) {
      const json_value *seqcast = json_get(&file->header.items[i], "seqcast");
      if (seqcast && seqcast->kind == JSON_STRING &&
          json_parse(seqcast->string, strlen(seqcast->string), &file->seqcast, json_error, sizeof json_error)) {
        model_file_free(file);
        return file_error(error, error_size, path, "__metadata__.seqcast is not JSON (%s)", json_error);
      }
      continue;
    }
    if (read_tensor(path, name, &file->header.items[i], data, data_size, &file->tensors[file->tensor_count], error, error_size)) {
      model_file_free(file);
      return -1;
    }
    file->tensor_count++;
  }
  return 0;
}

const tensor *model_file_tensor(const model_file *file, const char *name) {
  for (size_t i = 0; i < file->tensor_count; i++) if (strcmp(file->tensors[i].name, name) == 0) return &file->tensors[i];
  return NULL;
}

void model_file_free(model_file *file) {
  json_free(&file->header);
  json_free(&file->seqcast);
  free(file->tensors);
  free(file->bytes);
  memset(file, 0, sizeof *file);
}
