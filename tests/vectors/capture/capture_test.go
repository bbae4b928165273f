// Capture of what DTM's official Go SDK (dtmcli of github.com/dtm-labs/client v1.18.7)
// really sends, compared with tests/vectors/requests.json and replies.json.
//
// Every request the SDK makes, to dtm or to a branch, is routed (through the SDK's own
// HTTP middleware hook) to an in-process fake server that records it and answers with the
// reply the vector scripts. The XA branch runs on a fake database/sql driver registered as
// "mysql" and "postgres" that records every statement. The test fails on any difference
// between what the SDK did and what the vectors say: methods, URLs, query parameters,
// headers, JSON bodies (values, key sets and top-level key order), SQL and results.
package capture

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/dtm-labs/client/dtmcli"
	"github.com/dtm-labs/client/dtmcli/dtmimp"
	"github.com/dtm-labs/client/dtmcli/logger"
	"github.com/dtm-labs/client/dtmgrpc"
	"github.com/dtm-labs/dtmdriver"
	"github.com/go-resty/resty/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// ---------------------------------------------------------------------------
// recording

type reply struct {
	URL    string `json:"url"`
	Status int    `json:"status"`
	Body   string `json:"body"`
}

var (
	mu           sync.Mutex
	events       []map[string]any
	replies      = map[string]reply{}
	defaultReply = reply{Status: 200, Body: `{"dtm_result":"SUCCESS"}`}
	sqlErrors    = map[string]string{}
	fakeURL      string
)

func record(e map[string]any) {
	mu.Lock()
	defer mu.Unlock()
	events = append(events, e)
}

// reset clears the log and installs the replies and SQL errors of one case.
func reset(rs []reply, errs map[string]string) {
	mu.Lock()
	defer mu.Unlock()
	events = nil
	replies = map[string]reply{}
	for _, r := range rs {
		replies[r.URL] = r
	}
	sqlErrors = map[string]string{}
	for k, v := range errs {
		sqlErrors[k] = v
	}
}

func taken() []map[string]any {
	mu.Lock()
	defer mu.Unlock()
	return append([]map[string]any(nil), events...)
}

// fake serves every URL: http://<host>/<path> arrives as <fake>/<host>/<path>.
func fake(w http.ResponseWriter, r *http.Request) {
	orig := "http://" + strings.TrimPrefix(r.URL.Path, "/")
	raw, _ := io.ReadAll(r.Body)
	query := map[string]any{}
	for k, vs := range r.URL.Query() {
		query[k] = vs[0]
	}
	headers := map[string]string{}
	for k, vs := range r.Header {
		headers[k] = vs[0]
	}
	record(map[string]any{"request": map[string]any{
		"method": r.Method, "url": orig, "query": query, "headers": headers, "raw": string(raw),
	}})
	mu.Lock()
	rep, ok := replies[orig]
	mu.Unlock()
	if !ok {
		rep = defaultReply
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rep.Status)
	_, _ = w.Write([]byte(rep.Body))
}

// fakeDB is a database/sql driver that records statements and fails those listed in
// sqlErrors.
type fakeDB struct{}
type fakeConn struct{}
type fakeTx struct{}

func (fakeDB) Open(string) (driver.Conn, error) { return fakeConn{}, nil }
func (fakeConn) Prepare(string) (driver.Stmt, error) {
	return nil, errors.New("fake driver: prepare unsupported")
}
func (fakeConn) Close() error              { return nil }
func (fakeConn) Begin() (driver.Tx, error) { return fakeTx{}, nil }
func (fakeTx) Commit() error               { return nil }
func (fakeTx) Rollback() error             { return nil }
func (fakeConn) ExecContext(_ context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if strings.HasPrefix(query, "insert") {
		params := []string{}
		for _, a := range args {
			params = append(params, fmt.Sprint(a.Value))
		}
		record(map[string]any{"barrier_insert": params})
	} else {
		record(map[string]any{"sql": query})
	}
	mu.Lock()
	msg, fail := sqlErrors[query]
	mu.Unlock()
	if fail {
		return nil, errors.New(msg)
	}
	return driver.RowsAffected(1), nil
}

