/* Replays every scenario of tests/vectors/scenarios (see the README there) through
 * libdtmx's public C API against judge.py, the scripted DTM server, branch service and
 * judge; the barrier scenarios drive DtmxGuard on a real SQLite database (libsqlite3).
 * Usage: scenarios <tests/vectors/scenarios directory>.
 *
 * judge.py runs as a child with its standard input on a pipe (closing it stops the
 * judge); the replay talks to it with a small HTTP/1.1 client over a socket. */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static int judge_port;

/* Starts judge.py from `dir`; returns its pid, the write end of its stdin in `*stdin_fd`. */
static pid_t judge_start(const char *dir, int *stdin_fd) {
  int to[2], from[2];
  if (pipe(to) != 0 || pipe(from) != 0) {
    perror("pipe");
    exit(2);
  }
  pid_t pid = fork();
  if (pid == 0) {
    dup2(to[0], 0);
    dup2(from[1], 1);
    close(to[0]);
    close(to[1]);
    close(from[0]);
    close(from[1]);
    char path[1024];
    snprintf(path, sizeof path, "%s/judge.py", dir);
    execlp("python3", "python3", path, (char *)NULL);
    _exit(127);
  }
  close(to[0]);
  close(from[1]);
  *stdin_fd = to[1];
  /* The first line: {"url": "http://127.0.0.1:PORT"}; the judge prints nothing else. */
  FILE *out = fdopen(from[0], "r");
  char line[512];
  if (out == NULL || fgets(line, sizeof line, out) == NULL) {
    fprintf(stderr, "judge.py did not start\n");
    exit(2);
  }
  fclose(out);
  cJSON *v = cJSON_Parse(line);
  const char *url = jstr(v, "url");
  const char *colon = url ? strrchr(url, ':') : NULL;
  judge_port = colon ? atoi(colon + 1) : 0;
  cJSON_Delete(v);
  if (judge_port == 0) {
    fprintf(stderr, "judge.py said %s\n", line);
    exit(2);
  }
  return pid;
}

/* POSTs `body` to the judge's `path` and returns its parsed JSON reply; exits on error. */
static cJSON *judge_post(const char *path, const cJSON *body) {
  char *json = cJSON_PrintUnformatted(body);
  size_t len = strlen(json);
  char head[256];
  int head_len = snprintf(head, sizeof head,
                          "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: "
                          "application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                          path, judge_port, len);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)judge_port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
      write(fd, head, (size_t)head_len) != head_len || write(fd, json, len) != (ssize_t)len) {
    perror("judge");
    exit(2);
  }
  free(json);
  size_t cap = 4096, used = 0;
  char *reply = malloc(cap);
  ssize_t n;
  while ((n = read(fd, reply + used, cap - used - 1)) > 0) {
    used += (size_t)n;
    if (used + 1 == cap) reply = realloc(reply, cap *= 2);
  }
  close(fd);
  reply[used] = '\0';
  const char *start = strstr(reply, "\r\n\r\n");
  cJSON *v = start ? cJSON_Parse(start + 4) : NULL;
  if (v == NULL) {
    fprintf(stderr, "judge answered %s to %s\n", reply, path);
    exit(2);
  }
  free(reply);
  return v;
}

/* `text` with every `{key}` of `urls` replaced by its URL (owned). */
static char *substitute(const char *text, const cJSON *urls) {
  char *out = strdup(text);
  const cJSON *u;
  cJSON_ArrayForEach(u, urls) {
    char key[64];
    snprintf(key, sizeof key, "{%s}", u->string);
    char *at;
    while ((at = strstr(out, key)) != NULL) {
      size_t before = (size_t)(at - out), klen = strlen(key), ulen = strlen(u->valuestring);
      char *next = malloc(strlen(out) - klen + ulen + 1);
      memcpy(next, out, before);
      memcpy(next + before, u->valuestring, ulen);
      strcpy(next + before + ulen, at + klen);
      free(out);
      out = next;
    }
  }
  return out;
}

/* A step's payload as the C API takes it (owned): JSON text, or for `$unserializable`
 * bytes that are not UTF-8. */
static char *payload_of(const cJSON *payload) {
  if (jget(payload, "$unserializable") != NULL) return strdup("\xff\xfe");
  return cJSON_PrintUnformatted(payload);
}

