/* Replays the shared test vectors (tests/vectors: requests.json, replies.json,
 * barrier*.json) through libdtmx's C API. Usage: vectors <tests/vectors directory>.
 *
 * Requests go through a client whose transport is a callback that records each request
 * and answers with the case's scripted replies. The RM side of XA (xa_local cases) runs
 * a DtmxXaLocal with the case's scripted SQL results, business outcome and replies, and
 * compares what it did (its events) with the case's. */
#include <dirent.h>

#include "check.h"

/* ---- requests.json ------------------------------------------------------------------ */

/* What the transport callback sees of one case. */
struct recorder {
  const cJSON *replies;       /* the case's scripted replies */
  const cJSON *default_reply; /* the file's reply for everything else */
  cJSON *requests;            /* every request sent, as the vectors describe them */
};

static int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decodes `len` bytes of a query component (percent escapes, '+' as space). */
static char *url_decode(const char *s, size_t len) {
  char *out = malloc(len + 1);
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '%' && i + 2 < len && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out[o++] = (char)(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else if (s[i] == '+') {
      out[o++] = ' ';
    } else {
      out[o++] = s[i];
    }
  }
  out[o] = '\0';
  return out;
}

/* The query string of `url` as an object of decoded pairs. */
static cJSON *query_object(const char *query) {
  cJSON *obj = cJSON_CreateObject();
  while (query != NULL && *query != '\0') {
    const char *end = strchr(query, '&');
    size_t len = end ? (size_t)(end - query) : strlen(query);
    const char *eq = memchr(query, '=', len);
    size_t klen = eq ? (size_t)(eq - query) : len;
    char *k = url_decode(query, klen);
    char *v = eq ? url_decode(eq + 1, len - klen - 1) : url_decode("", 0);
    if (*k != '\0') {
      cJSON_DeleteItemFromObjectCaseSensitive(obj, k);
      cJSON_AddStringToObject(obj, k, v);
    }
    free(k);
    free(v);
    query = end ? end + 1 : NULL;
  }
  return obj;
}

