// gRPC through the Go SDK (package dtmgrpc): a saga, 2-phase messages and TCC
// against dtmx's dtmgimp API, with branches served by a gRPC business
// service. The business service has no generated code: its methods are
// registered with a hand-written grpc.ServiceDesc, take a
// google.protobuf.StringValue and reply google.protobuf.Empty; an action or
// try answers what the text says ("FAILURE": Aborted, "ONGOING":
// FailedPrecondition, anything else OK).
package interop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dtm-labs/client/dtmcli"
	"github.com/dtm-labs/client/dtmcli/dtmimp"
	"github.com/dtm-labs/client/dtmgrpc"
	"github.com/dtm-labs/client/workflow"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// grpcCall is one call the gRPC business service received.
type grpcCall struct {
	Method   string // e.g. "TransOut"
	Gid      string // metadata dtm-gid
	BranchID string
	Op       string
	Payload  string // the StringValue text
	Tenant   string // metadata x-tenant (a branch header)
}

type grpcBusiService struct {
	mu    sync.Mutex
	calls []grpcCall
	// gid -> what QueryPrepared answers ("SUCCESS" when unset)
	queryPrepared map[string]string
}

var (
	grpcBusiOnce sync.Once
	grpcBusi     *grpcBusiService
	grpcBusiAddr string // 127.0.0.1:<port>
	grpcBusiErr  error
)

// grpcMethods are the methods of busi.Busi.
var grpcMethods = []string{
	"TransOut", "TransOutRevert", "TransIn", "TransInRevert",
	"TransOutTry", "TransOutConfirm", "TransOutCancel",
	"TransInTry", "TransInConfirm", "TransInCancel",
	"QueryPrepared",
}

// setupGrpc skips like setup, and starts the gRPC business service once.
func setupGrpc(t *testing.T) {
	t.Helper()
	setup(t)
	grpcBusiOnce.Do(func() {
		grpcBusi = &grpcBusiService{queryPrepared: map[string]string{}}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			grpcBusiErr = err
			return
		}
		grpcBusiAddr = ln.Addr().String()
		desc := grpc.ServiceDesc{
			ServiceName: "busi.Busi",
			HandlerType: (*interface{})(nil),
		}
		for _, m := range grpcMethods {
			desc.Methods = append(desc.Methods, grpc.MethodDesc{MethodName: m, Handler: grpcBusi.handler(m)})
		}
		srv := grpc.NewServer()
		srv.RegisterService(&desc, grpcBusi)
		// the gRPC workflow callback (workflow.Workflow/Execute) is served
		// here too; the SDK's protocol is global, so HTTP stays the default
		// and grpc_workflow_test.go switches to gRPC while it runs
		workflow.InitGrpc(dtmGrpc, grpcBusiAddr, srv)
		workflow.SetProtocolForTest(dtmimp.ProtocolHTTP)
		go func() { _ = srv.Serve(ln) }()
	})
	if grpcBusiErr != nil {
		t.Fatalf("gRPC business service: %v", grpcBusiErr)
	}
}

// busiGrpcURL is the gRPC branch URL of method m.
func busiGrpcURL(m string) string {
	return grpcBusiAddr + "/busi.Busi/" + m
}

