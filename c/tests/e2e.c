/* End-to-end tests of libdtmx against a real dtmx server and a business service
 * (tests/busi.py). Usage: e2e <dtm server URL> <business service URL> [<URL of a server
 * with authentication on> <its submit token>]. */
#include "check.h"

static const char *DTM, *BUSI;
static DtmxClient *client;
static DtmxClient *records; /* reads the business service's record of calls */

/* "<BUSI>/api/busi/<name>" in a static buffer (one of four, used round-robin). */
static const char *busi_url(const char *name) {
  static char bufs[4][256];
  static int next;
  char *b = bufs[next++ % 4];
  snprintf(b, sizeof bufs[0], "%s/api/busi/%s", BUSI, name);
  return b;
}

/* The final status of `gid` (owned), after waiting for it. */
static char *final_status(const char *gid) {
  DtmxError err = {0};
  char *status = dtmx_client_wait_final(client, gid, 10000, &err);
  CHECK(status != NULL, "wait_final %s: %s", gid, err.message);
  dtmx_error_free(&err);
  return status;
}

/* Whether the business service saw call `what` ("TransIn action") for `gid`. */
static int busi_saw(const char *gid, const char *what);

static void test_saga_success(void) {
  case_begin("saga commits");
  DtmxError err = {0};
  DtmxSaga *saga = dtmx_saga_new(client, NULL, "{\"wait_result\":true}", &err);
  CHECK(saga != NULL, "new: %s", err.message);
  const char *payload = "{\"amount\":30}";
  CHECK(dtmx_saga_add(saga, busi_url("TransOut"), busi_url("TransOutRevert"), payload, &err) ==
            DTMX_OK,
        "add: %s", err.message);
  CHECK(dtmx_saga_add(saga, busi_url("TransIn"), busi_url("TransInRevert"), payload, &err) ==
            DTMX_OK,
        "add: %s", err.message);
  CHECK(dtmx_saga_submit(saga, &err) == DTMX_OK, "submit: %s", err.message);
  CHECK(err.code == DTMX_OK && err.message == NULL, "error cleared after success");
  char *status = final_status(dtmx_saga_gid(saga));
  CHECK_STR(status, "succeed");
  CHECK(busi_saw(dtmx_saga_gid(saga), "TransOut action"), "TransOut called");
  CHECK(busi_saw(dtmx_saga_gid(saga), "TransIn action"), "TransIn called");
  CHECK(!busi_saw(dtmx_saga_gid(saga), "TransOutRevert compensate"), "no compensation");
  dtmx_string_free(status);
  dtmx_saga_free(saga);
  dtmx_error_free(&err);
  case_end();
}

static void test_saga_rollback(void) {
  case_begin("saga rolls back");
  DtmxError err = {0};
  DtmxSaga *saga = dtmx_saga_new(client, "", "{\"wait_result\":true,\"retry_limit\":0}", &err);
  dtmx_saga_add(saga, busi_url("TransOut"), busi_url("TransOutRevert"), "{}", &err);
  dtmx_saga_add(saga, busi_url("TransInFail"), busi_url("TransInRevert"), "{}", &err);
  CHECK(dtmx_saga_submit(saga, &err) == DTMX_FAILURE, "submit: %s", code_name(err.code));
  CHECK(err.message != NULL && strlen(err.message) > 0, "a message");
  CHECK_STR(dtmx_error_status(&err), "failed");
  CHECK(dtmx_error_note_count(&err) == 0, "no notes");
  char *status = final_status(dtmx_saga_gid(saga));
  CHECK_STR(status, "failed");
  CHECK(busi_saw(dtmx_saga_gid(saga), "TransOutRevert compensate"), "TransOut compensated");
  dtmx_string_free(status);
  dtmx_saga_free(saga);
  dtmx_error_free(&err);
  case_end();
}

