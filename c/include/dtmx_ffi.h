typedef enum DtmxCode {
  DTMX_OK = 0,
  DTMX_INVALID_ARGUMENT = 1,
  DTMX_TRANSPORT = 2,
  DTMX_SERVER = 3,
  DTMX_FAILURE = 4,
  DTMX_ONGOING = 5,
  DTMX_DUPLICATED = 6,
  DTMX_TIMEOUT = 7,
  DTMX_DATABASE = 8,
  DTMX_INTERNAL = 9,
  DTMX_UNFINISHED = 10,
} DtmxCode;

typedef enum DtmxStepKind {
  DTMX_STEP_EXECUTE = 0,
  DTMX_STEP_QUERY_REASON = 1,
  DTMX_STEP_DONE = 2,
} DtmxStepKind;

typedef enum DtmxDecision {
  DTMX_DECISION_NONE = 0,
  DTMX_DECISION_RUN_BUSINESS = 1,
  DTMX_DECISION_NULL_COMPENSATION = 2,
  DTMX_DECISION_DUPLICATE = 3,
  DTMX_DECISION_SUSPENDED = 4,
  DTMX_DECISION_MSG_DUPLICATED = 5,
} DtmxDecision;

typedef enum DtmxOutcome {
  DTMX_OUTCOME_SUCCESS = 0,
  DTMX_OUTCOME_FAILURE = 1,
  DTMX_OUTCOME_ONGOING = 2,
  DTMX_OUTCOME_UNKNOWN = 3,
} DtmxOutcome;

typedef enum DtmxGuardAction {
  DTMX_GUARD_BEGIN = 0,
  DTMX_GUARD_EXECUTE = 1,
  DTMX_GUARD_QUERY_REASON = 2,
  DTMX_GUARD_RUN_BUSINESS = 3,
  DTMX_GUARD_COMMIT = 4,
  DTMX_GUARD_ROLLBACK = 5,
  DTMX_GUARD_RETURN = 6,
  DTMX_GUARD_RAISE = 7,
} DtmxGuardAction;

typedef enum DtmxXaPhase {
  DTMX_XA_PHASE_ACTION = 0,
  DTMX_XA_PHASE_COMMIT = 1,
  DTMX_XA_PHASE_ROLLBACK = 2,
} DtmxXaPhase;

typedef enum DtmxXaStep {
  DTMX_XA_EXECUTE = 0,
  DTMX_XA_QUERY_REASON = 1,
  DTMX_XA_RUN_BUSINESS = 2,
  DTMX_XA_SEND = 3,
  DTMX_XA_DONE = 4,
} DtmxXaStep;

typedef struct DtmxBarrier DtmxBarrier;

typedef struct DtmxBarrierCall DtmxBarrierCall;

typedef struct DtmxBarrierTable DtmxBarrierTable;

typedef struct DtmxClient DtmxClient;

typedef struct DtmxErrorDetails DtmxErrorDetails;

typedef struct DtmxGuard DtmxGuard;

typedef struct DtmxHttpRequest DtmxHttpRequest;

typedef struct DtmxHttpResponse DtmxHttpResponse;

typedef struct DtmxMsg DtmxMsg;

typedef struct DtmxRedisCall DtmxRedisCall;

typedef struct DtmxSaga DtmxSaga;

typedef struct DtmxStatement DtmxStatement;

typedef struct DtmxTcc DtmxTcc;

typedef struct DtmxXa DtmxXa;

typedef struct DtmxXaLocal DtmxXaLocal;

typedef struct DtmxError {
  enum DtmxCode code;
  char *message;
  struct DtmxErrorDetails *details;
} DtmxError;

typedef struct DtmxBranch {
  char *gid;
  char *trans_type;
  char *branch_id;
  char *op;
  char *dtm;
  char *phase2_url;
} DtmxBranch;

typedef void (*DtmxSendFn)(void *user,
                           const struct DtmxHttpRequest *request,
                           struct DtmxHttpResponse *response);

typedef void (*DtmxBusiFn)(void *user, struct DtmxBarrier *barrier, struct DtmxError *error);

typedef void (*DtmxTccBodyFn)(void *user, const struct DtmxTcc *tcc, struct DtmxError *error);

typedef void (*DtmxXaBodyFn)(void *user, const struct DtmxXa *xa, struct DtmxError *error);

struct DtmxBarrierTable *dtmx_barrier_table_new(const char *dialect,
                                                const char *name,
                                                struct DtmxError *error);

const char *dtmx_barrier_table_dialect(const struct DtmxBarrierTable *table);

