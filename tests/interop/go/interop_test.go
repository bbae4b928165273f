// Interoperability tests: DTM's official Go SDK (packages dtmcli and
// workflow of github.com/dtm-labs/client) talking to the dtmx server.
//
// The test starts the dtmx binary (env DTMX_BIN, default
// ../../../target/debug/dtmx) on free loopback ports, runs a small business
// service on another loopback port and drives sagas and 2-phase messages
// (this file), TCC (tcc_test.go), XA on MariaDB and PostgreSQL (xa_test.go),
// HTTP workflows (workflow_test.go) and, through package dtmgrpc, a gRPC
// saga, msg and TCC against a gRPC business service (grpc_test.go) and a
// gRPC workflow (grpc_workflow_test.go). Outcomes are
// checked through GET /api/dtmsvr/query and through the calls the business
// service recorded.
package interop

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dtm-labs/client/dtmcli"
	"github.com/dtm-labs/client/dtmcli/logger"
)

// ---------------------------------------------------------------------------
// global fixtures (set up once in TestMain)

var (
	skipReason string // non-empty: every test skips with this reason
	dtmURL     string // http://127.0.0.1:<port>/api/dtmsvr
	dtmGrpc    string // 127.0.0.1:<grpc port>, the dtmgimp gRPC API
	busiURL    string // http://127.0.0.1:<port>/api/busi
	busi       *busiService
	serverLog  string // path of the dtmx stdout/stderr log
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	// the SDK logs every DTM call at info level; INTEROP_SDK_LOG=info shows it
	logger.InitLog(envOr("INTEROP_SDK_LOG", "warn"))
	bin, explicit := os.LookupEnv("DTMX_BIN")
	if !explicit || bin == "" {
		bin = filepath.Join("..", "..", "..", "target", "debug", "dtmx")
	}
	if abs, err := filepath.Abs(bin); err == nil {
		bin = abs
	}
	if _, err := os.Stat(bin); err != nil {
		if !explicit {
			skipReason = fmt.Sprintf("DTMX_BIN not set and default binary %s missing", bin)
			return m.Run()
		}
		fmt.Fprintf(os.Stderr, "DTMX_BIN=%s: %v\n", bin, err)
		return 2
	}

	tmp, err := os.MkdirTemp("", "dtmx-interop-go-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer os.RemoveAll(tmp)

	// business service
	busi = newBusiService()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	srv := &http.Server{Handler: busi}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	busiURL = fmt.Sprintf("http://%s/api/busi", ln.Addr().String())

	// dtmx server
	httpPort, grpcPort := freePort(), freePort()
	for grpcPort == httpPort {
		grpcPort = freePort()
	}
	serverLog = filepath.Join(tmp, "dtmx.log")
	logf, err := os.Create(serverLog)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer logf.Close()
	cmd := exec.Command(bin)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(),
		fmt.Sprintf("HTTP_PORT=%d", httpPort),
		fmt.Sprintf("GRPC_PORT=%d", grpcPort),
		"STORE_PATH="+filepath.Join(tmp, "dtmx.db"),
		"LOG_LEVEL=warn",
		"TRANS_CRON_INTERVAL=1",
	)
	cmd.Stdout = logf
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "starting %s: %v\n", bin, err)
		return 2
	}
	// exited is closed once the process is reaped; waitErr is set before that
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	defer func() {
		select {
		case <-exited:
			return
		default:
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()

	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	dtmURL = base + "/api/dtmsvr"
	dtmGrpc = fmt.Sprintf("127.0.0.1:%d", grpcPort)
	if err := waitPing(base+"/api/ping", 20*time.Second, exited, &waitErr); err != nil {
		fmt.Fprintf(os.Stderr, "dtmx did not become ready: %v\n--- dtmx log ---\n%s\n", err, readFile(serverLog))
		return 2
	}

	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "--- dtmx log (%s) ---\n%s\n", serverLog, readFile(serverLog))
	}
	return code
}

func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitPing(url string, timeout time.Duration, exited <-chan struct{}, waitErr *error) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("dtmx exited early: %v", *waitErr)
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("timeout after %v, last error: %v", timeout, last)
}

func readFile(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return err.Error()
	}
	const max = 20000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}