static void test_msg(void) {
  case_begin("msg prepare and submit");
  DtmxError err = {0};
  char *gid = dtmx_client_new_gid(client, &err);
  CHECK(gid != NULL && strlen(gid) > 0, "new gid: %s", err.message);
  DtmxMsg *msg = dtmx_msg_new(client, gid, NULL, &err);
  CHECK_STR(dtmx_msg_gid(msg), gid);
  dtmx_msg_add(msg, busi_url("TransIn"), "{\"amount\":5}", &err);
  CHECK(dtmx_msg_prepare(msg, busi_url("QueryPrepared"), &err) == DTMX_OK, "prepare: %s",
        err.message);
  CHECK(dtmx_msg_submit(msg, &err) == DTMX_OK, "submit: %s", err.message);
  char *status = final_status(gid);
  CHECK_STR(status, "succeed");
  CHECK(busi_saw(gid, "TransIn action"), "TransIn called");
  dtmx_string_free(status);
  dtmx_string_free(gid);
  dtmx_msg_free(msg);
  dtmx_error_free(&err);
  case_end();
}

static int local_runs;

/* The local transaction of do_and_submit: fails when `user` is not NULL. */
static void local(void *user, DtmxBarrier *barrier, DtmxError *error) {
  local_runs++;
  CHECK_STR(dtmx_barrier_op(barrier), "msg");
  if (user != NULL) dtmx_error_set(error, DTMX_FAILURE, "not enough money");
}

static void test_msg_do_and_submit(void) {
  case_begin("msg do_and_submit");
  DtmxError err = {0};
  DtmxMsg *ok = dtmx_msg_new(client, NULL, NULL, &err);
  dtmx_msg_add(ok, busi_url("TransIn"), "{}", &err);
  CHECK(dtmx_msg_do_and_submit(ok, busi_url("QueryPrepared"), local, NULL, &err) == DTMX_OK,
        "do_and_submit: %s", err.message);
  char *status = final_status(dtmx_msg_gid(ok));
  CHECK_STR(status, "succeed");
  dtmx_string_free(status);

  DtmxMsg *refused = dtmx_msg_new(client, NULL, NULL, &err);
  dtmx_msg_add(refused, busi_url("TransIn"), "{}", &err);
  CHECK(dtmx_msg_do_and_submit(refused, busi_url("QueryPrepared"), local, "fail", &err) ==
            DTMX_FAILURE,
        "refused: %s", code_name(err.code));
  CHECK_STR(err.message, "not enough money");
  status = final_status(dtmx_msg_gid(refused));
  CHECK_STR(status, "failed");
  CHECK(!busi_saw(dtmx_msg_gid(refused), "TransIn action"), "no step after an abort");
  CHECK(local_runs == 2, "local transaction ran %d times", local_runs);
  dtmx_string_free(status);
  dtmx_msg_free(ok);
  dtmx_msg_free(refused);
  dtmx_error_free(&err);
  case_end();
}

static void test_tcc(int fail) {
  case_begin(fail ? "tcc cancels" : "tcc confirms");
  DtmxError err = {0};
  DtmxTcc *tcc = dtmx_tcc_new(client, NULL, NULL, &err);
  CHECK(dtmx_tcc_prepare(tcc, &err) == DTMX_OK, "prepare: %s", err.message);
  char *id = dtmx_tcc_current_branch_id(tcc);
  CHECK_STR(id, "00");
  dtmx_string_free(id);
  char *body = dtmx_tcc_call_branch(tcc, "{\"amount\":1}", busi_url("TccTry"),
                                    busi_url("TccConfirm"), busi_url("TccCancel"), &err);
  CHECK(body != NULL && strstr(body, "SUCCESS") != NULL, "try: %s", err.message);
  id = dtmx_tcc_current_branch_id(tcc);
  CHECK_STR(id, "01");
  dtmx_string_free(id);
  dtmx_string_free(body);
  body = dtmx_tcc_call_branch(tcc, "{\"amount\":1}", busi_url(fail ? "TccTryFail" : "TccTry"),
                              busi_url("TccConfirm"), busi_url("TccCancel"), &err);
  if (fail) {
    CHECK(body == NULL && err.code == DTMX_FAILURE, "try refused: %s", code_name(err.code));
    CHECK(dtmx_tcc_abort(tcc, err.message, &err) == DTMX_OK, "abort: %s", err.message);
  } else {
    CHECK(body != NULL, "try: %s", err.message);
    CHECK(dtmx_tcc_submit(tcc, &err) == DTMX_OK, "submit: %s", err.message);
  }
  dtmx_string_free(body);
  char *status = final_status(dtmx_tcc_gid(tcc));
  CHECK_STR(status, fail ? "failed" : "succeed");
  CHECK(busi_saw(dtmx_tcc_gid(tcc), fail ? "TccCancel cancel" : "TccConfirm confirm"),
        "phase two called");
  dtmx_string_free(status);
  dtmx_tcc_free(tcc);
  dtmx_error_free(&err);
  case_end();
}

