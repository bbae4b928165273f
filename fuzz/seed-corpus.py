#!/usr/bin/env python3
"""Writes the seed corpus under fuzz/corpus/<target>/ (docs/FUZZING.md).

Seeds come from tests/vectors/requests.json (what DTM's Go SDK sends), with branch URLs
pointed at 127.0.0.1:1 (the only host the fuzz harness lets branches target), plus
hand-written requests, DTM configuration samples and barrier programs. Run it from
anywhere; it replaces the seed files it owns and leaves files libFuzzer added alone.
"""
import json
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"


def busi(text):
    """Points branch URLs at 127.0.0.1:1."""
    return re.sub(r"(https?://)?busi\.test(:\d+)?", lambda m: (m.group(1) or "") + "127.0.0.1:1", text)


def write(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / f"seed-{name}").write_bytes(data if isinstance(data, bytes) else data.encode())


# --- http_api and jsonrpc: request bodies of the vectors ---------------------------------
vectors = json.loads((ROOT / "tests/vectors/requests.json").read_text())
seen = set()
bodies = []
for case in vectors["cases"]:
    for req in case.get("requests", []):
        path = req["url"].split("dtm.test", 1)[-1]
        if not path.startswith("/api/dtmsvr/") or "body" not in req:
            continue
        op = path.rsplit("/", 1)[-1]
        kind = case.get("kind", "")
        if (kind, op) in seen:
            continue
        seen.add((kind, op))
        body = busi(json.dumps(req["body"], separators=(",", ":")))
        bodies.append((f"{kind}-{op}", op, body))
for name, op, body in bodies:
    write("http_api", name, f"POST /api/dtmsvr/{op}\n{body}")
    rpc = {"jsonrpc": "2.0", "id": "1", "method": op, "params": json.loads(body)}
    write("jsonrpc", name, json.dumps(rpc, separators=(",", ":")))

U = "http%3A%2F%2F127.0.0.1%3A1%2Fapi%2Fbusi%2FNotify"
for name, line, body in [
    ("version", "GET /api/dtmsvr/version", ""),
    ("new-gid", "GET /api/dtmsvr/newGid", ""),
    ("query", "GET /api/dtmsvr/query?gid=saga-seq", ""),
    ("all", "GET /api/dtmsvr/all?limit=10&position=&status=succeed", ""),
    ("subscribe", f"GET /api/dtmsvr/subscribe?topic=t1&url={U}&remark=r", ""),
    ("unsubscribe", f"GET /api/dtmsvr/unsubscribe?topic=t1&url={U}", ""),
    ("delete-topic", "DELETE /api/dtmsvr/topic/t1", ""),
    ("query-kv", "GET /api/dtmsvr/queryKV?cat=topics&key=t1", ""),
    ("scan-kv", "GET /api/dtmsvr/scanKV?cat=topics&position=&limit=5", ""),
    ("reset-cron", "GET /api/dtmsvr/resetCronTime?timeout=10&limit=5", ""),
    ("reset-next-cron", "POST /api/dtmsvr/resetNextCronTime", '{"gid":"saga-seq"}'),
    ("force-stop", "POST /api/dtmsvr/forceStop", '{"gid":"saga-seq"}'),
    ("workflow", "POST /api/dtmsvr/prepareWorkflow",
     '{"gid":"wf-1","trans_type":"workflow","custom_data":"{\\"name\\":\\"wf\\",\\"data\\":\\"e30=\\"}","req_extra":{"a":"b"}}'),
    ("msg-topic", "POST /api/dtmsvr/submit",
     '{"gid":"m-t","trans_type":"msg","steps":[{"action":"topic://t1"}],"payloads":["{}"]}'),
    ("ping", "GET /api/ping", ""),
    ("metrics", "GET /api/metrics", ""),
]:
    write("http_api", name, f"{line}\n{body}")
for name, body in [
    ("new-gid", '{"jsonrpc":"2.0","id":1,"method":"newGid"}'),
    ("register-branch",
     '{"jsonrpc":"2.0","id":"2","method":"registerBranch","params":{"gid":"tcc-1","trans_type":"tcc","branch_id":"01","confirm":"http://127.0.0.1:1/c","cancel":"http://127.0.0.1:1/x","data":"{}"}}'),
    ("batch", '[{"jsonrpc":"2.0","id":1,"method":"newGid"},{"jsonrpc":"2.0","method":"nope"}]'),
]:
    write("jsonrpc", name, body)


# --- grpc_messages: protobuf-encoded requests, first byte the method ----------------------
def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(no, value):
    if isinstance(value, bool) or isinstance(value, int):
        return varint(no << 3) + varint(int(value))
    data = value.encode() if isinstance(value, str) else value
    return varint(no << 3 | 2) + varint(len(data)) + data


def mapping(no, d):
    return b"".join(field(no, field(1, k) + field(2, v)) for k, v in d.items())