func (b *grpcBusiService) handler(method string) func(interface{}, context.Context, func(interface{}) error, grpc.UnaryServerInterceptor) (interface{}, error) {
	return func(_ interface{}, ctx context.Context, dec func(interface{}) error, _ grpc.UnaryServerInterceptor) (interface{}, error) {
		in := &wrapperspb.StringValue{}
		if err := dec(in); err != nil {
			return nil, err
		}
		md, _ := metadata.FromIncomingContext(ctx)
		get := func(k string) string {
			if v := md.Get(k); len(v) > 0 {
				return v[0]
			}
			return ""
		}
		c := grpcCall{
			Method:   method,
			Gid:      get("dtm-gid"),
			BranchID: get("dtm-branch_id"),
			Op:       get("dtm-op"),
			Payload:  in.Value,
			Tenant:   get("x-tenant"),
		}
		b.mu.Lock()
		b.calls = append(b.calls, c)
		// actions and tries answer what their payload says; compensations,
		// confirms and cancels (which get the same payload) always succeed
		answer := ""
		switch method {
		case "TransOut", "TransIn", "TransOutTry", "TransInTry":
			answer = in.Value
		case "QueryPrepared":
			answer = b.queryPrepared[c.Gid]
		}
		b.mu.Unlock()
		switch answer {
		case "FAILURE":
			return nil, status.New(codes.Aborted, dtmcli.ResultFailure).Err()
		case "ONGOING":
			return nil, status.New(codes.FailedPrecondition, dtmcli.ResultOngoing).Err()
		}
		return &emptypb.Empty{}, nil
	}
}

func (b *grpcBusiService) setQueryPrepared(gid, result string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.queryPrepared[gid] = result
}

func (b *grpcBusiService) callsFor(gid string) []grpcCall {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []grpcCall
	for _, c := range b.calls {
		if c.Gid == gid {
			out = append(out, c)
		}
	}
	return out
}

func grpcMethodsOf(calls []grpcCall) string {
	var names []string
	for _, c := range calls {
		names = append(names, c.Method)
	}
	return strings.Join(names, ",")
}

func branchStatuses(res queryResult) string {
	var st []string
	for _, b := range res.Branches {
		st = append(st, b.Status)
	}
	return strings.Join(st, ",")
}

func str(s string) *wrapperspb.StringValue { return wrapperspb.String(s) }

func TestGoGrpcSagaSucceed(t *testing.T) {
	setupGrpc(t)
	gid := dtmgrpc.MustGenGid(dtmGrpc)
	saga := dtmgrpc.NewSagaGrpc(dtmGrpc, gid, dtmgrpc.WithBranchHeaders(map[string]string{"x-tenant": "t1"})).
		Add(busiGrpcURL("TransOut"), busiGrpcURL("TransOutRevert"), str("out-30")).
		Add(busiGrpcURL("TransIn"), busiGrpcURL("TransInRevert"), str("in-30"))
	saga.WaitResult = true
	if err := saga.Submit(); err != nil {
		t.Fatalf("submit: %v", err)
	}
	res := query(t, gid)
	if res.Transaction.Status != "succeed" || res.Transaction.TransType != "saga" {
		t.Fatalf("query: %s", res.raw)
	}
	if got := branchStatuses(res); got != "prepared,succeed,prepared,succeed" {
		t.Fatalf("branch statuses %s: %s", got, res.raw)
	}
	calls := grpcBusi.callsFor(gid)
	if got := grpcMethodsOf(calls); got != "TransOut,TransIn" {
		t.Fatalf("calls %s", got)
	}
	want := []grpcCall{
		{Method: "TransOut", Gid: gid, BranchID: "01", Op: "action", Payload: "out-30", Tenant: "t1"},
		{Method: "TransIn", Gid: gid, BranchID: "02", Op: "action", Payload: "in-30", Tenant: "t1"},
	}
	for i := range want {
		if calls[i] != want[i] {
			t.Fatalf("call %d: got %+v, want %+v", i, calls[i], want[i])
		}
	}
}