/* Records the request; the scripted reply for its URL. */
static const cJSON *record_request(struct recorder *r, const DtmxHttpRequest *request) {
  const char *url = dtmx_request_url(request);
  const char *q = strchr(url, '?');
  size_t base_len = q ? (size_t)(q - url) : strlen(url);
  char *base = strndup(url, base_len);

  cJSON *seen = cJSON_CreateObject();
  cJSON_AddStringToObject(seen, "method", dtmx_request_method(request));
  cJSON_AddStringToObject(seen, "url", base);
  cJSON_AddItemToObject(seen, "query", query_object(q ? q + 1 : NULL));
  cJSON *headers = cJSON_AddObjectToObject(seen, "headers");
  for (size_t i = 0; i < dtmx_request_header_count(request); i++) {
    char *name = strdup(dtmx_request_header_name(request, i));
    for (char *p = name; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    cJSON_DeleteItemFromObjectCaseSensitive(headers, name);
    cJSON_AddStringToObject(headers, name, dtmx_request_header_value(request, i));
    free(name);
  }
  size_t len = 0;
  const uint8_t *body = dtmx_request_body(request, &len);
  if (body == NULL) {
    cJSON_AddNullToObject(seen, "body");
  } else {
    char *text = strndup((const char *)body, len);
    cJSON *parsed = cJSON_Parse(text);
    cJSON_AddItemToObject(seen, "body", parsed ? parsed : cJSON_CreateString(text));
    free(text);
  }
  cJSON_AddItemToArray(r->requests, seen);

  const cJSON *reply = r->default_reply, *each;
  cJSON_ArrayForEach(each, r->replies) {
    if (same(jstr(each, "url"), base)) reply = each;
  }
  free(base);
  return reply;
}

/* The transport: records the request, answers with the scripted reply for its URL. */
static void record(void *user, const DtmxHttpRequest *request, DtmxHttpResponse *response) {
  const cJSON *reply = record_request(user, request);
  const char *reply_body = jstr(reply, "body");
  dtmx_response_set(response, (uint16_t)jnum(reply, "status", 200), (const uint8_t *)reply_body,
                    reply_body ? strlen(reply_body) : 0);
}

static void branch_query(const cJSON *branch, char *out, size_t size);

/* The parameters of the XA call's current SQL as a JSON array. */
static cJSON *xa_params(const DtmxXaLocal *xa) {
  cJSON *params = cJSON_CreateArray();
  for (size_t i = 0; i < dtmx_xa_local_param_count(xa); i++) {
    cJSON_AddItemToArray(params, cJSON_CreateString(dtmx_xa_local_param(xa, i)));
  }
  return params;
}

/* The RM side of one XA branch call (an xa_local case) with the case's scripted SQL
 * errors (every other statement affects 1 row), business outcome and replies; appends
 * what it did to `events`. Returns the code of dtmx_xa_local_finish. */
static DtmxCode run_xa_local(const cJSON *c, struct recorder *rec, cJSON *events, DtmxError *err) {
  DtmxBarrierTable *table = dtmx_barrier_table_new(jstr(c, "dialect"), NULL, err);
  char query[1024];
  branch_query(jget(c, "branch"), query, sizeof query);
  DtmxBranch *branch = dtmx_branch_from_query(query, err);
  DtmxXaLocal *xa = table && branch ? dtmx_xa_local_new(branch, table, err) : NULL;
  dtmx_branch_free(branch);
  dtmx_barrier_table_free(table);
  if (xa == NULL) return err->code;
  const cJSON *errors = jget(c, "sql_errors");
  const char *business = jstr(c, "business") ? jstr(c, "business") : "ok";
  DtmxCode code = DTMX_OK;
  for (int n = 0; code == DTMX_OK && n < 100; n++) {
    DtmxXaStep step = dtmx_xa_local_step(xa);
    if (step == DTMX_XA_DONE) break;
    cJSON *event = cJSON_CreateObject();
    cJSON_AddItemToArray(events, event);
    if (step == DTMX_XA_EXECUTE) {
      const char *sql = dtmx_xa_local_sql(xa);
      if (strncmp(sql, "insert", 6) == 0) {
        cJSON_AddItemToObject(event, "barrier_insert", xa_params(xa));
      } else {
        cJSON_AddStringToObject(event, "sql", sql);
      }
      const char *failed = jstr(errors, sql);
      code = failed ? dtmx_xa_local_feed_sql_error(xa, failed, err)
                    : dtmx_xa_local_feed_affected(xa, 1, err);
    } else if (step == DTMX_XA_QUERY_REASON) {
      cJSON_AddItemToObject(event, "query_reason", xa_params(xa));
      code = dtmx_xa_local_feed_reason(xa, NULL, err);
    } else if (step == DTMX_XA_RUN_BUSINESS) {
      cJSON_AddBoolToObject(event, "business", 1);
      DtmxError failure = {0};
      if (same(business, "failure")) {
        dtmx_error_set(&failure, DTMX_FAILURE, "business failure");
      } else if (!same(business, "ok")) {
        dtmx_error_set(&failure, DTMX_DATABASE, "business error");
      }
      code = dtmx_xa_local_feed_business(xa, &failure, err);
      dtmx_error_free(&failure);
    } else {
      const cJSON *reply = record_request(rec, dtmx_xa_local_request(xa));
      int last = cJSON_GetArraySize(rec->requests) - 1;
      cJSON_AddItemToObject(event, "request",
                            cJSON_Duplicate(cJSON_GetArrayItem(rec->requests, last), 1));
      const char *body = jstr(reply, "body");
      code = dtmx_xa_local_feed_reply(xa, (uint16_t)jnum(reply, "status", 200),
                                      (const uint8_t *)body, body ? strlen(body) : 0, err);
    }
    CHECK(code == DTMX_OK, "feeding the XA call: %s", err->message);
  }
  if (code == DTMX_OK) code = dtmx_xa_local_finish(xa, err);
  dtmx_xa_local_free(xa);
  return code;
}

/* The local transaction of do_and_submit: `user` is the vectors' `busi` word. */
static void busi(void *user, DtmxBarrier *barrier, DtmxError *error) {
  const char *what = user;
  CHECK_STR(dtmx_barrier_trans_type(barrier), "msg");
  CHECK_STR(dtmx_barrier_branch_id(barrier), "00");
  CHECK_STR(dtmx_barrier_op(barrier), "msg");
  if (same(what, "failure")) {
    dtmx_error_set(error, DTMX_FAILURE, "business failure FAILURE");
  } else if (same(what, "ongoing")) {
    dtmx_error_set(error, DTMX_ONGOING, "business ongoing");
  } else if (same(what, "error")) {
    dtmx_error_set(error, DTMX_DATABASE, "business error");
  }
}

/* Runs the builder calls of a saga or msg case; stops at the first error. */
static DtmxCode run_trans_calls(DtmxSaga *saga, DtmxMsg *msg, const cJSON *calls,
                                DtmxError *err) {
  const cJSON *c;
  cJSON_ArrayForEach(c, calls) {
    const char *call = jstr(c, "call");
    DtmxCode code = DTMX_OK;
    if (same(call, "add")) {
      code = saga ? dtmx_saga_add(saga, jstr(c, "action"), jstr(c, "compensate"),
                                  jstr(c, "payload"), err)
                  : dtmx_msg_add(msg, jstr(c, "action"), jstr(c, "payload"), err);
    } else if (same(call, "add_branch_order")) {
      const cJSON *pre = jget(c, "pre_branches");
      size_t n = (size_t)cJSON_GetArraySize(pre), i = 0, ids[64];
      const cJSON *p;
      cJSON_ArrayForEach(p, pre) ids[i++] = (size_t)p->valuedouble;
      code = dtmx_saga_add_branch_order(saga, (size_t)jnum(c, "branch", 0), ids, n, err);
    } else if (same(call, "enable_concurrent")) {
      code = saga ? dtmx_saga_enable_concurrent(saga, err) : dtmx_msg_enable_concurrent(msg, err);
    } else if (same(call, "add_topic")) {
      code = dtmx_msg_add_topic(msg, jstr(c, "topic"), jstr(c, "payload"), err);
    } else if (same(call, "set_delay")) {
      code = dtmx_msg_set_delay(msg, (uint64_t)jnum(c, "seconds", 0), err);
    } else if (same(call, "prepare")) {
      code = dtmx_msg_prepare(msg, jstr(c, "query_prepared"), err);
    } else if (same(call, "submit")) {
      code = saga ? dtmx_saga_submit(saga, err) : dtmx_msg_submit(msg, err);
    } else if (same(call, "abort")) {
      code = dtmx_msg_abort(msg, err);
    } else if (same(call, "do_and_submit")) {
      code = dtmx_msg_do_and_submit(msg, jstr(c, "query_prepared"), busi, (void *)jstr(c, "busi"),
                                    err);
    } else {
      CHECK(0, "unknown call %s", call);
    }
    if (code != DTMX_OK) return code;
  }
  return DTMX_OK;
}

/* Runs the call_branch calls of a TCC or XA case; stops at the first error. */
static DtmxCode run_branch_calls(const DtmxTcc *tcc, const DtmxXa *xa, const cJSON *calls,
                                 DtmxError *err) {
  const cJSON *c;
  cJSON_ArrayForEach(c, calls) {
    CHECK(same(jstr(c, "call"), "call_branch"), "unknown call %s", jstr(c, "call"));
    char *body = tcc ? dtmx_tcc_call_branch(tcc, jstr(c, "payload"), jstr(c, "try"),
                                            jstr(c, "confirm"), jstr(c, "cancel"), err)
                     : dtmx_xa_call_branch(xa, jstr(c, "payload"), jstr(c, "url"), err);
    if (body == NULL) return err->code;
    dtmx_string_free(body);
  }
  return DTMX_OK;
}

/* The body of dtmx_tcc_run: the case's calls (`user`), the first error reported. */
static void tcc_calls(void *user, const DtmxTcc *tcc, DtmxError *error) {
  run_branch_calls(tcc, NULL, user, error);
}

/* The body of dtmx_xa_run. */
static void xa_calls(void *user, const DtmxXa *xa, DtmxError *error) {
  run_branch_calls(NULL, xa, user, error);
}

/* The query string of a branch identity object. */
static void branch_query(const cJSON *branch, char *out, size_t size) {
  out[0] = '\0';
  const cJSON *f;
  cJSON_ArrayForEach(f, branch) {
    size_t n = strlen(out);
    snprintf(out + n, size - n, "%s%s=%s", n ? "&" : "", f->string, f->valuestring);
  }
}

/* Runs one case; returns the code of its last call. */
static DtmxCode run_case(const cJSON *c, DtmxClient *client, char **value, DtmxError *err) {
  const char *kind = jstr(c, "kind"), *gid = jstr(c, "gid");
  const cJSON *calls = jget(c, "calls");
  char *options = jget(c, "options") ? cJSON_PrintUnformatted(jget(c, "options")) : NULL;
  DtmxCode code = DTMX_OK;
  if (same(kind, "saga") || same(kind, "msg")) {
    DtmxSaga *saga = same(kind, "saga") ? dtmx_saga_new(client, gid, options, err) : NULL;
    DtmxMsg *msg = same(kind, "msg") ? dtmx_msg_new(client, gid, options, err) : NULL;
    code = (saga || msg) ? run_trans_calls(saga, msg, calls, err) : err->code;
    dtmx_saga_free(saga);
    dtmx_msg_free(msg);
  } else if (same(kind, "tcc") || same(kind, "xa")) {
    /* run: prepare, the branch calls (the body), then submit, or abort when one fails. */
    int is_tcc = same(kind, "tcc");
    DtmxTcc *tcc = is_tcc ? dtmx_tcc_new(client, gid, options, err) : NULL;
    DtmxXa *xa = is_tcc ? NULL : dtmx_xa_new(client, gid, options, err);
    code = is_tcc ? dtmx_tcc_run(tcc, tcc_calls, (void *)calls, err)
                  : dtmx_xa_run(xa, xa_calls, (void *)calls, err);
    dtmx_tcc_free(tcc);
    dtmx_xa_free(xa);
  } else if (same(kind, "tcc_nested")) {
    char query[1024];
    branch_query(jget(c, "branch"), query, sizeof query);
    DtmxBranch *branch = dtmx_branch_from_query(query, err);
    DtmxTcc *tcc = branch ? dtmx_client_tcc_from_branch(client, branch, err) : NULL;
    dtmx_branch_free(branch);
    code = tcc ? run_branch_calls(tcc, NULL, calls, err) : err->code;
    dtmx_tcc_free(tcc);
  } else if (same(kind, "new_gid")) {
    *value = dtmx_client_new_gid(client, err);
    code = err->code;
  } else {
    CHECK(0, "unknown kind %s", kind);
  }
  free(options);
  return code;
}

/* Checks one recorded request against the expected one. */
static void check_request(const cJSON *got, const cJSON *want, int i) {
  CHECK_STR(jstr(got, "method"), jstr(want, "method"));
  CHECK_STR(jstr(got, "url"), jstr(want, "url"));
  const cJSON *wq = jget(want, "query");
  cJSON *empty = cJSON_CreateObject();
  CHECK(cJSON_Compare(jget(got, "query"), wq ? wq : empty, 1), "request %d query: %s", i,
        cJSON_PrintUnformatted(jget(got, "query")));
  cJSON_Delete(empty);
  const cJSON *h;
  cJSON_ArrayForEach(h, jget(want, "headers")) {
    char name[128];
    snprintf(name, sizeof name, "%s", h->string);
    for (char *p = name; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    CHECK_STR(jstr(jget(got, "headers"), name), h->valuestring);
  }
  CHECK(cJSON_Compare(jget(got, "body"), jget(want, "body"), 1), "request %d body: got %s", i,
        cJSON_PrintUnformatted(jget(got, "body")));
}

static void replay_requests(const char *dir) {
  char path[1024];
  snprintf(path, sizeof path, "%s/requests.json", dir);
  cJSON *file = load_json(path);
  const cJSON *c;
  cJSON_ArrayForEach(c, jget(file, "cases")) {
    case_begin("requests: %s", jstr(c, "name"));
    struct recorder rec = {jget(c, "replies"), jget(file, "default_reply"), cJSON_CreateArray()};
    DtmxError err = {0};
    if (same(jstr(c, "kind"), "xa_local")) {
      cJSON *events = cJSON_CreateArray();
      DtmxCode code = run_xa_local(c, &rec, events, &err);
      CHECK_STR(code_name(code), jstr(c, "result"));
      const cJSON *want = jget(c, "events");
      CHECK(cJSON_GetArraySize(events) == cJSON_GetArraySize(want), "events: %s",
            cJSON_PrintUnformatted(events));
      for (int i = 0; i < cJSON_GetArraySize(want) && i < cJSON_GetArraySize(events); i++) {
        const cJSON *have = cJSON_GetArrayItem(events, i), *exp = cJSON_GetArrayItem(want, i);
        if (jget(exp, "request")) {
          check_request(jget(have, "request"), jget(exp, "request"), i);
        } else {
          CHECK(cJSON_Compare(have, exp, 1), "event %d: %s", i, cJSON_PrintUnformatted(have));
        }
      }
      cJSON_Delete(events);
      dtmx_error_free(&err);
      cJSON_Delete(rec.requests);
      case_end();
      continue;
    }
    DtmxClient *client = dtmx_client_new_with_transport(jstr(file, "dtm"), record, &rec, &err);
    CHECK(client != NULL, "client: %s", err.message);
    char *value = NULL;
    DtmxCode code = run_case(c, client, &value, &err);
    CHECK_STR(code_name(code), jstr(c, "result"));
    if (same(jstr(c, "kind"), "new_gid")) CHECK_STR(value, jstr(c, "value"));
    dtmx_string_free(value);
    const cJSON *want = jget(c, "requests");
    if (want != NULL) {
      CHECK(cJSON_GetArraySize(rec.requests) == cJSON_GetArraySize(want), "sent %d requests, want %d",
            cJSON_GetArraySize(rec.requests), cJSON_GetArraySize(want));
      for (int i = 0; i < cJSON_GetArraySize(want) && i < cJSON_GetArraySize(rec.requests); i++) {
        check_request(cJSON_GetArrayItem(rec.requests, i), cJSON_GetArrayItem(want, i), i);
      }
    }
    dtmx_error_free(&err);
    dtmx_client_free(client);
    cJSON_Delete(rec.requests);
    case_end();
  }
  cJSON_Delete(file);
}

/* ---- replies.json ------------------------------------------------------------------- */

static void replay_replies(const char *dir) {
  char path[1024];
  snprintf(path, sizeof path, "%s/replies.json", dir);
  cJSON *file = load_json(path);
  const cJSON *c;
  int i = 0;
  cJSON_ArrayForEach(c, jget(file, "branch_replies")) {
    case_begin("replies: branch_replies %d", i++);
    const char *body = jstr(c, "body");
    char *message = NULL;
    DtmxOutcome o = dtmx_outcome_from_http((uint16_t)jnum(c, "status", 0), (const uint8_t *)body,
                                           strlen(body), &message);
    CHECK_STR(dtmx_outcome_name(o), jstr(c, "outcome"));
    if (o == DTMX_OUTCOME_FAILURE || o == DTMX_OUTCOME_ONGOING) {
      CHECK_STR(message, jstr(c, "message") ? jstr(c, "message") : body);
    }
    dtmx_string_free(message);
    case_end();
  }
  const char *lists[] = {"client_branch_replies", "server_replies"};
  for (int l = 0; l < 2; l++) {
    i = 0;
    cJSON_ArrayForEach(c, jget(file, lists[l])) {
      case_begin("replies: %s %d", lists[l], i++);
      const char *body = jstr(c, "body");
      DtmxError err = {0};
      uint16_t status = (uint16_t)jnum(c, "status", 0);
      DtmxCode code = l == 0 ? dtmx_check_branch_reply(status, (const uint8_t *)body, strlen(body), &err)
                             : dtmx_check_server_reply(status, (const uint8_t *)body, strlen(body), &err);
      CHECK_STR(code_name(code), jstr(c, "kind"));
      if (jstr(c, "message") && code != DTMX_OK) CHECK_STR(err.message, jstr(c, "message"));
      dtmx_error_free(&err);
      case_end();
    }
  }
  i = 0;
  cJSON_ArrayForEach(c, jget(file, "outcome_replies")) {
    case_begin("replies: outcome_replies %d", i++);
    int32_t o = outcome_of(jstr(c, "outcome"));
    const char *message = jstr(c, "message") ? jstr(c, "message") : "";
    uint16_t status = 0;
    char *body = NULL;
    DtmxError err = {0};
    CHECK(dtmx_outcome_reply(o, message, &status, &body, &err) == DTMX_OK, "reply: %s", err.message);
    CHECK(status == (uint16_t)jnum(c, "http_status", 0), "status %u", status);
    cJSON *parsed = cJSON_Parse(body);
    CHECK(cJSON_Compare(parsed, jget(c, "http_body"), 1), "body %s", body);
    CHECK(dtmx_grpc_code(o) == (int32_t)jnum(c, "grpc_code", -2), "grpc code");
    DtmxOutcome back = dtmx_outcome_from_http(status, (const uint8_t *)body, strlen(body), NULL);
    CHECK((int32_t)back == o, "read back as %s", dtmx_outcome_name(back));
    cJSON_Delete(parsed);
    dtmx_string_free(body);
    dtmx_error_free(&err);
    case_end();
  }
  i = 0;
  cJSON_ArrayForEach(c, jget(file, "grpc_replies")) {
    case_begin("replies: grpc_replies %d", i++);
    DtmxOutcome o = dtmx_outcome_from_grpc((int32_t)jnum(c, "code", 0), jstr(c, "message"), NULL);
    CHECK_STR(dtmx_outcome_name(o), jstr(c, "outcome"));
    case_end();
  }
  i = 0;
  cJSON_ArrayForEach(c, jget(file, "error_outcomes")) {
    case_begin("replies: error_outcomes %d", i++);
    int32_t code = code_of(jstr(c, "kind"));
    CHECK(code != 0, "unknown kind %s", jstr(c, "kind"));
    DtmxOutcome o = dtmx_outcome_of_error(code, jstr(c, "message"), NULL);
    CHECK_STR(dtmx_outcome_name(o), jstr(c, "outcome"));
    case_end();
  }
  i = 0;
  cJSON_ArrayForEach(c, jget(file, "branch_requests")) {
    case_begin("replies: branch_requests %d", i++);
    DtmxError err = {0};
    DtmxBranch *b;
    if (jstr(c, "query")) {
      b = dtmx_branch_from_query(jstr(c, "query"), &err);
    } else {
      const cJSON *m;
      const char *keys[32], *values[32];
      size_t n = 0;
      cJSON_ArrayForEach(m, jget(c, "metadata")) {
        keys[n] = m->string;
        values[n++] = m->valuestring;
      }
      b = dtmx_branch_from_grpc_metadata(keys, values, n, &err);
    }
    const cJSON *want = jget(c, "branch");
    CHECK(b != NULL, "branch: %s", err.message);
    if (b != NULL) {
      CHECK_STR(b->gid, jstr(want, "gid"));
      CHECK_STR(b->trans_type, jstr(want, "trans_type"));
      CHECK_STR(b->branch_id, jstr(want, "branch_id"));
      CHECK_STR(b->op, jstr(want, "op"));
      CHECK_STR(b->dtm, jstr(want, "dtm"));
      CHECK_STR(b->phase2_url, jstr(want, "phase2_url"));
    }
    dtmx_branch_free(b);
    dtmx_error_free(&err);
    case_end();
  }
  cJSON_Delete(file);
}

/* ---- barrier*.json ------------------------------------------------------------------ */

/* The default table of `dialect` in the file's `tables`. */
static const cJSON *default_table(const cJSON *file, const char *dialect) {
  const cJSON *t;
  cJSON_ArrayForEach(t, jget(file, "tables")) {
    if (same(jstr(t, "dialect"), dialect) && cJSON_IsNull(jget(t, "table"))) return t;
  }
  return NULL;
}

static DtmxBarrier *barrier_of(const cJSON *b, DtmxError *err) {
  return dtmx_barrier_new(jstr(b, "trans_type"), jstr(b, "gid"), jstr(b, "branch_id"),
                          jstr(b, "op"), err);
}

/* Hands out call_index - 1 barrier ids first. */
static void advance(DtmxBarrier *b, const cJSON *c) {
  for (int i = 1; i < (int)jnum(c, "call_index", 1); i++) dtmx_string_free(dtmx_barrier_next_barrier_id(b));
}

/* Drives a step machine through `steps`; returns its result name (static), or NULL with
 * the error of the feed that failed in `err`. */
static const char *replay_steps(DtmxBarrierCall *m, const cJSON *steps, const cJSON *table,
                                DtmxError *err) {
  const cJSON *s;
  cJSON_ArrayForEach(s, steps) {
    int insert = same(jstr(s, "run"), "insert_ignore");
    DtmxStepKind kind = dtmx_barrier_call_step(m);
    CHECK(kind == (insert ? DTMX_STEP_EXECUTE : DTMX_STEP_QUERY_REASON), "step kind %d", kind);
    CHECK_STR(dtmx_barrier_call_sql(m), jstr(table, jstr(s, "run")));
    const cJSON *params = jget(s, "params");
    CHECK((int)dtmx_barrier_call_param_count(m) == cJSON_GetArraySize(params), "param count");
    for (int i = 0; i < cJSON_GetArraySize(params); i++) {
      CHECK_STR(dtmx_barrier_call_param(m, (size_t)i), cJSON_GetArrayItem(params, i)->valuestring);
    }
    DtmxCode code = insert ? dtmx_barrier_call_feed_affected(m, (uint64_t)jnum(s, "affected", 0), err)
                           : dtmx_barrier_call_feed_reason(m, jstr(s, "reason"), err);
    if (code != DTMX_OK) return NULL;
  }
  CHECK(dtmx_barrier_call_step(m) == DTMX_STEP_DONE, "not done after the steps");
  return dtmx_barrier_call_result(m);
}

static const char *DIALECTS[] = {"mysql", "postgres", "sqlite"};

static void replay_barrier_file(const char *path, const char *name) {
  cJSON *file = load_json(path);
  const cJSON *c;
  cJSON_ArrayForEach(c, jget(file, "dialects")) {
    case_begin("%s: dialects %s", name, jstr(c, "name"));
    const cJSON *alias;
    cJSON *all = cJSON_Duplicate(jget(c, "aliases"), 1);
    cJSON_AddItemToArray(all, cJSON_CreateString(jstr(c, "name")));
    cJSON_ArrayForEach(alias, all) {
      DtmxBarrierTable *t = dtmx_barrier_table_new(alias->valuestring, NULL, NULL);
      CHECK_STR(dtmx_barrier_table_dialect(t), jstr(c, "name"));
      dtmx_barrier_table_free(t);
    }
    cJSON_Delete(all);
    case_end();
  }
  cJSON_ArrayForEach(c, jget(file, "invalid_dialects")) {
    case_begin("%s: invalid_dialects %s", name, c->valuestring);
    DtmxError err = {0};
    CHECK(dtmx_barrier_table_new(c->valuestring, NULL, &err) == NULL, "accepted");
    CHECK(err.code == DTMX_INVALID_ARGUMENT, "code %d", err.code);
    dtmx_error_free(&err);
    case_end();
  }
  cJSON_ArrayForEach(c, jget(file, "tables")) {
    case_begin("%s: tables %s %s", name, jstr(c, "dialect"), jstr(c, "name"));
    DtmxError err = {0};
    DtmxBarrierTable *t = dtmx_barrier_table_new(jstr(c, "dialect"), jstr(c, "table"), &err);
    CHECK(t != NULL, "table: %s", err.message);
    CHECK_STR(dtmx_barrier_table_name(t), jstr(c, "name"));
    char *insert = dtmx_barrier_table_insert_ignore_sql(t);
    char *select = dtmx_barrier_table_select_reason_sql(t);
    CHECK_STR(insert, jstr(c, "insert_ignore"));
    CHECK_STR(select, jstr(c, "select_reason"));
    const cJSON *ddl = jget(c, "ddl");
    CHECK((int)dtmx_barrier_table_ddl_count(t) == cJSON_GetArraySize(ddl), "ddl count");
    for (int i = 0; i < cJSON_GetArraySize(ddl); i++) {
      char *stmt = dtmx_barrier_table_ddl(t, (size_t)i);
      CHECK_STR(stmt, cJSON_GetArrayItem(ddl, i)->valuestring);
      dtmx_string_free(stmt);
    }
    dtmx_string_free(insert);
    dtmx_string_free(select);
    dtmx_barrier_table_free(t);
    dtmx_error_free(&err);
    case_end();
  }
  cJSON_ArrayForEach(c, jget(file, "invalid_table_names")) {
    case_begin("%s: invalid_table_names \"%s\"", name, c->valuestring);
    for (int d = 0; d < 3; d++) {
      DtmxError err = {0};
      CHECK(dtmx_barrier_table_new(DIALECTS[d], c->valuestring, &err) == NULL, "accepted");
      CHECK(err.code == DTMX_INVALID_ARGUMENT, "code %d", err.code);
      dtmx_error_free(&err);
    }
    case_end();
  }
  cJSON_ArrayForEach(c, jget(file, "construction")) {
    case_begin("%s: construction %s", name, jstr(c, "name"));
    DtmxError err = {0};
    DtmxBarrier *b;
    if (jget(c, "fields")) {
      b = barrier_of(jget(c, "fields"), &err);
    } else {
      const cJSON *list = jget(c, "query") ? jget(c, "query") : jget(c, "grpc_metadata"), *p;
      const char *keys[32], *values[32];
      size_t n = 0;
      cJSON_ArrayForEach(p, list) {
        keys[n] = cJSON_GetArrayItem(p, 0)->valuestring;
        values[n++] = cJSON_GetArrayItem(p, 1)->valuestring;
      }
      b = jget(c, "query") ? dtmx_barrier_from_query_pairs(keys, values, n, &err)
                           : dtmx_barrier_from_grpc_metadata(keys, values, n, &err);
    }
    const cJSON *expect = jget(c, "expect");
    if (expect) {
      CHECK(b != NULL, "barrier: %s", err.message);
      if (jstr(expect, "trans_type")) CHECK_STR(dtmx_barrier_trans_type(b), jstr(expect, "trans_type"));
      if (jstr(expect, "gid")) CHECK_STR(dtmx_barrier_gid(b), jstr(expect, "gid"));
      if (jstr(expect, "branch_id")) CHECK_STR(dtmx_barrier_branch_id(b), jstr(expect, "branch_id"));
      if (jstr(expect, "op")) CHECK_STR(dtmx_barrier_op(b), jstr(expect, "op"));
      if (jget(c, "query")) {
        /* The same barrier through the branch: dtmx_branch_from_query_pairs, then
         * dtmx_barrier_from_branch. */
        const cJSON *p;
        const char *keys[32], *values[32];
        size_t n = 0;
        cJSON_ArrayForEach(p, jget(c, "query")) {
          keys[n] = cJSON_GetArrayItem(p, 0)->valuestring;
          values[n++] = cJSON_GetArrayItem(p, 1)->valuestring;
        }
        DtmxBranch *branch = dtmx_branch_from_query_pairs(keys, values, n, &err);
        DtmxBarrier *via = dtmx_barrier_from_branch(branch, &err);
        CHECK(via != NULL, "barrier from branch: %s", err.message);
        CHECK_STR(dtmx_barrier_trans_type(via), dtmx_barrier_trans_type(b));
        CHECK_STR(dtmx_barrier_gid(via), dtmx_barrier_gid(b));
        CHECK_STR(dtmx_barrier_branch_id(via), dtmx_barrier_branch_id(b));
        CHECK_STR(dtmx_barrier_op(via), dtmx_barrier_op(b));
        dtmx_barrier_free(via);
        dtmx_branch_free(branch);
      }
    } else {
      CHECK(b == NULL, "accepted");
      CHECK_STR(code_name(err.code), jstr(c, "error_kind"));
      const char *prefix = jstr(c, "error_prefix");
      CHECK(err.message && strncmp(err.message, prefix, strlen(prefix)) == 0, "message %s", err.message);
    }
    dtmx_barrier_free(b);
    dtmx_error_free(&err);
    case_end();
  }
  const char *machines[] = {"calls", "query_prepared", "xa"};
  for (int k = 0; k < 3; k++) {
    cJSON_ArrayForEach(c, jget(file, machines[k])) {
      case_begin("%s: %s %s", name, machines[k], jstr(c, "name"));
      for (int d = 0; d < 3; d++) {
        const cJSON *table = default_table(file, DIALECTS[d]);
        if (table == NULL) continue;
        DtmxError err = {0};
        DtmxBarrier *b = barrier_of(jget(c, "barrier"), &err);
        DtmxBarrierTable *t = dtmx_barrier_table_new(DIALECTS[d], NULL, &err);
        CHECK(b != NULL && t != NULL, "barrier: %s", err.message);
        if (k == 2 && same(jstr(c, "kind"), "rollback_fence")) {
          DtmxStatement *s = dtmx_barrier_xa_rollback_fence(b, t, &err);
          const cJSON *want = jget(c, "statement"), *params = jget(want, "params");
          CHECK_STR(dtmx_statement_sql(s), jstr(table, jstr(want, "run")));
          CHECK((int)dtmx_statement_param_count(s) == cJSON_GetArraySize(params), "param count");
          for (int i = 0; i < cJSON_GetArraySize(params); i++) {
            CHECK_STR(dtmx_statement_param(s, (size_t)i), cJSON_GetArrayItem(params, i)->valuestring);
          }
          dtmx_statement_free(s);
        } else {
          if (k == 0) advance(b, c);
          DtmxBarrierCall *m = k == 0   ? dtmx_barrier_call_machine(b, t, &err)
                               : k == 1 ? dtmx_barrier_query_prepared_machine(b, t, &err)
                                        : dtmx_barrier_xa_action_machine(b, t, &err);
          const char *result = replay_steps(m, jget(c, "steps"), table, &err);
          const char *want = k == 1 ? jstr(c, "result") : jstr(c, "decision");
          if (want != NULL) {
            CHECK_STR(result, want);
          } else {
            CHECK(result == NULL, "result %s", result);
            CHECK_STR(code_name(err.code), jstr(c, "error_kind"));
          }
          if (k == 0) {
            DtmxCode check = dtmx_barrier_call_check(m, &err);
            CHECK_STR(code_name(check), jstr(c, "error_kind") ? jstr(c, "error_kind") : "ok");
            int decided = dtmx_barrier_call_decision(m);
            CHECK(decided != DTMX_DECISION_NONE, "no decision");
          }
          dtmx_barrier_call_free(m);
        }
        dtmx_barrier_free(b);
        dtmx_barrier_table_free(t);
        dtmx_error_free(&err);
      }
      case_end();
    }
  }
  const char *redis[] = {"redis_check_adjust_amount", "redis_query_prepared"};
  for (int k = 0; k < 2; k++) {
    cJSON_ArrayForEach(c, jget(file, redis[k])) {
      case_begin("%s: %s %s", name, redis[k], jstr(c, "name"));
      DtmxError err = {0};
      DtmxBarrier *b = barrier_of(jget(c, "barrier"), &err);
      advance(b, c);
      uint64_t expire = (uint64_t)jnum(c, "expire", 0);
      DtmxRedisCall *r = k == 0 ? dtmx_barrier_redis_check_adjust_amount_call(
                                      b, jstr(c, "key"), (int64_t)jnum(c, "amount", 0), expire, &err)
                                : dtmx_barrier_redis_query_prepared_call(b, expire, &err);
      const cJSON *keys = jget(c, "keys"), *args = jget(c, "args");
      if (keys == NULL || cJSON_IsNull(keys)) {
        CHECK(r == NULL, "accepted");
        CHECK_STR(code_name(err.code), jstr(c, "error_kind"));
      } else {
        CHECK((int)dtmx_redis_call_key_count(r) == cJSON_GetArraySize(keys), "key count");
        for (int i = 0; i < cJSON_GetArraySize(keys); i++) {
          CHECK_STR(dtmx_redis_call_key(r, (size_t)i), cJSON_GetArrayItem(keys, i)->valuestring);
        }
        CHECK((int)dtmx_redis_call_arg_count(r) == cJSON_GetArraySize(args), "arg count");
        for (int i = 0; i < cJSON_GetArraySize(args); i++) {
          CHECK_STR(dtmx_redis_call_arg(r, (size_t)i), cJSON_GetArrayItem(args, i)->valuestring);
        }
        CHECK(dtmx_redis_call_script(r) != NULL && strlen(dtmx_redis_call_script(r)) > 0, "script");
        const char *got = dtmx_redis_call_decide(r, jstr(c, "reply"), &err);
        const char *want = k == 0 ? jstr(c, "decision") : jstr(c, "result");
        if (want != NULL) {
          CHECK_STR(got, want);
        } else {
          CHECK(got == NULL, "decided %s", got);
          CHECK_STR(code_name(err.code), jstr(c, "error_kind"));
        }
      }
      dtmx_redis_call_free(r);
      dtmx_barrier_free(b);
      dtmx_error_free(&err);
      case_end();
    }
  }
  cJSON_Delete(file);
}

static void replay_barrier(const char *dir) {
  DIR *d = opendir(dir);
  if (d == NULL) {
    fprintf(stderr, "cannot open %s\n", dir);
    exit(2);
  }
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t n = strlen(e->d_name);
    if (strncmp(e->d_name, "barrier", 7) == 0 && n > 5 && strcmp(e->d_name + n - 5, ".json") == 0) {
      char path[1024];
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      replay_barrier_file(path, e->d_name);
    }
  }
  closedir(d);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "tests/vectors";
  replay_requests(dir);
  replay_replies(dir);
  replay_barrier(dir);
  return summary("vectors");
}