/* What a body runs and what it leaves: the value it returned, whether it raised the
 * host's own error. */
struct body {
  const cJSON *steps;
  cJSON *value;
  int raised_host;
};

/* Runs body steps on `tcc` or `xa` (neither for a msg's local work). */
static void run_body(struct body *b, const DtmxTcc *tcc, const DtmxXa *xa, DtmxError *error) {
  const cJSON *step;
  cJSON_ArrayForEach(step, b->steps) {
    const char *op = jstr(step, "op");
    if (same(op, "call_branch")) {
      char *payload = payload_of(jget(step, "payload"));
      char *reply = tcc != NULL ? dtmx_tcc_call_branch(tcc, payload, jstr(step, "try"),
                                                       jstr(step, "confirm"),
                                                       jstr(step, "cancel"), error)
                                : dtmx_xa_call_branch(xa, payload, jstr(step, "url"), error);
      free(payload);
      if (reply == NULL) return; /* the branch's error, reported as the body's */
      dtmx_string_free(reply);
    } else if (same(op, "return")) {
      cJSON_Delete(b->value);
      b->value = cJSON_Duplicate(jget(step, "value"), 1);
      return;
    } else if (same(op, "raise")) {
      if (same(jstr(step, "kind"), "host")) {
        b->raised_host = 1;
        dtmx_error_set_host(error, jstr(step, "message"));
      } else {
        dtmx_error_set(error, code_of(jstr(step, "kind")), jstr(step, "message"));
      }
      return;
    } else {
      CHECK(0, "unknown body step %s", op);
    }
  }
}

static void tcc_body(void *user, const DtmxTcc *tcc, DtmxError *error) {
  run_body(user, tcc, NULL, error);
}

static void xa_body(void *user, const DtmxXa *xa, DtmxError *error) {
  run_body(user, NULL, xa, error);
}

static void msg_body(void *user, DtmxBarrier *barrier, DtmxError *error) {
  CHECK_STR(dtmx_barrier_op(barrier), "msg");
  run_body(user, NULL, NULL, error);
}

/* The saga or msg steps (add, submit, do_and_submit); stops at the first error. */
static DtmxCode run_steps(DtmxSaga *saga, DtmxMsg *msg, const cJSON *steps, struct body *b,
                          DtmxError *err) {
  const cJSON *step;
  cJSON_ArrayForEach(step, steps) {
    const char *op = jstr(step, "op");
    DtmxCode code;
    if (same(op, "add")) {
      char *payload = payload_of(jget(step, "payload"));
      code = saga != NULL ? dtmx_saga_add(saga, jstr(step, "action"), jstr(step, "compensate"),
                                          payload, err)
                          : dtmx_msg_add(msg, jstr(step, "action"), payload, err);
      free(payload);
    } else if (same(op, "submit")) {
      code = saga != NULL ? dtmx_saga_submit(saga, err) : dtmx_msg_submit(msg, err);
    } else if (same(op, "do_and_submit") && msg != NULL) {
      b->steps = jget(step, "body");
      code = dtmx_msg_do_and_submit(msg, jstr(step, "query_prepared"), msg_body, b, err);
    } else {
      CHECK(0, "unknown step %s", op);
      code = DTMX_INTERNAL;
    }
    if (code != DTMX_OK) return code;
  }
  return DTMX_OK;
}

/* Runs scenario `s` (URLs substituted); its code, the error in `err`, the body in `b`. */
static DtmxCode run_scenario(const cJSON *s, const cJSON *urls, struct body *b, DtmxError *err) {
  const char *server = same(jstr(jget(s, "client"), "server"), "closed") ? jstr(urls, "closed")
                                                                          : jstr(urls, "dtm");
  DtmxClient *client = dtmx_client_new(server, err);
  if (client == NULL) return err->code;
  const cJSON *t = jget(s, "transaction"), *steps = jget(s, "steps");
  const char *type = jstr(t, "type"), *gid = jstr(t, "gid");
  char *options = cJSON_PrintUnformatted(jget(t, "options"));
  DtmxCode code;
  if (same(type, "saga") || same(type, "msg")) {
    DtmxSaga *saga = same(type, "saga") ? dtmx_saga_new(client, gid, options, err) : NULL;
    DtmxMsg *msg = same(type, "msg") ? dtmx_msg_new(client, gid, options, err) : NULL;
    code = saga != NULL || msg != NULL ? run_steps(saga, msg, steps, b, err) : err->code;
    dtmx_saga_free(saga);
    dtmx_msg_free(msg);
  } else {
    /* TCC and XA: one step, run, whose body runs on the transaction it is given. */
    b->steps = jget(cJSON_GetArrayItem(steps, 0), "body");
    if (same(type, "tcc")) {
      DtmxTcc *tcc = dtmx_tcc_new(client, gid, options, err);
      code = tcc != NULL ? dtmx_tcc_run(tcc, tcc_body, b, err) : err->code;
      dtmx_tcc_free(tcc);
    } else {
      DtmxXa *xa = dtmx_xa_new(client, gid, options, err);
      code = xa != NULL ? dtmx_xa_run(xa, xa_body, b, err) : err->code;
      dtmx_xa_free(xa);
    }
  }
  free(options);
  dtmx_client_free(client);
  return code;
}