func TestGoGrpcSagaRollback(t *testing.T) {
	setupGrpc(t)
	gid := dtmgrpc.MustGenGid(dtmGrpc)
	saga := dtmgrpc.NewSagaGrpc(dtmGrpc, gid).
		Add(busiGrpcURL("TransOut"), busiGrpcURL("TransOutRevert"), str("out-30")).
		Add(busiGrpcURL("TransIn"), busiGrpcURL("TransInRevert"), str("FAILURE"))
	saga.WaitResult = true
	err := saga.Submit()
	if err == nil || status.Code(err) != codes.Aborted {
		t.Fatalf("submit of a failing saga: %v", err)
	}
	res := query(t, gid)
	if res.Transaction.Status != "failed" {
		t.Fatalf("query: %s", res.raw)
	}
	if got := branchStatuses(res); got != "succeed,succeed,succeed,failed" {
		t.Fatalf("branch statuses %s: %s", got, res.raw)
	}
	if got := grpcMethodsOf(grpcBusi.callsFor(gid)); got != "TransOut,TransIn,TransInRevert,TransOutRevert" {
		t.Fatalf("calls %s", got)
	}
}

func TestGoGrpcMsgDoAndSubmit(t *testing.T) {
	setupGrpc(t)
	gid := dtmgrpc.MustGenGid(dtmGrpc)
	msg := dtmgrpc.NewMsgGrpc(dtmGrpc, gid).
		Add(busiGrpcURL("TransOut"), str("out-7")).
		Add(busiGrpcURL("TransIn"), str("in-7"))
	msg.WaitResult = true
	ran := false
	err := msg.DoAndSubmit(busiGrpcURL("QueryPrepared"), func(bb *dtmcli.BranchBarrier) error {
		ran = bb.Gid == gid && bb.BranchID == "00" && bb.Op == "msg"
		return nil
	})
	if err != nil || !ran {
		t.Fatalf("DoAndSubmit: err %v, local work ran with the msg barrier: %v", err, ran)
	}
	res := query(t, gid)
	if res.Transaction.Status != "succeed" || branchStatuses(res) != "succeed,succeed" {
		t.Fatalf("query: %s", res.raw)
	}
	calls := grpcBusi.callsFor(gid)
	if got := grpcMethodsOf(calls); got != "TransOut,TransIn" {
		t.Fatalf("calls %s", got)
	}
	if calls[1].Payload != "in-7" || calls[1].Op != "action" || calls[1].BranchID != "02" {
		t.Fatalf("delivery %+v", calls[1])
	}
}

// A local transaction that errors: DoAndSubmit asks QueryPrepared itself over
// gRPC; Aborted there makes it abort the prepared message.
func TestGoGrpcMsgRolledBackLocally(t *testing.T) {
	setupGrpc(t)
	gid := dtmgrpc.MustGenGid(dtmGrpc)
	grpcBusi.setQueryPrepared(gid, "FAILURE")
	msg := dtmgrpc.NewMsgGrpc(dtmGrpc, gid).Add(busiGrpcURL("TransOut"), str("out-1"))
	local := errors.New("local database error")
	err := msg.DoAndSubmit(busiGrpcURL("QueryPrepared"), func(*dtmcli.BranchBarrier) error { return local })
	if !errors.Is(err, local) {
		t.Fatalf("DoAndSubmit returns the local error, got %v", err)
	}
	res := query(t, gid)
	if res.Transaction.Status != "failed" || branchStatuses(res) != "prepared" {
		t.Fatalf("query: %s", res.raw)
	}
	if got := grpcMethodsOf(grpcBusi.callsFor(gid)); got != "QueryPrepared" {
		t.Fatalf("calls %s", got)
	}
}

// A prepared message nobody submits: once it times out, dtmx calls the gRPC
// check-back (branch 00, op msg), which answers OK, and delivers it.
func TestGoGrpcMsgCheckBack(t *testing.T) {
	setupGrpc(t)
	gid := dtmgrpc.MustGenGid(dtmGrpc)
	msg := dtmgrpc.NewMsgGrpc(dtmGrpc, gid).Add(busiGrpcURL("TransIn"), str("in-5"))
	msg.TimeoutToFail = 1
	if err := msg.Prepare(busiGrpcURL("QueryPrepared")); err != nil {
		t.Fatalf("prepare: %v", err)
	}
	res := waitStatus(t, gid, "succeed", 30*time.Second)
	if branchStatuses(res) != "succeed" {
		t.Fatalf("query: %s", res.raw)
	}
	calls := grpcBusi.callsFor(gid)
	if got := grpcMethodsOf(calls); got != "QueryPrepared,TransIn" {
		t.Fatalf("calls %s", got)
	}
	if calls[0].BranchID != "00" || calls[0].Op != "msg" {
		t.Fatalf("check-back %+v", calls[0])
	}
}