func TestMain(m *testing.M) {
	logger.InitLog("fatal")
	srv := httptest.NewServer(http.HandlerFunc(fake))
	defer srv.Close()
	fakeURL = srv.URL
	dtmdriver.Middlewares.HTTP = append(dtmdriver.Middlewares.HTTP,
		func(c *resty.Client, r *resty.Request) error {
			r.URL = strings.Replace(r.URL, "http://", fakeURL+"/", 1)
			return nil
		})
	sql.Register("mysql", fakeDB{})
	sql.Register("postgres", fakeDB{})
	os.Exit(m.Run())
}

// ---------------------------------------------------------------------------
// vectors

type call struct {
	Call          string `json:"call"`
	Action        string `json:"action"`
	Compensate    string `json:"compensate"`
	Payload       string `json:"payload"`
	Topic         string `json:"topic"`
	QueryPrepared string `json:"query_prepared"`
	Busi          string `json:"busi"`
	Branch        int    `json:"branch"`
	PreBranches   []int  `json:"pre_branches"`
	Seconds       uint64 `json:"seconds"`
	Try           string `json:"try"`
	Confirm       string `json:"confirm"`
	Cancel        string `json:"cancel"`
	URL           string `json:"url"`
}

type vcase struct {
	Name      string            `json:"name"`
	Kind      string            `json:"kind"`
	Gid       string            `json:"gid"`
	Options   json.RawMessage   `json:"options"`
	Calls     []call            `json:"calls"`
	Replies   []reply           `json:"replies"`
	Requests  []json.RawMessage `json:"requests"`
	Events    []json.RawMessage `json:"events"`
	Result    string            `json:"result"`
	Value     *string           `json:"value"`
	Branch    map[string]string `json:"branch"`
	Dialect   string            `json:"dialect"`
	Business  string            `json:"business"`
	SQLErrors map[string]string `json:"sql_errors"`
}

// sdkRequests leaves out the requests only dtmx sends ("dtmx_only": the read-back of a
// transaction whose wait_result submit was refused), which DTM's SDK does not make.
func sdkRequests(all []json.RawMessage) []json.RawMessage {
	var out []json.RawMessage
	for _, r := range all {
		var marked struct {
			DtmxOnly bool `json:"dtmx_only"`
		}
		if json.Unmarshal(r, &marked) == nil && marked.DtmxOnly {
			continue
		}
		out = append(out, r)
	}
	return out
}

type requestsFile struct {
	Dtm          string  `json:"dtm"`
	DefaultReply reply   `json:"default_reply"`
	Cases        []vcase `json:"cases"`
}