/* The error as the judge reads it: kind, class, message, notes and status. */
static cJSON *error_json(DtmxCode code, const DtmxError *err, int host) {
  cJSON *e = cJSON_CreateObject();
  cJSON_AddStringToObject(e, "kind", host ? "host" : dtmx_code_name((int32_t)code));
  cJSON_AddStringToObject(e, "class", host ? "HostError" : dtmx_code_class((int32_t)code));
  cJSON_AddStringToObject(e, "message", err->message != NULL ? err->message : "");
  cJSON *notes = cJSON_AddArrayToObject(e, "notes");
  for (size_t i = 0; i < dtmx_error_note_count(err); i++) {
    cJSON_AddItemToArray(notes, cJSON_CreateString(dtmx_error_note(err, i)));
  }
  const char *status = dtmx_error_status(err);
  if (status != NULL) {
    cJSON_AddStringToObject(e, "status", status);
  } else {
    cJSON_AddNullToObject(e, "status");
  }
  return e;
}

/* The directory of the barrier scenarios' database files. */
static char db_dir[] = "/tmp/dtmx-c-scenarios-XXXXXX";

/* Reports the SQLite error of `db` as a failure (DTMX_DATABASE) in `failure`; returns 1. */
static int sqlite_failed(sqlite3 *db, DtmxError *failure) {
  dtmx_error_set(failure, DTMX_DATABASE, sqlite3_errmsg(db));
  return 1;
}

/* Runs `sql` with the text parameters of the guard's current statement (or `params`
 * when `g` is NULL); `*affected` the rows changed, `*reason` (owned, NULL: no row or
 * NULL) the first column of the first row when `reason` is not NULL. 1 on failure. */
static int run_sql(sqlite3 *db, const char *sql, const DtmxGuard *g, const char *const *params,
                   int n, uint64_t *affected, char **reason, DtmxError *failure) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return sqlite_failed(db, failure);
  if (g != NULL) n = (int)dtmx_guard_param_count(g);
  for (int i = 0; i < n; i++) {
    sqlite3_bind_text(st, i + 1, g != NULL ? dtmx_guard_param(g, (size_t)i) : params[i], -1,
                      SQLITE_TRANSIENT);
  }
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    sqlite_failed(db, failure);
    sqlite3_finalize(st);
    return 1;
  }
  if (reason != NULL) {
    const unsigned char *text = rc == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
    *reason = text != NULL ? strdup((const char *)text) : NULL;
  }
  if (affected != NULL) *affected = (uint64_t)sqlite3_changes(db);
  sqlite3_finalize(st);
  return 0;
}

/* Runs a statement without parameters (BEGIN, COMMIT, ROLLBACK). 1 on failure. */
static int run_plain(sqlite3 *db, const char *sql, DtmxError *failure) {
  return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : sqlite_failed(db, failure);
}

/* The business code of a barrier call: writes `(gid, value)` rows into ledger, then
 * returns or raises (the host's own error as dtmx_error_set_host makes it). */
