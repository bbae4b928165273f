/* Replays every scenario of tests/vectors/scenarios (see the README there) through
 * libdtmx's public C API against judge.py, the scripted DTM server, branch service and
 * judge. Usage: scenarios <tests/vectors/scenarios directory>.
 *
 * judge.py runs as a child with its standard input on a pipe (closing it stops the
 * judge); the replay talks to it with a small HTTP/1.1 client over a socket. */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
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
  DtmxCode code = run_scenario(s, urls, &b, &err);
  cJSON *outcome = cJSON_CreateObject();
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
  close(judge_in);
  waitpid(judge, NULL, 0);
  if (count < 30) {
    fprintf(stderr, "only %d scenarios found in %s\n", count, argv[1]);
    return 1;
  }
  return summary("scenarios");
}