const char *dtmx_barrier_table_name(const struct DtmxBarrierTable *table);

size_t dtmx_barrier_table_ddl_count(const struct DtmxBarrierTable *table);

char *dtmx_barrier_table_ddl(const struct DtmxBarrierTable *table, size_t index);

char *dtmx_barrier_table_insert_ignore_sql(const struct DtmxBarrierTable *table);

char *dtmx_barrier_table_select_reason_sql(const struct DtmxBarrierTable *table);

char *dtmx_barrier_table_render(const struct DtmxBarrierTable *table,
                                const char *sql,
                                const char *style,
                                struct DtmxError *error);

void dtmx_barrier_table_free(struct DtmxBarrierTable *table);

struct DtmxBarrier *dtmx_barrier_new(const char *trans_type,
                                     const char *gid,
                                     const char *branch_id,
                                     const char *op,
                                     struct DtmxError *error);

struct DtmxBarrier *dtmx_barrier_from_query(const char *query, struct DtmxError *error);

struct DtmxBarrier *dtmx_barrier_from_query_pairs(const char *const *keys,
                                                  const char *const *values,
                                                  size_t count,
                                                  struct DtmxError *error);

struct DtmxBarrier *dtmx_barrier_from_branch(const struct DtmxBranch *branch,
                                             struct DtmxError *error);

struct DtmxBarrier *dtmx_barrier_from_grpc_metadata(const char *const *keys,
                                                    const char *const *values,
                                                    size_t count,
                                                    struct DtmxError *error);

struct DtmxBarrier *dtmx_barrier_for_msg(const char *gid, struct DtmxError *error);

enum DtmxCode dtmx_barrier_check_back(const struct DtmxBarrier *barrier,
                                      const char *result,
                                      struct DtmxError *error);

uint64_t dtmx_barrier_redis_default_expire(void);

const char *dtmx_barrier_trans_type(const struct DtmxBarrier *barrier);

const char *dtmx_barrier_gid(const struct DtmxBarrier *barrier);

const char *dtmx_barrier_branch_id(const struct DtmxBarrier *barrier);

const char *dtmx_barrier_op(const struct DtmxBarrier *barrier);

char *dtmx_barrier_next_barrier_id(struct DtmxBarrier *barrier);

struct DtmxBarrierCall *dtmx_barrier_call_machine(struct DtmxBarrier *barrier,
                                                  const struct DtmxBarrierTable *table,
                                                  struct DtmxError *error);

struct DtmxBarrierCall *dtmx_barrier_query_prepared_machine(const struct DtmxBarrier *barrier,
                                                            const struct DtmxBarrierTable *table,
                                                            struct DtmxError *error);

struct DtmxBarrierCall *dtmx_barrier_xa_action_machine(const struct DtmxBarrier *barrier,
                                                       const struct DtmxBarrierTable *table,
                                                       struct DtmxError *error);

struct DtmxStatement *dtmx_barrier_xa_rollback_fence(const struct DtmxBarrier *barrier,
                                                     const struct DtmxBarrierTable *table,
                                                     struct DtmxError *error);

void dtmx_barrier_free(struct DtmxBarrier *barrier);

enum DtmxStepKind dtmx_barrier_call_step(const struct DtmxBarrierCall *call);

const char *dtmx_barrier_call_sql(const struct DtmxBarrierCall *call);

size_t dtmx_barrier_call_param_count(const struct DtmxBarrierCall *call);

const char *dtmx_barrier_call_param(const struct DtmxBarrierCall *call, size_t index);

enum DtmxCode dtmx_barrier_call_feed_affected(struct DtmxBarrierCall *call,
                                              uint64_t rows,
                                              struct DtmxError *error);

enum DtmxCode dtmx_barrier_call_feed_reason(struct DtmxBarrierCall *call,
                                            const char *reason,
                                            struct DtmxError *error);

enum DtmxDecision dtmx_barrier_call_decision(const struct DtmxBarrierCall *call);

const char *dtmx_barrier_call_result(const struct DtmxBarrierCall *call);

enum DtmxCode dtmx_barrier_call_check(const struct DtmxBarrierCall *call, struct DtmxError *error);

char *dtmx_barrier_call_barrier_id(const struct DtmxBarrierCall *call);

void dtmx_barrier_call_free(struct DtmxBarrierCall *call);

const char *dtmx_statement_sql(const struct DtmxStatement *statement);

size_t dtmx_statement_param_count(const struct DtmxStatement *statement);

const char *dtmx_statement_param(const struct DtmxStatement *statement, size_t index);

void dtmx_statement_free(struct DtmxStatement *statement);