func TestGoGrpcTccSucceed(t *testing.T) {
	setupGrpc(t)
	gid := dtmgrpc.MustGenGid(dtmGrpc)
	err := dtmgrpc.TccGlobalTransaction2(dtmGrpc, gid, func(tcc *dtmgrpc.TccGrpc) {
		tcc.WaitResult = true
	}, func(tcc *dtmgrpc.TccGrpc) error {
		r := &emptypb.Empty{}
		if err := tcc.CallBranch(str("out-9"), busiGrpcURL("TransOutTry"), busiGrpcURL("TransOutConfirm"), busiGrpcURL("TransOutCancel"), r); err != nil {
			return err
		}
		return tcc.CallBranch(str("in-9"), busiGrpcURL("TransInTry"), busiGrpcURL("TransInConfirm"), busiGrpcURL("TransInCancel"), r)
	})
	if err != nil {
		t.Fatalf("tcc: %v", err)
	}
	res := query(t, gid)
	if res.Transaction.Status != "succeed" || branchStatuses(res) != "prepared,succeed,prepared,succeed" {
		t.Fatalf("query: %s", res.raw)
	}
	calls := grpcBusi.callsFor(gid)
	if got := grpcMethodsOf(calls); got != "TransOutTry,TransInTry,TransInConfirm,TransOutConfirm" {
		t.Fatalf("calls %s", got)
	}
	// dtmx sends the try payload registered with the branch to its confirm
	if calls[2].Payload != "in-9" || calls[2].Op != "confirm" || calls[2].BranchID != "02" {
		t.Fatalf("confirm %+v", calls[2])
	}
}

func TestGoGrpcTccRollback(t *testing.T) {
	setupGrpc(t)
	gid := dtmgrpc.MustGenGid(dtmGrpc)
	err := dtmgrpc.TccGlobalTransaction2(dtmGrpc, gid, func(tcc *dtmgrpc.TccGrpc) {
		tcc.WaitResult = true
	}, func(tcc *dtmgrpc.TccGrpc) error {
		r := &emptypb.Empty{}
		if err := tcc.CallBranch(str("out-9"), busiGrpcURL("TransOutTry"), busiGrpcURL("TransOutConfirm"), busiGrpcURL("TransOutCancel"), r); err != nil {
			return err
		}
		return tcc.CallBranch(str("FAILURE"), busiGrpcURL("TransInTry"), busiGrpcURL("TransInConfirm"), busiGrpcURL("TransInCancel"), r)
	})
	if status.Code(err) != codes.Aborted {
		t.Fatalf("tcc with a failing try: %v", err)
	}
	res := query(t, gid)
	if res.Transaction.Status != "failed" || branchStatuses(res) != "succeed,prepared,succeed,prepared" {
		t.Fatalf("query: %s", res.raw)
	}
	if !strings.Contains(res.Transaction.RollbackReason, "FAILURE") {
		t.Fatalf("rollback reason: %s", res.raw)
	}
	calls := grpcBusi.callsFor(gid)
	var cancels []string
	for _, c := range calls {
		if c.Op == "cancel" {
			cancels = append(cancels, fmt.Sprintf("%s/%s", c.Method, c.BranchID))
		}
	}
	sort.Strings(cancels)
	if got := strings.Join(cancels, ","); got != "TransInCancel/02,TransOutCancel/01" {
		t.Fatalf("cancels %s (calls %s)", got, grpcMethodsOf(calls))
	}
}