/* What a run's body did: the URL of its second try, whether a blocking call of its own
 * worked. */
struct tries {
  const char *second;
  int nested_call;
};

/* The body of dtmx_tcc_run: two tries (the second as `user` says), and a blocking dtmx
 * call of its own, which a body may make. */
static void tcc_tries(void *user, const DtmxTcc *tcc, DtmxError *error) {
  struct tries *t = user;
  char *gid = dtmx_client_new_gid(client, NULL);
  t->nested_call = gid != NULL && strlen(gid) > 0;
  dtmx_string_free(gid);
  char *body = dtmx_tcc_call_branch(tcc, "{\"amount\":1}", busi_url("TccTry"),
                                    busi_url("TccConfirm"), busi_url("TccCancel"), error);
  if (body == NULL) return;
  dtmx_string_free(body);
  body = dtmx_tcc_call_branch(tcc, "{\"amount\":1}", busi_url(t->second), busi_url("TccConfirm"),
                              busi_url("TccCancel"), error);
  dtmx_string_free(body);
}

static void test_tcc_run(int fail) {
  case_begin(fail ? "tcc run cancels" : "tcc run confirms");
  DtmxError err = {0};
  DtmxTcc *tcc = dtmx_tcc_new(client, NULL, "{\"wait_result\":true}", &err);
  struct tries t = {fail ? "TccTryFail" : "TccTry", 0};
  DtmxCode code = dtmx_tcc_run(tcc, tcc_tries, &t, &err);
  if (fail) {
    CHECK(code == DTMX_FAILURE, "run: %s %s", code_name(code), err.message);
    CHECK(err.message != NULL && strstr(err.message, "TccTryFail refused") != NULL,
          "the try's error: %s", err.message);
    CHECK(dtmx_error_note_count(&err) == 0, "the abort worked: no note");
  } else {
    CHECK(code == DTMX_OK, "run: %s", err.message);
  }
  CHECK(t.nested_call, "a blocking call inside the body");
  char *status = final_status(dtmx_tcc_gid(tcc));
  CHECK_STR(status, fail ? "failed" : "succeed");
  CHECK(busi_saw(dtmx_tcc_gid(tcc), fail ? "TccCancel cancel" : "TccConfirm confirm"),
        "phase two called");
  CHECK(dtmx_tcc_run(tcc, NULL, NULL, &err) == DTMX_INVALID_ARGUMENT, "NULL body");
  dtmx_string_free(status);
  dtmx_tcc_free(tcc);
  dtmx_error_free(&err);
  case_end();
}

/* The body of dtmx_xa_run: one branch call. */
static void xa_action(void *user, const DtmxXa *xa, DtmxError *error) {
  (void)user;
  dtmx_string_free(dtmx_xa_call_branch(xa, "{\"amount\":2}", busi_url("XaAction"), error));
}

static void test_xa_run(void) {
  case_begin("xa run commits");
  DtmxError err = {0};
  DtmxXa *xa = dtmx_xa_new(client, NULL, NULL, &err);
  CHECK(dtmx_xa_run(xa, xa_action, NULL, &err) == DTMX_OK, "run: %s", err.message);
  char *status = final_status(dtmx_xa_gid(xa));
  CHECK_STR(status, "succeed");
  /* The branch's own XA (its registration and phase two) is the RM side, not here. */
  CHECK(busi_saw(dtmx_xa_gid(xa), "XaAction action"), "phase one called");
  dtmx_string_free(status);
  dtmx_xa_free(xa);
  dtmx_error_free(&err);
  case_end();
}

