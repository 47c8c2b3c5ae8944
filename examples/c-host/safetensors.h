/* A seqcast model file (safetensors) read into memory: its tensors by name and its `seqcast` metadata, with a
 * small JSON reader for the header (docs/model-format.md). F32 tensors only: seqcast writes F32. */
#ifndef SEQCAST_SAFETENSORS_H
#define SEQCAST_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

/* ── JSON values: what a safetensors header and the seqcast metadata hold ─────────────────────────────────── */

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_kind;

typedef struct json_value {
  json_kind kind;
  double number;              /* JSON_NUMBER, JSON_BOOL (0 or 1) */
  char *string;               /* JSON_STRING: UTF-8, NUL-terminated, escapes resolved */
  size_t count;               /* JSON_ARRAY, JSON_OBJECT: members */
  char **keys;                /* JSON_OBJECT: keys[count] */
  struct json_value *items;   /* JSON_ARRAY, JSON_OBJECT: items[count] */
} json_value;

/* Parses `length` bytes of JSON into *out; returns 0, or -1 with a message naming the byte offset in `error`. */
int json_parse(const char *text, size_t length, json_value *out, char *error, size_t error_size);
/* The member `key` of an object, or NULL (also when `object` is NULL or not an object). */
const json_value *json_get(const json_value *object, const char *key);
void json_free(json_value *value);

/* ── the model file ─────────────────────────────────────────────────────────────────────────────────────────── */

#define TENSOR_MAX_RANK 4

typedef struct {
  const char *name;
  int rank;
  int64_t shape[TENSOR_MAX_RANK];
  size_t floats;              /* product of shape */
  const float *data;          /* little-endian f32, inside the file's bytes (unaligned reads: memcpy them) */
} tensor;

typedef struct {
  uint8_t *bytes;             /* the whole file */
  size_t size;
  json_value header;          /* the parsed header */
  json_value seqcast;         /* __metadata__.seqcast parsed as JSON, or JSON_NULL when absent */
  tensor *tensors;
  size_t tensor_count;
} model_file;

/* Reads and checks `path`; returns 0, or -1 with a message naming the file and what is wrong in `error`. */
int model_file_read(const char *path, model_file *file, char *error, size_t error_size);
/* The tensor `name`, or NULL. */
const tensor *model_file_tensor(const model_file *file, const char *name);
void model_file_free(model_file *file);

#endif