static void barrier_business(sqlite3 *db, const char *gid, struct body *b, DtmxError *failure) {
  const cJSON *step;
  cJSON_ArrayForEach(step, b->steps) {
    const char *op = jstr(step, "op");
    if (same(op, "write")) {
      const char *params[] = {gid, jstr(step, "value")};
      if (run_sql(db, "insert into ledger (gid, value) values (?, ?)", NULL, params, 2, NULL,
                  NULL, failure))
        return;
    } else if (same(op, "return")) {
      cJSON_Delete(b->value);
      b->value = cJSON_Duplicate(jget(step, "value"), 1);
      return;
    } else if (same(op, "raise")) {
      if (same(jstr(step, "kind"), "host")) {
        b->raised_host = 1;
        dtmx_error_set_host(failure, jstr(step, "message"));
      } else {
        dtmx_error_set(failure, code_of(jstr(step, "kind")), jstr(step, "message"));
      }
      return;
    } else {
      CHECK(0, "unknown barrier body step %s", op);
    }
  }
}

/* Carries out the actions of `g` on `db` (the host loop): DTMX_OK when it returned (the
 * business code's value, if it ran, in b->value), else the code of the error in `err`
 * (b->raised_host stays set only when that error is the host's own). Frees `g`. */
static DtmxCode drive_guard(sqlite3 *db, DtmxGuard *g, const char *gid, struct body *b,
                            DtmxError *err) {
  for (;;) {
    DtmxError failure = {0};
    int failed = 0;
    uint64_t rows = 0;
    char *reason = NULL;
    DtmxGuardAction action = dtmx_guard_action(g);
    switch (action) {
      case DTMX_GUARD_BEGIN:
        failed = run_plain(db, "begin", &failure);
        break;
      case DTMX_GUARD_COMMIT:
        failed = run_plain(db, "commit", &failure);
        break;
      case DTMX_GUARD_ROLLBACK:
        failed = run_plain(db, "rollback", &failure);
        break;
      case DTMX_GUARD_RUN_BUSINESS:
        barrier_business(db, gid, b, &failure);
        failed = failure.code != DTMX_OK;
        break;
      case DTMX_GUARD_EXECUTE:
        failed = run_sql(db, dtmx_guard_sql(g), g, NULL, 0, &rows, NULL, &failure);
        if (!failed) CHECK(dtmx_guard_feed_affected(g, rows, err) == DTMX_OK, "fed rows");
        break;
      case DTMX_GUARD_QUERY_REASON:
        failed = run_sql(db, dtmx_guard_sql(g), g, NULL, 0, NULL, &reason, &failure);
        if (!failed) CHECK(dtmx_guard_feed_reason(g, reason, err) == DTMX_OK, "fed reason");
        free(reason);
        break;
      case DTMX_GUARD_RETURN: {
        if (dtmx_guard_decision(g) != DTMX_DECISION_RUN_BUSINESS) {
          cJSON_Delete(b->value);
          b->value = NULL;
        }
        dtmx_guard_free(g);
        return DTMX_OK;
      }
      case DTMX_GUARD_RAISE: {
        b->raised_host = b->raised_host && dtmx_guard_raises_failure(g);
        DtmxCode code = dtmx_guard_error(g, err);
        CHECK(code != DTMX_OK, "a raise without an error");
        dtmx_guard_free(g);
        return code;
      }
    }
    if (failed) {
      dtmx_guard_fail(g, &failure);
    } else if (action == DTMX_GUARD_BEGIN || action == DTMX_GUARD_COMMIT ||
               action == DTMX_GUARD_ROLLBACK || action == DTMX_GUARD_RUN_BUSINESS) {
      CHECK(dtmx_guard_ok(g, err) == DTMX_OK, "ok: %s", err->message);
    }
    dtmx_error_free(&failure);
  }
}