struct DtmxRedisCall *dtmx_barrier_redis_check_adjust_amount_call(struct DtmxBarrier *barrier,
                                                                  const char *key,
                                                                  int64_t amount,
                                                                  uint64_t expire_seconds,
                                                                  struct DtmxError *error);

struct DtmxRedisCall *dtmx_barrier_redis_query_prepared_call(const struct DtmxBarrier *barrier,
                                                             uint64_t expire_seconds,
                                                             struct DtmxError *error);

const char *dtmx_redis_call_script(const struct DtmxRedisCall *call);

size_t dtmx_redis_call_key_count(const struct DtmxRedisCall *call);

const char *dtmx_redis_call_key(const struct DtmxRedisCall *call, size_t index);

size_t dtmx_redis_call_arg_count(const struct DtmxRedisCall *call);

const char *dtmx_redis_call_arg(const struct DtmxRedisCall *call, size_t index);

const char *dtmx_redis_call_decide(const struct DtmxRedisCall *call,
                                   const char *reply,
                                   struct DtmxError *error);

void dtmx_redis_call_free(struct DtmxRedisCall *call);

struct DtmxBranch *dtmx_branch_from_query(const char *query, struct DtmxError *error);

struct DtmxBranch *dtmx_branch_from_query_pairs(const char *const *keys,
                                                const char *const *values,
                                                size_t count,
                                                struct DtmxError *error);

struct DtmxBranch *dtmx_branch_from_grpc_metadata(const char *const *keys,
                                                  const char *const *values,
                                                  size_t count,
                                                  struct DtmxError *error);

void dtmx_branch_free(struct DtmxBranch *branch);

const char *dtmx_outcome_name(int32_t outcome);

enum DtmxCode dtmx_outcome_reply(int32_t outcome,
                                 const char *message,
                                 uint16_t *status,
                                 char **body,
                                 struct DtmxError *error);

enum DtmxOutcome dtmx_outcome_of_error(int32_t code, const char *message, char **out_message);

enum DtmxOutcome dtmx_outcome_from_http(uint16_t status,
                                        const uint8_t *body,
                                        size_t len,
                                        char **out_message);

int32_t dtmx_grpc_code(int32_t outcome);

enum DtmxOutcome dtmx_outcome_from_grpc(int32_t code, const char *message, char **out_message);

enum DtmxCode dtmx_check_branch_reply(uint16_t status,
                                      const uint8_t *body,
                                      size_t len,
                                      struct DtmxError *error);

enum DtmxCode dtmx_check_server_reply(uint16_t status,
                                      const uint8_t *body,
                                      size_t len,
                                      struct DtmxError *error);

struct DtmxClient *dtmx_client_new(const char *server, struct DtmxError *error);

struct DtmxClient *dtmx_client_new_with_transport(const char *server,
                                                  DtmxSendFn send,
                                                  void *user,
                                                  struct DtmxError *error);

enum DtmxCode dtmx_client_set_token(struct DtmxClient *client,
                                    const char *token,
                                    struct DtmxError *error);

void dtmx_client_free(struct DtmxClient *client);

char *dtmx_client_server(const struct DtmxClient *client, struct DtmxError *error);

char *dtmx_client_new_gid(const struct DtmxClient *client, struct DtmxError *error);

char *dtmx_client_local_gid(const struct DtmxClient *client, struct DtmxError *error);

char *dtmx_client_query(const struct DtmxClient *client, const char *gid, struct DtmxError *error);

char *dtmx_client_wait_final(const struct DtmxClient *client,
                             const char *gid,
                             uint64_t timeout_ms,
                             struct DtmxError *error);

const char *dtmx_request_method(const struct DtmxHttpRequest *request);

const char *dtmx_request_url(const struct DtmxHttpRequest *request);

size_t dtmx_request_header_count(const struct DtmxHttpRequest *request);

const char *dtmx_request_header_name(const struct DtmxHttpRequest *request, size_t index);

const char *dtmx_request_header_value(const struct DtmxHttpRequest *request, size_t index);

const uint8_t *dtmx_request_body(const struct DtmxHttpRequest *request, size_t *len);

uint64_t dtmx_request_timeout_ms(const struct DtmxHttpRequest *request);

void dtmx_response_set(struct DtmxHttpResponse *response,
                       uint16_t status,
                       const uint8_t *body,
                       size_t len);

void dtmx_response_fail(struct DtmxHttpResponse *response, const char *message);

void dtmx_error_free(struct DtmxError *error);

void dtmx_error_set(struct DtmxError *error, int32_t code, const char *message);

void dtmx_error_set_host(struct DtmxError *error, const char *message);