func load(t *testing.T, name string, v any) {
	t.Helper()
	raw, err := os.ReadFile("../" + name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func options(t *testing.T, raw json.RawMessage, o *dtmcli.TransOptions) {
	if len(raw) == 0 {
		return
	}
	if err := json.Unmarshal(raw, o); err != nil {
		t.Fatalf("options: %v", err)
	}
}

func busiErr(name string) error {
	switch name {
	case "", "ok":
		return nil
	case "failure":
		return dtmcli.ErrFailure
	case "ongoing":
		return dtmcli.ErrOngoing
	}
	return errors.New("business error")
}

func values(m map[string]string) url.Values {
	qs := url.Values{}
	for k, v := range m {
		qs.Set(k, v)
	}
	return qs
}

// run drives the SDK through one case and returns its error and value.
func run(t *testing.T, dtm string, c vcase) (rerr error, value string) {
	defer func() {
		if x := recover(); x != nil {
			rerr = fmt.Errorf("panic: %v", x)
		}
	}()
	raw := func(p string) json.RawMessage { return json.RawMessage(p) }
	switch c.Kind {
	case "saga":
		s := dtmcli.NewSaga(dtm, c.Gid)
		options(t, c.Options, &s.TransOptions)
		for _, k := range c.Calls {
			switch k.Call {
			case "add":
				s.Add(k.Action, k.Compensate, raw(k.Payload))
			case "add_branch_order":
				s.AddBranchOrder(k.Branch, append([]int{}, k.PreBranches...))
			case "enable_concurrent":
				s.SetConcurrent()
			case "submit":
				return s.Submit(), ""
			default:
				t.Fatalf("saga call %s", k.Call)
			}
		}
	case "msg":
		m := dtmcli.NewMsg(dtm, c.Gid)
		options(t, c.Options, &m.TransOptions)
		for _, k := range c.Calls {
			var err error
			switch k.Call {
			case "add":
				m.Add(k.Action, raw(k.Payload))
			case "add_topic":
				m.AddTopic(k.Topic, raw(k.Payload))
			case "set_delay":
				m.SetDelay(k.Seconds)
			case "enable_concurrent":
				m.Concurrent = true
			case "prepare":
				err = m.Prepare(k.QueryPrepared)
			case "submit":
				err = m.Submit()
			case "abort":
				err = dtmimp.TransCallDtm(&m.TransBase, "abort")
			case "do_and_submit":
				err = m.DoAndSubmit(k.QueryPrepared, func(bb *dtmcli.BranchBarrier) error {
					if bb.TransType != "msg" || bb.Gid != c.Gid || bb.BranchID != "00" || bb.Op != "msg" {
						t.Errorf("%s: barrier %+v", c.Name, bb)
					}
					return busiErr(k.Busi)
				})
			default:
				t.Fatalf("msg call %s", k.Call)
			}
			if err != nil {
				return err, ""
			}
		}
	case "tcc", "tcc_nested":
		branches := func(tcc *dtmcli.Tcc) (*resty.Response, error) {
			for _, k := range c.Calls {
				if _, err := tcc.CallBranch(raw(k.Payload), k.Try, k.Confirm, k.Cancel); err != nil {
					return nil, err
				}
			}
			return nil, nil
		}
		if c.Kind == "tcc" {
			return dtmcli.TccGlobalTransaction2(dtm, c.Gid, func(tcc *dtmcli.Tcc) {
				options(t, c.Options, &tcc.TransOptions)
			}, branches), ""
		}
		tcc, err := dtmcli.TccFromQuery(values(c.Branch))
		if err != nil {
			return err, ""
		}
		options(t, c.Options, &tcc.TransOptions)
		_, err = branches(tcc)
		return err, ""
	case "xa":
		return dtmcli.XaGlobalTransaction2(dtm, c.Gid, func(x *dtmcli.Xa) {
			options(t, c.Options, &x.TransOptions)
		}, func(x *dtmcli.Xa) (*resty.Response, error) {
			for _, k := range c.Calls {
				if _, err := x.CallBranch(raw(k.Payload), k.URL); err != nil {
					return nil, err
				}
			}
			return nil, nil
		}), ""
	case "xa_local":
		conf := dtmcli.DBConf{Driver: c.Dialect, Host: "db.test", Port: 3306, User: "u", Password: "p", Db: "d"}
		return dtmcli.XaLocalTransaction(values(c.Branch), conf, func(db *sql.DB, xa *dtmcli.Xa) error {
			record(map[string]any{"business": true})
			return busiErr(c.Business)
		}), ""
	case "new_gid":
		return nil, dtmcli.MustGenGid(dtm)
	default:
		t.Fatalf("unknown kind %s", c.Kind)
	}
	return nil, ""
}

// kindOf classifies a Go SDK error the way the vectors name results.
func kindOf(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, dtmcli.ErrOngoing):
		return "ongoing"
	case errors.Is(err, dtmcli.ErrFailure):
		return "failure"
	}
	return "error"
}

// sameResult: ok, failure and ongoing must match exactly; any other expected kind (the
// Rust core's finer kinds: server, database, ...) must be an error in Go. Go reports a
// FAILURE reply of dtm itself as a plain error carrying the body, hence the text check.
func sameResult(want string, err error) bool {
	got := kindOf(err)
	switch want {
	case "ok":
		return got == "ok"
	case "failure":
		return got == "failure" || (got == "error" && strings.Contains(err.Error(), "FAILURE"))
	case "ongoing":
		return got == "ongoing" || (got == "error" && strings.Contains(err.Error(), "ONGOING"))
	}
	return got != "ok"
}

// topKeys lists the keys of a JSON object in text order (nil if not an object).
func topKeys(raw []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	keys := []string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil
		}
	}
	return keys
}