static void test_query(void) {
  case_begin("query");
  DtmxError err = {0};
  DtmxSaga *saga = dtmx_saga_new(client, NULL, "{\"wait_result\":true}", &err);
  dtmx_saga_add(saga, busi_url("TransOut"), busi_url("TransOutRevert"), "{}", &err);
  dtmx_saga_submit(saga, &err);
  char *server = dtmx_client_server(client, &err);
  CHECK(server != NULL && strstr(server, "/api/dtmsvr") != NULL, "server %s", server);
  dtmx_string_free(server);
  DtmxXa *xa = dtmx_xa_new(client, NULL, NULL, &err);
  char *id = dtmx_xa_current_branch_id(xa);
  CHECK_STR(id, "00");
  dtmx_string_free(id);
  dtmx_xa_free(xa);
  char *json = dtmx_client_query(client, dtmx_saga_gid(saga), &err);
  CHECK(json != NULL, "query: %s", err.message);
  cJSON *v = cJSON_Parse(json);
  CHECK_STR(jstr(jget(v, "transaction"), "gid"), dtmx_saga_gid(saga));
  CHECK(cJSON_GetArraySize(jget(v, "branches")) == 2, "two branches");
  cJSON_Delete(v);
  dtmx_string_free(json);
  dtmx_saga_free(saga);
  dtmx_error_free(&err);
  case_end();
}

static void test_bad_input(void) {
  case_begin("bad input");
  DtmxError err = {0};
  CHECK(dtmx_client_new(NULL, &err) == NULL && err.code == DTMX_INVALID_ARGUMENT, "NULL server");
  CHECK(dtmx_client_new("localhost:36789", &err) == NULL && err.code == DTMX_INVALID_ARGUMENT,
        "no scheme");
  CHECK(dtmx_saga_new(client, NULL, "{\"wait_result\":1}", &err) == NULL &&
            err.code == DTMX_INVALID_ARGUMENT,
        "options type");
  CHECK(dtmx_saga_new(client, NULL, "{\"retry_limt\":1}", &err) == NULL &&
            err.code == DTMX_INVALID_ARGUMENT,
        "unknown option");
  CHECK_STR(err.message, "unknown option \"retry_limt\"");
  CHECK(dtmx_saga_new(client, NULL, "{\"timeout_to_fail\":-1}", &err) == NULL &&
            err.code == DTMX_INVALID_ARGUMENT,
        "negative option");
  CHECK(dtmx_saga_add(NULL, "x", "y", "{}", &err) == DTMX_INVALID_ARGUMENT, "NULL saga");
  DtmxSaga *saga = dtmx_saga_new(client, NULL, NULL, &err);
  CHECK(dtmx_saga_add(saga, NULL, "y", "{}", &err) == DTMX_INVALID_ARGUMENT, "NULL action");
  CHECK(strstr(err.message, "action") != NULL, "message names the argument: %s", err.message);
  const char bad_utf8[] = {'h', 't', (char)0xff, 0};
  CHECK(dtmx_saga_add(saga, bad_utf8, "y", "{}", &err) == DTMX_INVALID_ARGUMENT, "not UTF-8");
  /* A payload that is not UTF-8 is the core's invalid payload, at the submit. */
  CHECK(dtmx_saga_add(saga, busi_url("TransOut"), "", bad_utf8, &err) == DTMX_OK, "add: %s",
        err.message);
  CHECK(dtmx_saga_submit(saga, &err) == DTMX_INVALID_ARGUMENT, "bad payload: %s",
        code_name(err.code));
  CHECK(strncmp(err.message, "invalid payload", 15) == 0, "message: %s", err.message);
  dtmx_saga_free(saga);
  dtmx_saga_free(NULL);
  dtmx_client_free(NULL);
  dtmx_string_free(NULL);
  dtmx_error_free(NULL);

  DtmxClient *nowhere = dtmx_client_new("http://127.0.0.1:9/api/dtmsvr", &err);
  DtmxSaga *lost = dtmx_saga_new(nowhere, NULL, "{\"request_timeout\":2}", &err);
  dtmx_saga_add(lost, busi_url("TransOut"), busi_url("TransOutRevert"), "{}", &err);
  CHECK(dtmx_saga_submit(lost, &err) == DTMX_TRANSPORT, "no server: %s", code_name(err.code));
  dtmx_saga_free(lost);
  dtmx_client_free(nowhere);
  CHECK_STR(dtmx_code_name(DTMX_FAILURE), "failure");
  CHECK_STR(dtmx_code_class(DTMX_FAILURE), "FailureError");
  CHECK_STR(dtmx_code_name(0), "ok");
  dtmx_error_free(&err);
  case_end();
}