void dtmx_error_set_invalid_payload(struct DtmxError *error, const char *detail);

size_t dtmx_error_note_count(const struct DtmxError *error);

const char *dtmx_error_note(const struct DtmxError *error, size_t index);

const char *dtmx_error_status(const struct DtmxError *error);

const char *dtmx_code_name(int32_t code);

const char *dtmx_code_class(int32_t code);

void dtmx_string_free(char *s);

const char *dtmx_version(void);

struct DtmxGuard *dtmx_guard_new(struct DtmxBarrier *barrier,
                                 const struct DtmxBarrierTable *table,
                                 bool in_transaction,
                                 struct DtmxError *error);

struct DtmxGuard *dtmx_guard_check_back(const struct DtmxBarrier *barrier,
                                        const struct DtmxBarrierTable *table,
                                        bool in_transaction,
                                        struct DtmxError *error);

const char *dtmx_guard_ownership(const struct DtmxGuard *guard);

enum DtmxGuardAction dtmx_guard_action(const struct DtmxGuard *guard);

const char *dtmx_guard_sql(const struct DtmxGuard *guard);

size_t dtmx_guard_param_count(const struct DtmxGuard *guard);

const char *dtmx_guard_param(const struct DtmxGuard *guard, size_t index);

enum DtmxCode dtmx_guard_ok(struct DtmxGuard *guard, struct DtmxError *error);

enum DtmxCode dtmx_guard_feed_affected(struct DtmxGuard *guard,
                                       uint64_t rows,
                                       struct DtmxError *error);

enum DtmxCode dtmx_guard_feed_reason(struct DtmxGuard *guard,
                                     const char *reason,
                                     struct DtmxError *error);

enum DtmxGuardAction dtmx_guard_fail(struct DtmxGuard *guard, const struct DtmxError *failure);

enum DtmxDecision dtmx_guard_decision(const struct DtmxGuard *guard);

enum DtmxCode dtmx_guard_error(const struct DtmxGuard *guard, struct DtmxError *error);

bool dtmx_guard_raises_failure(const struct DtmxGuard *guard);

void dtmx_guard_free(struct DtmxGuard *guard);

struct DtmxSaga *dtmx_saga_new(const struct DtmxClient *client,
                               const char *gid,
                               const char *options_json,
                               struct DtmxError *error);

const char *dtmx_saga_gid(const struct DtmxSaga *saga);

enum DtmxCode dtmx_saga_add(struct DtmxSaga *saga,
                            const char *action,
                            const char *compensate,
                            const char *payload_json,
                            struct DtmxError *error);

enum DtmxCode dtmx_saga_add_branch_order(struct DtmxSaga *saga,
                                         size_t branch,
                                         const size_t *pre_branches,
                                         size_t count,
                                         struct DtmxError *error);

enum DtmxCode dtmx_saga_enable_concurrent(struct DtmxSaga *saga, struct DtmxError *error);

enum DtmxCode dtmx_saga_submit(const struct DtmxSaga *saga, struct DtmxError *error);

void dtmx_saga_free(struct DtmxSaga *saga);

struct DtmxMsg *dtmx_msg_new(const struct DtmxClient *client,
                             const char *gid,
                             const char *options_json,
                             struct DtmxError *error);

const char *dtmx_msg_gid(const struct DtmxMsg *msg);

enum DtmxCode dtmx_msg_add(struct DtmxMsg *msg,
                           const char *action,
                           const char *payload_json,
                           struct DtmxError *error);

enum DtmxCode dtmx_msg_add_topic(struct DtmxMsg *msg,
                                 const char *topic,
                                 const char *payload_json,
                                 struct DtmxError *error);

enum DtmxCode dtmx_msg_set_delay(struct DtmxMsg *msg, uint64_t seconds, struct DtmxError *error);

enum DtmxCode dtmx_msg_enable_concurrent(struct DtmxMsg *msg, struct DtmxError *error);

enum DtmxCode dtmx_msg_prepare(struct DtmxMsg *msg,
                               const char *query_prepared,
                               struct DtmxError *error);

enum DtmxCode dtmx_msg_submit(struct DtmxMsg *msg, struct DtmxError *error);

enum DtmxCode dtmx_msg_abort(struct DtmxMsg *msg, struct DtmxError *error);

enum DtmxCode dtmx_msg_do_and_submit(struct DtmxMsg *msg,
                                     const char *query_prepared,
                                     DtmxBusiFn busi,
                                     void *user,
                                     struct DtmxError *error);

void dtmx_msg_free(struct DtmxMsg *msg);