/* One barrier scenario step on `db`; its outcome ({"result"} or {"error"}). */
static cJSON *barrier_step(sqlite3 *db, const DtmxBarrierTable *table, const cJSON *step) {
  const char *op = jstr(step, "op");
  DtmxError err = {0};
  struct body b = {0};
  DtmxCode code = DTMX_OK;
  int in_transaction = !sqlite3_get_autocommit(db);
  if (same(op, "begin") || same(op, "commit") || same(op, "rollback")) {
    if (run_plain(db, op, &err)) code = err.code;
  } else if (same(op, "check_back")) {
    const char *gid = jstr(step, "gid");
    DtmxBarrier *barrier = dtmx_barrier_for_msg(gid, &err);
    DtmxGuard *g = barrier != NULL ? dtmx_guard_check_back(barrier, table, in_transaction, &err)
                                   : NULL;
    CHECK(g != NULL, "check-back guard: %s", err.message);
    if (g != NULL) code = drive_guard(db, g, gid, &b, &err);
    dtmx_barrier_free(barrier);
  } else if (same(op, "barrier_call")) {
    const cJSON *f = jget(step, "barrier");
    DtmxBarrier *barrier = dtmx_barrier_new(jstr(f, "trans_type"), jstr(f, "gid"),
                                            jstr(f, "branch_id"), jstr(f, "op"), &err);
    DtmxGuard *g =
        barrier != NULL ? dtmx_guard_new(barrier, table, in_transaction, &err) : NULL;
    CHECK(g != NULL, "guard: %s", err.message);
    if (g != NULL) {
      CHECK_STR(dtmx_guard_ownership(g), in_transaction ? "join" : "own");
      b.steps = jget(step, "body");
      code = drive_guard(db, g, jstr(f, "gid"), &b, &err);
    }
    dtmx_barrier_free(barrier);
  } else {
    CHECK(0, "unknown barrier step %s", op);
  }
  cJSON *out = cJSON_CreateObject();
  if (code == DTMX_OK) {
    cJSON_AddItemToObject(out, "result", b.value != NULL ? b.value : cJSON_CreateNull());
    b.value = NULL;
  } else {
    cJSON_AddItemToObject(out, "error", error_json(code, &err, b.raised_host));
  }
  cJSON_Delete(b.value);
  dtmx_error_free(&err);
  return out;
}

/* Opens the scenario's database file `path` (WAL, so a second connection reads while the
 * first holds a transaction). */
static sqlite3 *open_db(const char *path) {
  sqlite3 *db = NULL;
  if (sqlite3_open(path, &db) != SQLITE_OK ||
      sqlite3_exec(db, "pragma journal_mode=wal", NULL, NULL, NULL) != SQLITE_OK) {
    fprintf(stderr, "cannot open %s: %s\n", path, sqlite3_errmsg(db));
    exit(2);
  }
  sqlite3_busy_timeout(db, 10000);
  return db;
}

/* The rows of `sql` on `db` as an array: each row's columns joined by a space, or
 * (`as_lists`) as an array of strings. */
static cJSON *read_rows(sqlite3 *db, const char *sql, int as_lists) {
  cJSON *rows = cJSON_CreateArray();
  sqlite3_stmt *st = NULL;
  CHECK(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(db));
  while (st != NULL && sqlite3_step(st) == SQLITE_ROW) {
    if (as_lists) {
      cJSON *row = cJSON_CreateArray();
      for (int i = 0; i < sqlite3_column_count(st); i++) {
        cJSON_AddItemToArray(row, cJSON_CreateString((const char *)sqlite3_column_text(st, i)));
      }
      cJSON_AddItemToArray(rows, row);
    } else {
      cJSON_AddItemToArray(rows, cJSON_CreateString((const char *)sqlite3_column_text(st, 0)));
    }
  }
  sqlite3_finalize(st);
  return rows;
}

/* Runs a barrier scenario on a new SQLite database: every step on one connection, then
 * what is committed read on a second one. Returns the outcome for the judge. */
static cJSON *run_barrier_scenario(const cJSON *s) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s.db", db_dir, jstr(s, "name"));
  sqlite3 *db = open_db(path);
  DtmxError err = {0};
  DtmxBarrierTable *table = dtmx_barrier_table_new("sqlite", NULL, &err);
  CHECK(table != NULL, "table: %s", err.message);
  for (size_t i = 0; i < dtmx_barrier_table_ddl_count(table); i++) {
    char *ddl = dtmx_barrier_table_ddl(table, i);
    CHECK(sqlite3_exec(db, ddl, NULL, NULL, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(db));
    dtmx_string_free(ddl);
  }
  CHECK(sqlite3_exec(db, "create table ledger (gid text, value text)", NULL, NULL, NULL) ==
            SQLITE_OK,
        "ledger");

  cJSON *outcome = cJSON_CreateObject();
  cJSON_AddStringToObject(outcome, "host", "c");
  cJSON *outcomes = cJSON_AddArrayToObject(outcome, "outcomes");
  const cJSON *step;
  cJSON_ArrayForEach(step, jget(s, "steps")) {
    cJSON_AddItemToArray(outcomes, barrier_step(db, table, step));
  }
  int in_transaction = !sqlite3_get_autocommit(db);
  sqlite3 *reader = open_db(path);
  cJSON_AddItemToObject(outcome, "ledger",
                        read_rows(reader, "select gid || ' ' || value from ledger order by 1", 0));
  cJSON_AddItemToObject(outcome, "barrier_rows",
                        read_rows(reader,
                                  "select trans_type, gid, branch_id, op, barrier_id, reason "
                                  "from barrier order by 1, 2, 3, 4, 5, 6",
                                  1));
  cJSON_AddBoolToObject(outcome, "in_transaction", in_transaction);
  sqlite3_close(reader);
  sqlite3_close(db);
  dtmx_barrier_table_free(table);
  dtmx_error_free(&err);
  const char *suffixes[] = {"", "-wal", "-shm"};
  for (size_t i = 0; i < 3; i++) {
    char file[600];
    snprintf(file, sizeof file, "%s%s", path, suffixes[i]);
    unlink(file);
  }
  return outcome;
}