static void test_error_helpers(void) {
  case_begin("error helpers");
  DtmxError err = {0};
  dtmx_error_set_host(&err, "disk on fire");
  CHECK(err.code == DTMX_DATABASE, "host error: %s", code_name(err.code));
  CHECK_STR(err.message, "disk on fire");
  dtmx_error_set_invalid_payload(&err, "NaN");
  CHECK(err.code == DTMX_INVALID_ARGUMENT, "invalid payload: %s", code_name(err.code));
  CHECK(strncmp(err.message, "invalid payload", 15) == 0 && strstr(err.message, "NaN") != NULL,
        "message: %s", err.message);
  CHECK(dtmx_error_note_count(&err) == 0 && dtmx_error_note(&err, 0) == NULL, "no notes");
  CHECK(dtmx_error_status(&err) == NULL, "no status");
  CHECK(dtmx_error_note_count(NULL) == 0 && dtmx_error_status(NULL) == NULL, "NULL-safe");
  dtmx_error_set(&err, DTMX_UNFINISHED, "later");
  CHECK_STR(dtmx_code_name(err.code), "unfinished");
  CHECK_STR(dtmx_code_class(DTMX_UNFINISHED), "UnfinishedError");

  /* The msg barrier and the check-back's answer come from the core. */
  DtmxBarrier *b = dtmx_barrier_for_msg("g-msg", &err);
  CHECK_STR(dtmx_barrier_trans_type(b), "msg");
  CHECK_STR(dtmx_barrier_gid(b), "g-msg");
  CHECK_STR(dtmx_barrier_branch_id(b), "00");
  CHECK_STR(dtmx_barrier_op(b), "msg");
  CHECK(dtmx_barrier_check_back(b, "SUCCESS", &err) == DTMX_OK, "committed");
  CHECK(dtmx_barrier_check_back(b, "FAILURE", &err) == DTMX_FAILURE, "not committed");
  CHECK(err.message != NULL && strstr(err.message, "g-msg") != NULL, "message: %s", err.message);
  CHECK(dtmx_barrier_check_back(b, "maybe", &err) == DTMX_INVALID_ARGUMENT, "unknown result");
  CHECK(dtmx_barrier_for_msg("", &err) == NULL && err.code == DTMX_INVALID_ARGUMENT, "no gid");
  CHECK(dtmx_barrier_redis_default_expire() == 7 * 24 * 3600, "a week");
  dtmx_barrier_free(b);
  dtmx_error_free(&err);
  case_end();
}

/* Reads the business service's record of calls for `gid` with libdtmx's own HTTP stack:
 * a client whose "server" is <busi>/api/busi/record sends its query to
 * <busi>/api/busi/record/query?gid=..., which busi.py answers with the list of calls. */
static int busi_saw(const char *gid, const char *what) {
  char *json = dtmx_client_query(records, gid, NULL);
  if (json == NULL) return 0;
  cJSON *list = cJSON_Parse(json), *each;
  int found = 0;
  cJSON_ArrayForEach(each, list) found |= same(each->valuestring, what);
  cJSON_Delete(list);
  dtmx_string_free(json);
  return found;
}