struct DtmxTcc *dtmx_tcc_new(const struct DtmxClient *client,
                             const char *gid,
                             const char *options_json,
                             struct DtmxError *error);

struct DtmxTcc *dtmx_client_tcc_from_branch(const struct DtmxClient *client,
                                            const struct DtmxBranch *branch,
                                            struct DtmxError *error);

const char *dtmx_tcc_gid(const struct DtmxTcc *tcc);

char *dtmx_tcc_current_branch_id(const struct DtmxTcc *tcc);

enum DtmxCode dtmx_tcc_prepare(const struct DtmxTcc *tcc, struct DtmxError *error);

char *dtmx_tcc_call_branch(const struct DtmxTcc *tcc,
                           const char *payload_json,
                           const char *try_url,
                           const char *confirm_url,
                           const char *cancel_url,
                           struct DtmxError *error);

enum DtmxCode dtmx_tcc_submit(const struct DtmxTcc *tcc, struct DtmxError *error);

enum DtmxCode dtmx_tcc_abort(const struct DtmxTcc *tcc,
                             const char *reason,
                             struct DtmxError *error);

enum DtmxCode dtmx_tcc_run(const struct DtmxTcc *tcc,
                           DtmxTccBodyFn body,
                           void *user,
                           struct DtmxError *error);

void dtmx_tcc_free(struct DtmxTcc *tcc);

struct DtmxXa *dtmx_xa_new(const struct DtmxClient *client,
                           const char *gid,
                           const char *options_json,
                           struct DtmxError *error);

const char *dtmx_xa_gid(const struct DtmxXa *xa);

char *dtmx_xa_current_branch_id(const struct DtmxXa *xa);

enum DtmxCode dtmx_xa_prepare(const struct DtmxXa *xa, struct DtmxError *error);

char *dtmx_xa_call_branch(const struct DtmxXa *xa,
                          const char *payload_json,
                          const char *url,
                          struct DtmxError *error);

enum DtmxCode dtmx_xa_submit(const struct DtmxXa *xa, struct DtmxError *error);

enum DtmxCode dtmx_xa_abort(const struct DtmxXa *xa, struct DtmxError *error);

enum DtmxCode dtmx_xa_run(const struct DtmxXa *xa,
                          DtmxXaBodyFn body,
                          void *user,
                          struct DtmxError *error);

void dtmx_xa_free(struct DtmxXa *xa);

struct DtmxXaLocal *dtmx_xa_local_new(const struct DtmxBranch *branch,
                                      const struct DtmxBarrierTable *table,
                                      struct DtmxError *error);

struct DtmxXaLocal *dtmx_xa_local_from_query(const char *query,
                                             const struct DtmxBarrierTable *table,
                                             struct DtmxError *error);

enum DtmxXaPhase dtmx_xa_local_phase(const struct DtmxXaLocal *xa);

const char *dtmx_xa_local_xid(const struct DtmxXaLocal *xa);

enum DtmxXaStep dtmx_xa_local_step(const struct DtmxXaLocal *xa);

const char *dtmx_xa_local_sql(const struct DtmxXaLocal *xa);

size_t dtmx_xa_local_param_count(const struct DtmxXaLocal *xa);

const char *dtmx_xa_local_param(const struct DtmxXaLocal *xa, size_t index);

const struct DtmxHttpRequest *dtmx_xa_local_request(const struct DtmxXaLocal *xa);

enum DtmxCode dtmx_xa_local_feed_affected(struct DtmxXaLocal *xa,
                                          uint64_t rows,
                                          struct DtmxError *error);

enum DtmxCode dtmx_xa_local_feed_reason(struct DtmxXaLocal *xa,
                                        const char *reason,
                                        struct DtmxError *error);

enum DtmxCode dtmx_xa_local_feed_sql_error(struct DtmxXaLocal *xa,
                                           const char *message,
                                           struct DtmxError *error);

enum DtmxCode dtmx_xa_local_feed_business(struct DtmxXaLocal *xa,
                                          const struct DtmxError *failure,
                                          struct DtmxError *error);

enum DtmxCode dtmx_xa_local_feed_reply(struct DtmxXaLocal *xa,
                                       uint16_t status,
                                       const uint8_t *body,
                                       size_t len,
                                       struct DtmxError *error);

enum DtmxCode dtmx_xa_local_feed_send_error(struct DtmxXaLocal *xa,
                                            const char *message,
                                            struct DtmxError *error);

enum DtmxCode dtmx_xa_local_finish(struct DtmxXaLocal *xa, struct DtmxError *error);

void dtmx_xa_local_free(struct DtmxXaLocal *xa);

