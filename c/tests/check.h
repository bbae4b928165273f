/* A tiny test harness for the C tests: named cases, checks that record failures, a
 * summary line ("c <suite>: N passed, M failed") and helpers for JSON vectors (cJSON). */
#ifndef DTMX_CHECK_H
#define DTMX_CHECK_H

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtmx.h"

static int check_passed, check_failed, check_case_failed;
static char check_case[512];

/* Starts a named case. */
static inline void case_begin(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(check_case, sizeof check_case, fmt, ap);
  va_end(ap);
  check_case_failed = 0;
}

/* Ends the current case, counting it. */
static inline void case_end(void) {
  if (check_case_failed) {
    check_failed++;
  } else {
    check_passed++;
  }
}

#define CHECK(cond, ...)                                         \
  do {                                                           \
    if (!(cond)) {                                               \
      check_case_failed = 1;                                     \
      fprintf(stderr, "FAIL [%s] %s:%d: ", check_case, __FILE__, \
              __LINE__);                                         \
      fprintf(stderr, __VA_ARGS__);                              \
      fprintf(stderr, "\n");                                     \
    }                                                            \
  } while (0)

/* Compares two strings, NULL-safe. */
static inline int same(const char *a, const char *b) {
  if (a == NULL || b == NULL) {
    return a == b;
  }
  return strcmp(a, b) == 0;
}

#define CHECK_STR(actual, expected)                                          \
  do {                                                                       \
    const char *a_ = (actual), *e_ = (expected);                             \
    CHECK(same(a_, e_), "%s: got \"%s\", want \"%s\"", #actual,              \
          a_ ? a_ : "(null)", e_ ? e_ : "(null)");                           \
  } while (0)

/* Prints the summary and returns the exit status. */
static inline int summary(const char *suite) {
  printf("c %s: %d passed, %d failed\n", suite, check_passed, check_failed);
  return check_failed == 0 ? 0 : 1;
}

/* Reads and parses a JSON file; exits on error. */
static inline cJSON *load_json(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    fprintf(stderr, "cannot open %s\n", path);
    exit(2);
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *text = malloc((size_t)n + 1);
  if (text == NULL || fread(text, 1, (size_t)n, f) != (size_t)n) {
    fprintf(stderr, "cannot read %s\n", path);
    exit(2);
  }
  text[n] = '\0';
  fclose(f);
  cJSON *json = cJSON_Parse(text);
  free(text);
  if (json == NULL) {
    fprintf(stderr, "invalid JSON in %s\n", path);
    exit(2);
  }
  return json;
}

/* The string member `key` of `obj`, or NULL. */
static inline const char *jstr(const cJSON *obj, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The number member `key` of `obj`, or `fallback`. */
static inline double jnum(const cJSON *obj, const char *key, double fallback) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

/* The member `key` of `obj`, or NULL. */
static inline const cJSON *jget(const cJSON *obj, const char *key) {
  return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* The stable name of a code ("ok", "failure", ...). */
static inline const char *code_name(DtmxCode code) { return dtmx_code_name((int32_t)code); }

/* The code of a stable kind name; 0 for "ok" and unknown names. */
static inline int32_t code_of(const char *name) {
  for (int32_t c = 1; c < 32; c++) {
    if (same(dtmx_code_name(c), name)) {
      return c;
    }
  }
  return 0;
}

/* The outcome of a stable name; -1 for unknown names. */
static inline int32_t outcome_of(const char *name) {
  for (int32_t o = 0; o < 4; o++) {
    if (same(dtmx_outcome_name(o), name)) {
      return o;
    }
  }
  return -1;
}

#endif