/* A saga of one TransOut step on `c`: its submit's code; the message in `err`. */
static DtmxCode submit_one(DtmxClient *c, DtmxError *err, char **gid) {
  DtmxSaga *saga = dtmx_saga_new(c, NULL, "{\"wait_result\":true}", err);
  CHECK(saga != NULL, "new: %s", err->message);
  if (saga == NULL) return err->code;
  dtmx_saga_add(saga, busi_url("TransOut"), busi_url("TransOutRevert"), "{}", err);
  DtmxCode code = dtmx_saga_submit(saga, err);
  if (gid != NULL) {
    size_t n = strlen(dtmx_saga_gid(saga)) + 1;
    *gid = malloc(n);
    memcpy(*gid, dtmx_saga_gid(saga), n);
  }
  dtmx_saga_free(saga);
  return code;
}

static void test_token(const char *server, const char *token) {
  case_begin("bearer token");
  DtmxError err = {0};
  DtmxClient *c = dtmx_client_new(server, &err);
  CHECK(c != NULL, "client: %s", err.message);

  /* Without a token the server answers 401: a server error. */
  CHECK(submit_one(c, &err, NULL) == DTMX_SERVER, "no token: %s", code_name(err.code));
  CHECK(err.message != NULL && strlen(err.message) > 0, "a message");
  char *gid = dtmx_client_new_gid(c, &err);
  CHECK(gid == NULL && err.code == DTMX_SERVER, "new gid without token: %s", code_name(err.code));

  /* Malformed tokens are refused and leave the client as it was. */
  const char *bad[] = {"", "a b", "tok\n", "tok\r\nX-Evil: 1", "\ttok", NULL};
  for (int i = 0; bad[i] != NULL; i++) {
    CHECK(dtmx_client_set_token(c, bad[i], &err) == DTMX_INVALID_ARGUMENT, "bad token %d", i);
    CHECK(err.message != NULL && strstr(err.message, "token") != NULL, "message: %s",
          err.message);
  }
  CHECK(dtmx_client_set_token(c, NULL, &err) == DTMX_INVALID_ARGUMENT, "NULL token");
  CHECK(dtmx_client_set_token(NULL, token, &err) == DTMX_INVALID_ARGUMENT, "NULL client");

  /* An unknown token: refused by the server. */
  CHECK(dtmx_client_set_token(c, "not-a-known-token-0123456789", &err) == DTMX_OK, "set: %s",
        err.message);
  CHECK(submit_one(c, &err, NULL) == DTMX_SERVER, "unknown token: %s", code_name(err.code));

  /* The right token: the saga succeeds. */
  CHECK(dtmx_client_set_token(c, token, &err) == DTMX_OK, "set: %s", err.message);
  char *saga_gid = NULL;
  CHECK(submit_one(c, &err, &saga_gid) == DTMX_OK, "with token: %s", err.message);
  char *status = dtmx_client_wait_final(c, saga_gid, 10000, &err);
  CHECK_STR(status, "succeed");
  gid = dtmx_client_new_gid(c, &err);
  CHECK(gid != NULL && strlen(gid) > 0, "new gid with token: %s", err.message);
  dtmx_string_free(gid);
  dtmx_string_free(status);
  free(saga_gid);
  dtmx_client_free(c);
  dtmx_error_free(&err);
  case_end();
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: e2e <dtm server URL> <business service URL>\n");
    return 2;
  }
  DTM = argv[1];
  BUSI = argv[2];
  DtmxError err = {0};
  client = dtmx_client_new(DTM, &err);
  char record_server[512];
  snprintf(record_server, sizeof record_server, "%s/api/busi/record", BUSI);
  records = dtmx_client_new(record_server, &err);
  if (client == NULL || records == NULL) {
    fprintf(stderr, "client: %s\n", err.message);
    return 2;
  }
  test_saga_success();
  test_saga_rollback();
  test_msg();
  test_msg_do_and_submit();
  test_tcc(0);
  test_tcc(1);
  test_tcc_run(0);
  test_tcc_run(1);
  test_xa_run();
  test_error_helpers();
  test_query();
  test_bad_input();
  if (argc >= 5) test_token(argv[3], argv[4]);
  dtmx_client_free(client);
  dtmx_client_free(records);
  return summary("e2e");
}