func setup(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

// ---------------------------------------------------------------------------
// business service

type busiCall struct {
	Path        string // last path element, e.g. "TransOut"
	Method      string
	Gid         string
	TransType   string
	BranchID    string
	Op          string
	Body        string
	ContentType string
}

type busiService struct {
	mu    sync.Mutex
	calls []busiCall
	// gid -> result the QueryPrepared route answers ("SUCCESS" when unset)
	queryPrepared map[string]string
}

func newBusiService() *busiService {
	return &busiService{queryPrepared: map[string]string{}}
}

func (b *busiService) setQueryPrepared(gid, result string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.queryPrepared[gid] = result
}

func (b *busiService) callsFor(gid string) []busiCall {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []busiCall
	for _, c := range b.calls {
		if c.Gid == gid {
			out = append(out, c)
		}
	}
	return out
}

func writeResult(w http.ResponseWriter, result string) {
	code := http.StatusOK
	switch result {
	case "FAILURE":
		code = http.StatusConflict
	case "ONGOING":
		code = http.StatusTooEarly
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = fmt.Fprintf(w, `{"dtm_result":%q}`, result)
}

func (b *busiService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	q := r.URL.Query()
	name := strings.TrimPrefix(r.URL.Path, "/api/busi/")
	c := busiCall{
		Path:        name,
		Method:      r.Method,
		Gid:         q.Get("gid"),
		TransType:   q.Get("trans_type"),
		BranchID:    q.Get("branch_id"),
		Op:          q.Get("op"),
		Body:        string(body),
		ContentType: r.Header.Get("Content-Type"),
	}
	b.mu.Lock()
	b.calls = append(b.calls, c)
	qp, ok := b.queryPrepared[c.Gid]
	b.mu.Unlock()

	switch name {
	case "TransOut", "TransOutRevert", "TransInRevert":
		writeResult(w, "SUCCESS")
	case "TransIn":
		var p struct {
			TransInResult string `json:"transInResult"`
		}
		_ = json.Unmarshal(body, &p)
		if p.TransInResult == "" {
			p.TransInResult = "SUCCESS"
		}
		writeResult(w, p.TransInResult)
	case "QueryPrepared":
		if !ok {
			qp = "SUCCESS"
		}
		writeResult(w, qp)
	default:
		if h := busiRoutes[name]; h != nil {
			h(w, r, body)
			return
		}
		http.NotFound(w, r)
	}
}

// busiHandler serves one extra route of the business service; body is the
// request body (already read and recorded).
type busiHandler func(w http.ResponseWriter, r *http.Request, body []byte)

// busiRoutes holds the routes added by the other test files (tcc, xa,
// workflow), keyed by the last path element. Filled in init functions only.
var busiRoutes = map[string]busiHandler{}

// writeError answers a handler error the way DTM's SDKs expect it: 409 for
// FAILURE, 425 for ONGOING, 500 for anything else, 200 for nil.
func writeError(w http.ResponseWriter, err error) {
	switch {
	case err == nil:
		writeResult(w, "SUCCESS")
	case errors.Is(err, dtmcli.ErrFailure):
		writeResult(w, "FAILURE")
	case errors.Is(err, dtmcli.ErrOngoing):
		writeResult(w, "ONGOING")
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = fmt.Fprintf(w, `{"message":%q}`, err.Error())
	}
}

// ---------------------------------------------------------------------------
// query helpers

type queryBranch struct {
	Gid      string `json:"gid"`
	URL      string `json:"url"`
	BinData  string `json:"bin_data"`
	BranchID string `json:"branch_id"`
	Op       string `json:"op"`
	Status   string `json:"status"`
}

type queryTrans struct {
	Gid            string              `json:"gid"`
	TransType      string              `json:"trans_type"`
	Status         string              `json:"status"`
	Steps          []map[string]string `json:"steps"`
	Payloads       []string            `json:"payloads"`
	QueryPrepared  string              `json:"query_prepared"`
	CustomData     string              `json:"custom_data"`
	RollbackReason string              `json:"rollback_reason"`
	FinishTime     *string             `json:"finish_time"`
	RollbackTime   *string             `json:"rollback_time"`
}

type queryResult struct {
	Transaction *queryTrans   `json:"transaction"`
	Branches    []queryBranch `json:"branches"`
	raw         string
}

func query(t *testing.T, gid string) queryResult {
	t.Helper()
	resp, err := http.Get(dtmURL + "/query?gid=" + gid)
	if err != nil {
		t.Fatalf("GET query?gid=%s: %v", gid, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET query?gid=%s: status %d body %s", gid, resp.StatusCode, body)
	}
	var res queryResult
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatalf("GET query?gid=%s: bad JSON %v: %s", gid, err, body)
	}
	res.raw = string(body)
	if res.Transaction == nil {
		t.Fatalf("GET query?gid=%s: transaction is null: %s", gid, body)
	}
	return res
}

// waitStatus polls query until the transaction reaches want (or another
// final status), failing after timeout.
func waitStatus(t *testing.T, gid, want string, timeout time.Duration) queryResult {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		res := query(t, gid)
		st := res.Transaction.Status
		if st == want {
			return res
		}
		if st == "succeed" || st == "failed" {
			t.Fatalf("gid %s: status %q, want %q; query: %s", gid, st, want, res.raw)
		}
		if time.Now().After(deadline) {
			t.Fatalf("gid %s: status still %q after %v, want %q; query: %s", gid, st, timeout, want, res.raw)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func branchField(bs []queryBranch, f func(queryBranch) string) []string {
	out := make([]string, 0, len(bs))
	for _, b := range bs {
		out = append(out, f(b))
	}
	return out
}

func eqStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func expectStrings(t *testing.T, what string, got, want []string, raw string) {
	t.Helper()
	if !eqStrings(got, want) {
		t.Errorf("%s = %q, want %q; query: %s", what, got, want, raw)
	}
}

// checkBranches checks ids, ops, statuses, urls and that bin_data is the
// base64 of the expected payload, in storage order.
func checkBranches(t *testing.T, res queryResult, ids, ops, statuses, urls, payloads []string) {
	t.Helper()
	bs := res.Branches
	expectStrings(t, "branch ids", branchField(bs, func(b queryBranch) string { return b.BranchID }), ids, res.raw)
	expectStrings(t, "branch ops", branchField(bs, func(b queryBranch) string { return b.Op }), ops, res.raw)
	expectStrings(t, "branch statuses", branchField(bs, func(b queryBranch) string { return b.Status }), statuses, res.raw)
	expectStrings(t, "branch urls", branchField(bs, func(b queryBranch) string { return b.URL }), urls, res.raw)
	var data []string
	for _, b := range bs {
		d, err := base64.StdEncoding.DecodeString(b.BinData)
		if err != nil {
			t.Errorf("branch %s/%s bin_data %q is not base64: %v", b.BranchID, b.Op, b.BinData, err)
		}
		data = append(data, string(d))
	}
	expectStrings(t, "branch bin_data (decoded)", data, payloads, res.raw)
}

// expectCalls compares the recorded business calls for gid with want
// (path, branch id, op, body, in call order) and checks the common fields.
func expectCalls(t *testing.T, gid, transType string, want []busiCall) {
	t.Helper()
	got := busi.callsFor(gid)
	format := func(cs []busiCall) string {
		var sb strings.Builder
		for _, c := range cs {
			fmt.Fprintf(&sb, "\n  %s %s branch_id=%s op=%s trans_type=%s body=%s", c.Method, c.Path, c.BranchID, c.Op, c.TransType, c.Body)
		}
		return sb.String()
	}
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		g, w := got[i], want[i]
		if g.Path != w.Path || g.BranchID != w.BranchID || g.Op != w.Op || g.Body != w.Body || g.TransType != transType {
			ok = false
		}
		if w.Method != "" && g.Method != w.Method {
			ok = false
		}
	}
	if !ok {
		t.Errorf("business calls for gid %s:\n got:%s\nwant:%s", gid, format(got), format(want))
		return
	}
	for _, g := range got {
		if g.Body != "" && !strings.Contains(g.ContentType, "application/json") {
			t.Errorf("call %s for gid %s: Content-Type %q, want application/json", g.Path, gid, g.ContentType)
		}
	}
}

func mustJSON(t *testing.T, v interface{}) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// ---------------------------------------------------------------------------
// saga

type transOutReq struct {
	Amount int    `json:"amount"`
	From   string `json:"from"`
	Note   string `json:"note"`
}

type transInReq struct {
	Amount        int    `json:"amount"`
	To            string `json:"to"`
	TransInResult string `json:"transInResult,omitempty"`
}

func TestGoSagaSucceed(t *testing.T) {
	setup(t)
	gid := dtmcli.MustGenGid(dtmURL)
	if gid == "" {
		t.Fatal("empty gid from newGid")
	}
	out := transOutReq{Amount: 30, From: "alice", Note: "ünïcode & <chars> \"quoted\""}
	in := transInReq{Amount: 30, To: "bob"}
	saga := dtmcli.NewSaga(dtmURL, gid).
		Add(busiURL+"/TransOut", busiURL+"/TransOutRevert", out).
		Add(busiURL+"/TransIn", busiURL+"/TransInRevert", in)
	saga.WaitResult = true
	if err := saga.Submit(); err != nil {
		t.Fatalf("saga.Submit() = %v, want nil\n--- dtmx log ---\n%s", err, readFile(serverLog))
	}
	pOut, pIn := mustJSON(t, out), mustJSON(t, in)

	res := query(t, gid)
	tr := res.Transaction
	if tr.Gid != gid || tr.TransType != "saga" || tr.Status != "succeed" {
		t.Errorf("transaction gid/type/status = %q/%q/%q, want %q/saga/succeed; query: %s", tr.Gid, tr.TransType, tr.Status, gid, res.raw)
	}
	// SQL-backed stores do not keep steps/payloads on the global row; when
	// they are returned they must be the SDK's text
	if tr.Payloads != nil {
		expectStrings(t, "payloads", tr.Payloads, []string{pOut, pIn}, res.raw)
	}
	if tr.FinishTime == nil || *tr.FinishTime == "" {
		t.Errorf("finish_time not set on succeeded saga; query: %s", res.raw)
	}
	checkBranches(t, res,
		[]string{"01", "01", "02", "02"},
		[]string{"compensate", "action", "compensate", "action"},
		[]string{"prepared", "succeed", "prepared", "succeed"},
		[]string{busiURL + "/TransOutRevert", busiURL + "/TransOut", busiURL + "/TransInRevert", busiURL + "/TransIn"},
		[]string{pOut, pOut, pIn, pIn},
	)
	expectCalls(t, gid, "saga", []busiCall{
		{Path: "TransOut", Method: "POST", BranchID: "01", Op: "action", Body: pOut},
		{Path: "TransIn", Method: "POST", BranchID: "02", Op: "action", Body: pIn},
	})
}

func TestGoSagaCompensate(t *testing.T) {
	setup(t)
	gid := dtmcli.MustGenGid(dtmURL)
	out := transOutReq{Amount: 30, From: "alice", Note: "compensate me"}
	in := transInReq{Amount: 30, To: "bob", TransInResult: "FAILURE"}
	saga := dtmcli.NewSaga(dtmURL, gid).
		Add(busiURL+"/TransOut", busiURL+"/TransOutRevert", out).
		Add(busiURL+"/TransIn", busiURL+"/TransInRevert", in)
	saga.WaitResult = true
	err := saga.Submit()
	if err == nil {
		t.Fatalf("saga.Submit() = nil, want an error (wait_result on a compensated saga)")
	}
	if !strings.Contains(err.Error(), "FAILURE") {
		t.Errorf("saga.Submit() error %q does not mention FAILURE", err)
	}
	t.Logf("Submit error (expected): %v", err)
	pOut, pIn := mustJSON(t, out), mustJSON(t, in)

	res := query(t, gid)
	tr := res.Transaction
	if tr.Status != "failed" {
		t.Errorf("transaction status = %q, want failed; query: %s", tr.Status, res.raw)
	}
	if tr.RollbackReason == "" {
		t.Errorf("rollback_reason is empty; query: %s", res.raw)
	}
	if tr.RollbackTime == nil || *tr.RollbackTime == "" {
		t.Errorf("rollback_time not set on failed saga; query: %s", res.raw)
	}
	checkBranches(t, res,
		[]string{"01", "01", "02", "02"},
		[]string{"compensate", "action", "compensate", "action"},
		[]string{"succeed", "succeed", "succeed", "failed"},
		[]string{busiURL + "/TransOutRevert", busiURL + "/TransOut", busiURL + "/TransInRevert", busiURL + "/TransIn"},
		[]string{pOut, pOut, pIn, pIn},
	)
	expectCalls(t, gid, "saga", []busiCall{
		{Path: "TransOut", Method: "POST", BranchID: "01", Op: "action", Body: pOut},
		{Path: "TransIn", Method: "POST", BranchID: "02", Op: "action", Body: pIn},
		{Path: "TransInRevert", Method: "POST", BranchID: "02", Op: "compensate", Body: pIn},
		{Path: "TransOutRevert", Method: "POST", BranchID: "01", Op: "compensate", Body: pOut},
	})
}

// ---------------------------------------------------------------------------
// msg

func TestGoMsgPrepareSubmit(t *testing.T) {
	setup(t)
	gid := dtmcli.MustGenGid(dtmURL)
	out := transOutReq{Amount: 45, From: "carol", Note: "msg"}
	in := transInReq{Amount: 45, To: "dave"}
	msg := dtmcli.NewMsg(dtmURL, gid).
		Add(busiURL+"/TransOut", out).
		Add(busiURL+"/TransIn", in)
	if err := msg.Prepare(busiURL + "/QueryPrepared"); err != nil {
		t.Fatalf("msg.Prepare() = %v", err)
	}
	pOut, pIn := mustJSON(t, out), mustJSON(t, in)

	res := query(t, gid)
	if res.Transaction.Status != "prepared" || res.Transaction.TransType != "msg" {
		t.Errorf("after prepare: type/status = %q/%q, want msg/prepared; query: %s", res.Transaction.TransType, res.Transaction.Status, res.raw)
	}
	if res.Transaction.QueryPrepared != busiURL+"/QueryPrepared" {
		t.Errorf("after prepare: query_prepared = %q; query: %s", res.Transaction.QueryPrepared, res.raw)
	}
	checkBranches(t, res,
		[]string{"01", "02"},
		[]string{"action", "action"},
		[]string{"prepared", "prepared"},
		[]string{busiURL + "/TransOut", busiURL + "/TransIn"},
		[]string{pOut, pIn},
	)
	if calls := busi.callsFor(gid); len(calls) != 0 {
		t.Errorf("business service called before submit: %+v", calls)
	}

	if err := msg.Submit(); err != nil {
		t.Fatalf("msg.Submit() = %v", err)
	}
	res = waitStatus(t, gid, "succeed", 15*time.Second)
	checkBranches(t, res,
		[]string{"01", "02"},
		[]string{"action", "action"},
		[]string{"succeed", "succeed"},
		[]string{busiURL + "/TransOut", busiURL + "/TransIn"},
		[]string{pOut, pIn},
	)
	expectCalls(t, gid, "msg", []busiCall{
		{Path: "TransOut", Method: "POST", BranchID: "01", Op: "action", Body: pOut},
		{Path: "TransIn", Method: "POST", BranchID: "02", Op: "action", Body: pIn},
	})
}

func TestGoMsgDoAndSubmit(t *testing.T) {
	setup(t)
	gid := dtmcli.MustGenGid(dtmURL)
	in := transInReq{Amount: 7, To: "erin"}
	msg := dtmcli.NewMsg(dtmURL, gid).Add(busiURL+"/TransIn", in)
	called := false
	err := msg.DoAndSubmit(busiURL+"/QueryPrepared", func(bb *dtmcli.BranchBarrier) error {
		called = true
		// the transaction must be stored as prepared while the local work runs
		res := query(t, gid)
		if res.Transaction.Status != "prepared" {
			t.Errorf("inside DoAndSubmit: status %q, want prepared; query: %s", res.Transaction.Status, res.raw)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("msg.DoAndSubmit() = %v", err)
	}
	if !called {
		t.Fatal("DoAndSubmit did not run the business callback")
	}
	pIn := mustJSON(t, in)
	res := waitStatus(t, gid, "succeed", 15*time.Second)
	checkBranches(t, res, []string{"01"}, []string{"action"}, []string{"succeed"},
		[]string{busiURL + "/TransIn"}, []string{pIn})
	expectCalls(t, gid, "msg", []busiCall{
		{Path: "TransIn", Method: "POST", BranchID: "01", Op: "action", Body: pIn},
	})
}

func TestGoMsgDoAndSubmitAbort(t *testing.T) {
	setup(t)
	gid := dtmcli.MustGenGid(dtmURL)
	msg := dtmcli.NewMsg(dtmURL, gid).Add(busiURL+"/TransIn", transInReq{Amount: 8, To: "frank"})
	err := msg.DoAndSubmit(busiURL+"/QueryPrepared", func(bb *dtmcli.BranchBarrier) error {
		return dtmcli.ErrFailure
	})
	if !errors.Is(err, dtmcli.ErrFailure) {
		t.Fatalf("msg.DoAndSubmit() = %v, want ErrFailure", err)
	}
	res := query(t, gid)
	if res.Transaction.Status != "failed" {
		t.Errorf("aborted msg: status %q, want failed; query: %s", res.Transaction.Status, res.raw)
	}
	time.Sleep(500 * time.Millisecond)
	expectCalls(t, gid, "msg", nil)
}

// A prepared message that is never submitted is resolved by the server
// through the query_prepared check-back once it times out.
func TestGoMsgCheckBack(t *testing.T) {
	setup(t)
	for _, tc := range []struct {
		name, answer, want string
	}{
		{"committed", "SUCCESS", "succeed"},
		{"rolled-back", "FAILURE", "failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gid := dtmcli.MustGenGid(dtmURL)
			busi.setQueryPrepared(gid, tc.answer)
			in := transInReq{Amount: 9, To: "grace"}
			msg := dtmcli.NewMsg(dtmURL, gid).Add(busiURL+"/TransIn", in)
			msg.TimeoutToFail = 1
			if err := msg.Prepare(busiURL + "/QueryPrepared"); err != nil {
				t.Fatalf("msg.Prepare() = %v", err)
			}
			res := waitStatus(t, gid, tc.want, 15*time.Second)
			pIn := mustJSON(t, in)
			qp := busi.callsFor(gid)
			if len(qp) == 0 || qp[0].Path != "QueryPrepared" {
				t.Fatalf("first business call for gid %s is not QueryPrepared: %+v", gid, qp)
			}
			c := qp[0]
			if c.Method != "GET" || c.BranchID != "00" || c.Op != "msg" || c.TransType != "msg" || c.Body != "" {
				t.Errorf("check-back call = %+v, want GET branch_id=00 op=msg trans_type=msg with no body", c)
			}
			var rest []busiCall
			for _, c := range qp[1:] {
				if c.Path != "QueryPrepared" { // tolerate a repeated check-back
					rest = append(rest, c)
				}
			}
			if tc.want == "succeed" {
				checkBranches(t, res, []string{"01"}, []string{"action"}, []string{"succeed"},
					[]string{busiURL + "/TransIn"}, []string{pIn})
				if len(rest) != 1 || rest[0].Path != "TransIn" || rest[0].Body != pIn || rest[0].Op != "action" || rest[0].BranchID != "01" {
					t.Errorf("calls after check-back = %+v, want one TransIn action 01 with body %s", rest, pIn)
				}
			} else {
				if len(rest) != 0 {
					t.Errorf("rolled-back msg invoked branches: %+v", rest)
				}
			}
		})
	}
}

// ---------------------------------------------------------------------------

// sanity check of the JSON the business service receives: the raw bytes the
// SDK marshalled, not a re-encoding.
func TestGoPayloadVerbatim(t *testing.T) {
	setup(t)
	gid := dtmcli.MustGenGid(dtmURL)
	// json.RawMessage keeps the odd spacing / key order / escapes exactly
	raw := json.RawMessage(`{"z":1,  "a":[1,2,{"k":"v"}],"s":"\u00e9\n\"x\"","n":null,"f":1.50}`)
	saga := dtmcli.NewSaga(dtmURL, gid).Add(busiURL+"/TransOut", busiURL+"/TransOutRevert", raw)
	saga.WaitResult = true
	if err := saga.Submit(); err != nil {
		t.Fatalf("saga.Submit() = %v", err)
	}
	want := mustJSON(t, raw) // exactly what the SDK put into payloads[0]
	res := query(t, gid)
	if res.Transaction.Status != "succeed" {
		t.Errorf("status %q, want succeed; query: %s", res.Transaction.Status, res.raw)
	}
	if res.Transaction.Payloads != nil {
		expectStrings(t, "payloads", res.Transaction.Payloads, []string{want}, res.raw)
	}
	expectCalls(t, gid, "saga", []busiCall{
		{Path: "TransOut", Method: "POST", BranchID: "01", Op: "action", Body: want},
	})
}