/* Replays one scenario and asks the judge. */
static void replay(const cJSON *scenario) {
  const char *name = jstr(scenario, "name");
  case_begin("%s", name);
  cJSON *ask = cJSON_CreateObject();
  cJSON_AddStringToObject(ask, "name", name);
  cJSON *urls = judge_post("/__scenario", ask);
  char *text = cJSON_PrintUnformatted(scenario);
  char *substituted = substitute(text, urls);
  cJSON *s = cJSON_Parse(substituted);

  DtmxError err = {0};
  struct body b = {0};
  cJSON *outcome;
  if (jget(s, "database") != NULL) {
    CHECK_STR(jstr(s, "database"), "sqlite");
    outcome = run_barrier_scenario(s);
  } else {
    DtmxCode code = run_scenario(s, urls, &b, &err);
    outcome = cJSON_CreateObject();
    cJSON_AddStringToObject(outcome, "host", "c");
    if (code == DTMX_OK) {
      cJSON_AddItemToObject(outcome, "result", b.value != NULL ? b.value : cJSON_CreateNull());
      b.value = NULL;
      cJSON_AddNullToObject(outcome, "error");
    } else {
      /* The host's own error is the body's, returned as it was set (DTMX_DATABASE). */
      int host = b.raised_host && code == DTMX_DATABASE;
      cJSON_AddNullToObject(outcome, "result");
      cJSON_AddItemToObject(outcome, "error", error_json(code, &err, host));
    }
  }
  cJSON *verdict = judge_post("/__outcome", outcome);
  if (!cJSON_IsTrue(jget(verdict, "ok"))) {
    char *problems = cJSON_PrintUnformatted(jget(verdict, "problems"));
    CHECK(0, "%s", problems);
    free(problems);
  }
  cJSON_Delete(verdict);
  cJSON_Delete(outcome);
  cJSON_Delete(b.value);
  dtmx_error_free(&err);
  cJSON_Delete(s);
  free(substituted);
  free(text);
  cJSON_Delete(urls);
  cJSON_Delete(ask);
  case_end();
}

static int json_file(const struct dirent *e) {
  size_t n = strlen(e->d_name);
  return n > 5 && strcmp(e->d_name + n - 5, ".json") == 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: scenarios <tests/vectors/scenarios directory>\n");
    return 2;
  }
  if (mkdtemp(db_dir) == NULL) {
    perror("mkdtemp");
    return 2;
  }
  int judge_in;
  pid_t judge = judge_start(argv[1], &judge_in);
  struct dirent **files;
  int n = scandir(argv[1], &files, json_file, alphasort);
  int count = 0;
  for (int i = 0; i < n; i++) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", argv[1], files[i]->d_name);
    cJSON *doc = load_json(path);
    const cJSON *scenario;
    cJSON_ArrayForEach(scenario, jget(doc, "scenarios")) {
      replay(scenario);
      count++;
    }
    cJSON_Delete(doc);
    free(files[i]);
  }
  free(files);
  rmdir(db_dir);
  close(judge_in);
  waitpid(judge, NULL, 0);
  if (count < 30) {
    fprintf(stderr, "only %d scenarios found in %s\n", count, argv[1]);
    return 1;
  }
  return summary("scenarios");
}
