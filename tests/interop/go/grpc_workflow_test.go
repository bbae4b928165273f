// A gRPC workflow through the Go SDK (package workflow with InitGrpc): the
// workflow talks to dtmx over gRPC (PrepareWorkflow, RegisterBranch, Submit)
// and calls the gRPC business service through workflow.Interceptor.
package interop

import (
	"errors"
	"sync"
	"testing"

	"github.com/dtm-labs/client/dtmcli"
	"github.com/dtm-labs/client/dtmcli/dtmimp"
	"github.com/dtm-labs/client/dtmgrpc"
	"github.com/dtm-labs/client/workflow"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
)

const wfGrpcTransfer = "interop-grpc-transfer"

var grpcWfOnce sync.Once

// grpcWfInit switches the workflow SDK to gRPC for the test (back to HTTP at
// the end) and registers the gRPC transfer workflow once: TransOut then
// TransIn on the gRPC business service, each with a compensation; TransIn's
// payload is the input (so "FAILURE" makes it fail), TransOut's "out:<input>",
// the result "done:<input>".
func grpcWfInit(t *testing.T) {
	t.Helper()
	setupGrpc(t)
	var err error
	grpcWfOnce.Do(func() {
		var conn *grpc.ClientConn
		conn, err = grpc.Dial(grpcBusiAddr,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithUnaryInterceptor(workflow.Interceptor))
		if err != nil {
			return
		}
		call := func(wf *workflow.Workflow, method string, payload string) error {
			return conn.Invoke(wf.Context, "/busi.Busi/"+method, str(payload), &emptypb.Empty{})
		}
		err = workflow.Register2(wfGrpcTransfer, func(wf *workflow.Workflow, data []byte) ([]byte, error) {
			wf.NewBranch().OnRollback(func(*dtmcli.BranchBarrier) error {
				return call(wf, "TransOutRevert", "out:"+string(data))
			})
			if err := call(wf, "TransOut", "out:"+string(data)); err != nil {
				return nil, err
			}
			wf.NewBranch().OnRollback(func(*dtmcli.BranchBarrier) error {
				return call(wf, "TransInRevert", string(data))
			})
			if err := call(wf, "TransIn", string(data)); err != nil {
				return nil, err
			}
			return []byte("done:" + string(data)), nil
		})
	})
	if err != nil {
		t.Fatalf("gRPC workflow setup: %v", err)
	}
	workflow.SetProtocolForTest(dtmimp.ProtocolGRPC)
	t.Cleanup(func() { workflow.SetProtocolForTest(dtmimp.ProtocolHTTP) })
}

func TestGoGrpcWorkflowSucceed(t *testing.T) {
	grpcWfInit(t)
	gid := dtmgrpc.MustGenGid(dtmGrpc)
	res, err := workflow.Execute2(wfGrpcTransfer, gid, []byte("wf-10"))
	if err != nil || string(res) != "done:wf-10" {
		t.Fatalf("execute: result %q, err %v", res, err)
	}
	q := query(t, gid)
	if q.Transaction.Status != "succeed" || q.Transaction.TransType != "workflow" {
		t.Fatalf("query: %s", q.raw)
	}
	calls := grpcBusi.callsFor(gid)
	if got := grpcMethodsOf(calls); got != "TransOut,TransIn" {
		t.Fatalf("calls %s", got)
	}
	if calls[1].BranchID != "02" || calls[1].Op != "action" || calls[1].Payload != "wf-10" {
		t.Fatalf("TransIn call %+v", calls[1])
	}
	// a finished workflow executed again returns its stored result (DTM's
	// gRPC PrepareWorkflow leaves it empty; dtmx fills it) without new calls
	res, err = workflow.Execute2(wfGrpcTransfer, gid, []byte("wf-10"))
	if err != nil || string(res) != "done:wf-10" {
		t.Fatalf("execute again: result %q, err %v", res, err)
	}
	if got := grpcMethodsOf(grpcBusi.callsFor(gid)); got != "TransOut,TransIn" {
		t.Fatalf("calls after re-execution %s", got)
	}
}

func TestGoGrpcWorkflowRollback(t *testing.T) {
	grpcWfInit(t)
	gid := dtmgrpc.MustGenGid(dtmGrpc)
	_, err := workflow.Execute2(wfGrpcTransfer, gid, []byte("FAILURE"))
	if !errors.Is(err, dtmcli.ErrFailure) {
		t.Fatalf("execute: want a FAILURE, got %v", err)
	}
	q := query(t, gid)
	if q.Transaction.Status != "failed" {
		t.Fatalf("query: %s", q.raw)
	}
	// the failed TransIn's own compensation is not run (SDK default)
	if got := grpcMethodsOf(grpcBusi.callsFor(gid)); got != "TransOut,TransIn,TransOutRevert" {
		t.Fatalf("calls %s", got)
	}
}