type wantRequest struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Query   map[string]any    `json:"query"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

func checkRequest(t *testing.T, where string, got map[string]any, wantRaw json.RawMessage) {
	t.Helper()
	var want wantRequest
	if err := json.Unmarshal(wantRaw, &want); err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	if got["method"] != want.Method || got["url"] != want.URL {
		t.Errorf("%s: %s %s, want %s %s", where, got["method"], got["url"], want.Method, want.URL)
	}
	if want.Query == nil {
		want.Query = map[string]any{}
	}
	if !reflect.DeepEqual(got["query"], want.Query) {
		t.Errorf("%s: query %v, want %v", where, got["query"], want.Query)
	}
	headers := got["headers"].(map[string]string)
	for k, v := range want.Headers {
		if headers[http.CanonicalHeaderKey(k)] != v {
			t.Errorf("%s: header %s = %q, want %q", where, k, headers[http.CanonicalHeaderKey(k)], v)
		}
	}
	raw := got["raw"].(string)
	if string(want.Body) == "null" || len(want.Body) == 0 {
		if raw != "" {
			t.Errorf("%s: body %s, want none", where, raw)
		}
		return
	}
	var g, w any
	if err := json.Unmarshal([]byte(raw), &g); err != nil {
		t.Errorf("%s: body is not JSON: %q", where, raw)
		return
	}
	_ = json.Unmarshal(want.Body, &w)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s: body\n got %s\nwant %s", where, raw, want.Body)
	}
	if gk, wk := topKeys([]byte(raw)), topKeys(want.Body); !reflect.DeepEqual(gk, wk) {
		t.Errorf("%s: key order %v, want %v", where, gk, wk)
	}
}

func TestRequestVectors(t *testing.T) {
	var f requestsFile
	load(t, "requests.json", &f)
	defaultReply = f.DefaultReply
	if len(f.Cases) == 0 {
		t.Fatal("no cases")
	}
	for _, c := range f.Cases {
		c := c
		t.Run(c.Name, func(t *testing.T) {
			reset(c.Replies, c.SQLErrors)
			err, value := run(t, f.Dtm, c)
			if !sameResult(c.Result, err) {
				t.Errorf("result %v (%s), want %s", err, kindOf(err), c.Result)
			}
			if c.Value != nil && value != *c.Value {
				t.Errorf("value %q, want %q", value, *c.Value)
			}
			got := taken()
			want := sdkRequests(c.Requests)
			if c.Kind == "xa_local" {
				want = c.Events
			}
			if len(got) != len(want) {
				t.Errorf("%d events, want %d", len(got), len(want))
				for i, e := range got {
					t.Logf("event %d: %v", i, e)
				}
				return
			}
			for i, e := range got {
				where := fmt.Sprintf("event %d", i)
				var w map[string]json.RawMessage
				if c.Kind == "xa_local" {
					_ = json.Unmarshal(want[i], &w)
				} else {
					w = map[string]json.RawMessage{"request": want[i]}
				}
				if r, ok := e["request"]; ok {
					if w["request"] == nil {
						t.Errorf("%s: request %v, want %s", where, r, want[i])
						continue
					}
					checkRequest(t, where, r.(map[string]any), w["request"])
					continue
				}
				gotJSON, _ := json.Marshal(e)
				var g, x any
				_ = json.Unmarshal(gotJSON, &g)
				_ = json.Unmarshal(want[i], &x)
				if !reflect.DeepEqual(g, x) {
					t.Errorf("%s: %s, want %s", where, gotJSON, want[i])
				}
			}
		})
	}
}

// ---------------------------------------------------------------------------
// replies.json: the same mappings in the Go SDK, where it has them

type replyCase struct {
	Status   int               `json:"status"`
	Body     string            `json:"body"`
	Outcome  string            `json:"outcome"`
	Kind     string            `json:"kind"`
	Message  *string           `json:"message"`
	Code     int               `json:"code"`
	HTTP     int               `json:"http_status"`
	HTTPBody json.RawMessage   `json:"http_body"`
	Grpc     int               `json:"grpc_code"`
	Query    *string           `json:"query"`
	Metadata map[string]string `json:"metadata"`
	Branch   map[string]string `json:"branch"`
}

type repliesFile struct {
	BranchReplies       []replyCase `json:"branch_replies"`
	ClientBranchReplies []replyCase `json:"client_branch_replies"`
	ServerReplies       []replyCase `json:"server_replies"`
	OutcomeReplies      []replyCase `json:"outcome_replies"`
	GrpcReplies         []replyCase `json:"grpc_replies"`
	BranchRequests      []replyCase `json:"branch_requests"`
}

func outcomeOf(err error) string {
	switch kindOf(err) {
	case "ok":
		return "success"
	case "error":
		return "unknown"
	}
	return kindOf(err)
}

// branchReply serves status/body on a fresh URL and returns the SDK's reading of it.
func branchReply(t *testing.T, i int, status int, body string) error {
	u := fmt.Sprintf("http://busi.test/replies/%d", i)
	reset([]reply{{URL: u, Status: status, Body: body}}, nil)
	resp, err := dtmcli.GetRestyClient().R().Get(u)
	if err != nil {
		t.Fatal(err)
	}
	return dtmcli.HTTPResp2DtmError(resp)
}

func TestReplyVectors(t *testing.T) {
	var f repliesFile
	load(t, "replies.json", &f)
	for i, c := range f.BranchReplies {
		if got := outcomeOf(branchReply(t, i, c.Status, c.Body)); got != c.Outcome {
			t.Errorf("branch reply %d %q: %s, want %s", c.Status, c.Body, got, c.Outcome)
		}
	}
	for i, c := range f.ClientBranchReplies {
		err := branchReply(t, 1000+i, c.Status, c.Body)
		if !sameResult(c.Kind, err) || (c.Kind == "server" && kindOf(err) != "error") {
			t.Errorf("client branch reply %d %q: %v, want %s", c.Status, c.Body, err, c.Kind)
		}
		if c.Message != nil && err != nil && err.Error() != *c.Message {
			t.Errorf("client branch reply %d %q: message %q, want %q", c.Status, c.Body, err.Error(), *c.Message)
		}
	}
	for i, c := range f.ServerReplies {
		dtm := fmt.Sprintf("http://dtm.test/replies/%d", i)
		reset([]reply{{URL: dtm + "/op", Status: c.Status, Body: c.Body}}, nil)
		tb := dtmimp.NewTransBase("g", "saga", dtm, "")
		_, err := dtmimp.TransCallDtmExt(tb, tb, "op")
		if (err == nil) != (c.Kind == "ok") {
			t.Errorf("server reply %d %q: %v, want %s", c.Status, c.Body, err, c.Kind)
		}
		if c.Message != nil && err != nil && err.Error() != *c.Message {
			t.Errorf("server reply %d %q: message %q, want %q", c.Status, c.Body, err.Error(), *c.Message)
		}
	}
	for i, c := range f.OutcomeReplies {
		// dtm (which reads replies with the SDK's function) sees the outcome we meant.
		if got := outcomeOf(branchReply(t, 2000+i, c.HTTP, string(c.HTTPBody))); got != c.Outcome {
			t.Errorf("outcome reply %s: dtm reads %s", c.HTTPBody, got)
		}
		var err error
		msg := ""
		if c.Message != nil {
			msg = *c.Message
		}
		switch c.Outcome {
		case "failure":
			err = dtmcli.ErrorMessage2Error(msg, dtmcli.ErrFailure)
		case "ongoing":
			err = dtmcli.ErrorMessage2Error(msg, dtmcli.ErrOngoing)
		case "unknown":
			err = errors.New(msg)
		}
		if got := status.Code(dtmgrpc.DtmError2GrpcError(err)); int(got) != c.Grpc {
			t.Errorf("outcome %s: grpc code %d, want %d", c.Outcome, got, c.Grpc)
		}
	}
	for _, c := range f.GrpcReplies {
		msg := ""
		if c.Message != nil {
			msg = *c.Message
		}
		err := dtmgrpc.GrpcError2DtmError(status.Error(codes.Code(c.Code), msg))
		if got := outcomeOf(err); got != c.Outcome {
			t.Errorf("grpc %d %q: %s, want %s", c.Code, msg, got, c.Outcome)
		}
	}
	for _, c := range f.BranchRequests {
		got := map[string]string{}
		if c.Query != nil {
			qs, err := url.ParseQuery(strings.TrimPrefix(*c.Query, "?"))
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"gid", "trans_type", "branch_id", "op", "dtm", "phase2_url"} {
				got[k] = dtmimp.EscapeGet(qs, k)
			}
		} else {
			md := metadata.New(c.Metadata)
			for _, k := range []string{"gid", "trans_type", "branch_id", "op", "dtm", "phase2_url"} {
				v := md.Get("dtm-" + k)
				got[k] = ""
				if len(v) > 0 {
					got[k] = v[0]
				}
			}
		}
		if !reflect.DeepEqual(got, c.Branch) {
			keys := make([]string, 0, len(got))
			for k := range got {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			t.Errorf("branch request %v: %v, want %v (%v)", c.Query, got, c.Branch, keys)
		}
	}
}