steps = json.dumps([{"action": "127.0.0.1:1/busi.Busi/TransOut", "compensate": "127.0.0.1:1/busi.Busi/TransOutRevert"}])
opts = field(1, True) + field(2, 30) + field(6, 3) + mapping(5, {"authorization": "x"})
saga = field(1, "g-saga") + field(2, "saga") + field(3, opts) + field(5, b"\x08\x1e") + field(7, steps)
msg = field(1, "g-msg") + field(2, "msg") + field(5, b"\x08\x1e") + field(6, "127.0.0.1:1/busi.Busi/QueryPrepared") + field(7, steps)
tcc = field(1, "g-tcc") + field(2, "tcc") + field(3, field(1, True))
wf = field(1, "g-wf") + field(2, "workflow") + field(4, '{"name":"wf"}') + mapping(8, {"k": "v"})
branch = field(1, "g-tcc") + field(2, "tcc") + field(3, "01") + field(4, "try") + \
    mapping(5, {"confirm": "127.0.0.1:1/busi.Busi/Confirm", "cancel": "127.0.0.1:1/busi.Busi/Cancel"}) + field(6, b"\x08\x01")
topic = field(1, "t1") + field(2, "127.0.0.1:1/busi.Busi/Notify") + field(3, "remark")
for name, method, message in [
    ("submit-saga", 0, saga), ("prepare-msg", 1, msg), ("submit-msg", 0, msg), ("prepare-tcc", 1, tcc),
    ("abort-tcc", 2, tcc + field(9, "reason")), ("prepare-workflow", 3, wf), ("register-branch", 4, branch),
    ("subscribe", 5, topic), ("unsubscribe", 6, topic), ("delete-topic", 7, field(1, "t1")),
]:
    write("grpc_messages", name, bytes([method]) + message)

# --- query_strings -----------------------------------------------------------------------
for name, q in [
    ("branch", "branch_id=01&gid=g1&op=try&trans_type=tcc"),
    ("xa", "?branch_id=01&dtm=http%3A%2F%2Flocalhost%3A36789%2Fapi%2Fdtmsvr&gid=x+1&op=action&phase2_url=http%3A%2F%2Fh%2Fxa&trans_type=xa"),
    ("repeats", "gid=a&gid=b&GID=c&op=&op=cancel&&=x&branch_id=0%3B1%0A&trans_type=%zz%e2%82%ac"),
]:
    write("query_strings", name, q)

# --- config: DTM's YAML keys, and environment lines before a NUL byte ---------------------
write("config", "dtm-sample", """Store:
  Driver: 'mysql'
  Host: 'localhost'
  User: 'root'
  Password: ''
  Port: 3306
  Db: 'dtm'
  MaxOpenConns: 500
  MaxIdleConns: 500
  ConnMaxLifeTime: 5
  DataExpire: 604800
  FinishedDataExpire: 86400
  RedisPrefix: '{a}'
TransCronInterval: 3
TimeoutToFail: 35
RetryInterval: 10
RequestTimeout: 3
HttpPort: 36789
GrpcPort: 36790
JsonRpcPort: 36791
MicroService:
  Driver: 'dtm-driver-gozero'
  Target: 'etcd://localhost:2379/dtmservice'
  EndPoint: 'localhost:36790'
UpdateBranchSync: 1
UpdateBranchAsyncGoroutineNum: 1
LogLevel: 'info'
Log:
  Outputs: 'stderr'
  RotationEnable: 0
TimeZoneOffset: '+8'
ConfigUpdateInterval: 3
AlertRetryLimit: 3
AlertWebHook: 'http://localhost:8080/alert'
AdminBasePath: '/dtm'
""")
write("config", "dtmx-extensions", """Store:
  Driver: boltdb
  Path: /var/lib/dtmx/dtmx.db
FinishedRetention: 86400
RetentionBatch: 100
HttpMaxBodyBytes: 1048576
HttpHost: 127.0.0.1
HttpCors:
  AllowedOrigins: [https://a.example, "*"]
GrpcMaxMessageBytes: 0
HttpMaxHeaders: 50
HttpMaxHeaderBytes: 16384
MaxBranches: 100
MaxPayloadBytes: 65536
MaxBranchHeaders: 10
MaxBranchHeaderBytes: 4096
BranchHostAllowlist: "busi.internal:8081, *.svc.cluster.local, 10.0.0.0/8, fd00::/8"
""")
write("config", "redis-env", b"STORE_DRIVER=redis\nSTORE_HOST=localhost\nSTORE_PORT=6379\nRETRY_INTERVAL=20\n\0LogLevel: debug\nStore:\n  Port: 6380\n")
write("config", "postgres", "Store:\n  Driver: postgres\n  Host: localhost\n  Port: 5432\n  User: postgres\n  Schema: dtm\n")

# --- barrier: programs of commands (see fuzz_targets/barrier.rs) --------------------------
# Each command: command byte, trans type, gid, op, [branch id], then per-command bytes.
write("barrier", "tcc-try-confirm", bytes([0, 1,  1, 0, 0, 0, 0, 1,  1, 0, 0, 0, 1, 0, 0, 1]))
write("barrier", "cancel-before-try", bytes([1, 1,  0, 1, 0, 2, 0, 0, 0, 0, 0,  1, 1, 0, 0, 0, 0, 0, 0, 1]))
write("barrier", "msg-check-back", bytes([0, 1,  0, 3, 0, 6, 0, 0, 1,  4, 3, 0, 6,  0, 3, 0, 6, 0, 0, 1]))
write("barrier", "xa-fence", bytes([2, 1,  3, 2, 1, 3, 0, 1,  3, 2, 1, 3, 0, 0, 0, 0]))
write("barrier", "redis", bytes([0, 1,  5, 1, 0, 0, 0, 1, 0, 20, 1, 0,  5, 1, 0, 2, 0, 0, 0, 20, 1, 0,  6, 3, 0, 6, 1]))
