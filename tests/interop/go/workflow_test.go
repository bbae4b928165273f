// HTTP workflow through the Go SDK (package workflow): two recorded HTTP
// requests with OnRollback compensations, the failure path, and a resume
// of an interrupted workflow by dtmx's cron through the callback route.
package interop

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dtm-labs/client/dtmcli"
	"github.com/dtm-labs/client/workflow"
)

const (
	wfTransfer = "interop-transfer"
	wfFlaky    = "interop-flaky"
)

// wfReq is the workflow input; each request body is the same input.
type wfReq struct {
	Amount        int    `json:"amount"`
	User          string `json:"user"`
	TransInResult string `json:"transInResult,omitempty"`
}

var (
	wfOnce sync.Once
	// gid -> how many more times TransInFlaky answers 500
	flakyMu    sync.Mutex
	flakyFails = map[string]int{}
)

func init() {
	// dtmx calls this (POST, body = workflow input, op = workflow name,
	// branch_id 00) to resume a workflow the client did not finish
	busiRoutes["WorkflowResume"] = func(w http.ResponseWriter, r *http.Request, body []byte) {
		writeError(w, workflow.ExecuteByQS(r.URL.Query(), body))
	}
	busiRoutes["TransInFlaky"] = func(w http.ResponseWriter, r *http.Request, body []byte) {
		gid := r.URL.Query().Get("gid")
		flakyMu.Lock()
		n := flakyFails[gid]
		if n > 0 {
			flakyFails[gid] = n - 1
		}
		flakyMu.Unlock()
		if n > 0 {
			writeError(w, errors.New("temporarily unavailable"))
			return
		}
		writeResult(w, "SUCCESS")
	}
}

// wfInit points the workflow SDK at dtmx and registers the workflows (once
// per process: the SDK's registry is global).
func wfInit(t *testing.T) {
	t.Helper()
	setup(t)
	wfOnce.Do(func() {
		workflow.InitHTTP(dtmURL, busiURL+"/WorkflowResume")
		transfer := func(transIn string) workflow.WfFunc {
			return func(wf *workflow.Workflow, data []byte) error {
				var req wfReq
				if err := json.Unmarshal(data, &req); err != nil {
					return err
				}
				_, err := wf.NewBranch().OnRollback(func(bb *dtmcli.BranchBarrier) error {
					_, err := wf.NewRequest().SetBody(req).Post(busiURL + "/TransOutRevert")
					return err
				}).NewRequest().SetBody(req).Post(busiURL + "/TransOut")
				if err != nil {
					return err
				}
				_, err = wf.NewBranch().OnRollback(func(bb *dtmcli.BranchBarrier) error {
					_, err := wf.NewRequest().SetBody(req).Post(busiURL + "/TransInRevert")
					return err
				}).NewRequest().SetBody(req).Post(busiURL + "/" + transIn)
				return err
			}
		}
		if err := workflow.Register(wfTransfer, transfer("TransIn")); err != nil {
			panic(err)
		}
		// retry_interval 1 s so that the cron resumes it quickly
		if err := workflow.Register(wfFlaky, transfer("TransInFlaky"), func(wf *workflow.Workflow) {
			wf.RetryInterval = 1
		}); err != nil {
			panic(err)
		}
	})
}

// waitBranches polls query until the transaction has n branch rows:
// workflow progress may be written by dtmx's asynchronous batch writer.
func waitBranches(t *testing.T, gid string, n int, timeout time.Duration) queryResult {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		res := query(t, gid)
		if len(res.Branches) >= n || time.Now().After(deadline) {
			return res
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func checkWorkflowTrans(t *testing.T, res queryResult, gid, name, status string, input []byte) {
	t.Helper()
	tr := res.Transaction
	if tr.Gid != gid || tr.TransType != "workflow" || tr.Status != status {
		t.Errorf("transaction gid/type/status = %q/%q/%q, want %q/workflow/%s; query: %s", tr.Gid, tr.TransType, tr.Status, gid, status, res.raw)
	}
	if tr.QueryPrepared != busiURL+"/WorkflowResume" {
		t.Errorf("query_prepared = %q, want the callback URL; query: %s", tr.QueryPrepared, res.raw)
	}
	var cd struct {
		Name string `json:"name"`
		Data []byte `json:"data"` // base64 in JSON
	}
	if err := json.Unmarshal([]byte(tr.CustomData), &cd); err != nil || cd.Name != name || string(cd.Data) != string(input) {
		t.Errorf("custom_data = %q (err %v), want name %q and data %s; query: %s", tr.CustomData, err, name, input, res.raw)
	}
}

func TestGoWorkflowSucceed(t *testing.T) {
	wfInit(t)
	gid := dtmcli.MustGenGid(dtmURL)
	req := wfReq{Amount: 30, User: "alice"}
	input := []byte(mustJSON(t, req))
	if err := workflow.Execute(wfTransfer, gid, input); err != nil {
		t.Fatalf("workflow.Execute() = %v, want nil\n--- dtmx log ---\n%s", err, readFile(serverLog))
	}
	res := waitBranches(t, gid, 2, 5*time.Second)
	checkWorkflowTrans(t, res, gid, wfTransfer, "succeed", input)
	if tr := res.Transaction; tr.FinishTime == nil || *tr.FinishTime == "" {
		t.Errorf("finish_time not set on succeeded workflow; query: %s", res.raw)
	}
	ok := `{"dtm_result":"SUCCESS"}` // the business replies, recorded as progress data
	checkBranches(t, res,
		[]string{"01", "02"},
		[]string{"action", "action"},
		[]string{"succeed", "succeed"},
		[]string{"", ""},
		[]string{ok, ok},
	)
	p := string(input)
	expectCalls(t, gid, "workflow", []busiCall{
		{Path: "TransOut", Method: "POST", BranchID: "01", Op: "action", Body: p},
		{Path: "TransIn", Method: "POST", BranchID: "02", Op: "action", Body: p},
	})

	// executing a finished workflow again returns its outcome without calls
	if err := workflow.Execute(wfTransfer, gid, input); err != nil {
		t.Errorf("second workflow.Execute() of a succeeded workflow = %v, want nil", err)
	}
	if n := len(busi.callsFor(gid)); n != 2 {
		t.Errorf("second Execute made business calls: %d calls in total, want 2", n)
	}
}

func TestGoWorkflowRollback(t *testing.T) {
	wfInit(t)
	gid := dtmcli.MustGenGid(dtmURL)
	req := wfReq{Amount: 30, User: "bob", TransInResult: "FAILURE"}
	input := []byte(mustJSON(t, req))
	err := workflow.Execute(wfTransfer, gid, input)
	if !errors.Is(err, dtmcli.ErrFailure) {
		t.Fatalf("workflow.Execute() = %v, want ErrFailure", err)
	}
	res := waitBranches(t, gid, 3, 5*time.Second)
	checkWorkflowTrans(t, res, gid, wfTransfer, "failed", input)
	tr := res.Transaction
	if !strings.Contains(tr.RollbackReason, "FAILURE") {
		t.Errorf("rollback_reason = %q, want the TransIn failure; query: %s", tr.RollbackReason, res.raw)
	}
	if tr.RollbackTime == nil || *tr.RollbackTime == "" {
		t.Errorf("rollback_time not set on failed workflow; query: %s", res.raw)
	}
	bs := res.Branches
	expectStrings(t, "branch ids", branchField(bs, func(b queryBranch) string { return b.BranchID }), []string{"01", "02", "01"}, res.raw)
	expectStrings(t, "branch ops", branchField(bs, func(b queryBranch) string { return b.Op }), []string{"action", "action", "rollback"}, res.raw)
	expectStrings(t, "branch statuses", branchField(bs, func(b queryBranch) string { return b.Status }), []string{"succeed", "failed", "succeed"}, res.raw)
	// only the branch that succeeded is compensated (CompensateErrorBranch off)
	p := string(input)
	expectCalls(t, gid, "workflow", []busiCall{
		{Path: "TransOut", Method: "POST", BranchID: "01", Op: "action", Body: p},
		{Path: "TransIn", Method: "POST", BranchID: "02", Op: "action", Body: p},
		{Path: "TransOutRevert", Method: "POST", BranchID: "01", Op: "rollback", Body: p},
	})

	// the stored failure is what a second Execute reports
	err = workflow.Execute(wfTransfer, gid, input)
	if !errors.Is(err, dtmcli.ErrFailure) {
		t.Errorf("second workflow.Execute() of a failed workflow = %v, want ErrFailure", err)
	}
}

// TransIn answers 500 on the first call: Execute returns that error without
// submitting; dtmx's cron then calls the resume callback, which replays
// branch 01 from its recorded progress and retries branch 02.
func TestGoWorkflowResume(t *testing.T) {
	wfInit(t)
	gid := dtmcli.MustGenGid(dtmURL)
	flakyMu.Lock()
	flakyFails[gid] = 1
	flakyMu.Unlock()
	req := wfReq{Amount: 12, User: "carol"}
	input := []byte(mustJSON(t, req))
	err := workflow.Execute(wfFlaky, gid, input)
	if err == nil || errors.Is(err, dtmcli.ErrFailure) {
		t.Fatalf("workflow.Execute() = %v, want a plain (retryable) error", err)
	}
	if st := query(t, gid).Transaction.Status; st != "prepared" {
		t.Errorf("after the interrupted Execute: status %q, want prepared", st)
	}
	res := waitStatus(t, gid, "succeed", 20*time.Second)
	res = waitBranches(t, gid, 2, 5*time.Second)
	checkWorkflowTrans(t, res, gid, wfFlaky, "succeed", input)
	bs := res.Branches
	expectStrings(t, "branch ids/ops/statuses",
		branchField(bs, func(b queryBranch) string { return b.BranchID + "/" + b.Op + "/" + b.Status }),
		[]string{"01/action/succeed", "02/action/succeed"}, res.raw)

	calls := busi.callsFor(gid)
	var got []string
	for _, c := range calls {
		got = append(got, fmt.Sprintf("%s %s %s/%s", c.Method, c.Path, c.BranchID, c.Op))
	}
	want := []string{
		"POST TransOut 01/action",
		"POST TransInFlaky 02/action",
		"POST WorkflowResume 00/" + wfFlaky,
		"POST TransInFlaky 02/action",
	}
	// the cron may call the resume route more than once before it is done;
	// only the first resume may do business calls
	if len(got) < len(want) || !eqStrings(got[:len(want)], want) {
		t.Fatalf("business calls = %q, want to start with %q", got, want)
	}
	for _, extra := range got[len(want):] {
		if !strings.Contains(extra, "WorkflowResume") {
			t.Errorf("unexpected business call after the resume: %s (all: %q)", extra, got)
		}
	}
	if c := calls[2]; c.Body != string(input) || c.TransType != "workflow" {
		t.Errorf("resume call body/trans_type = %q/%q, want %s/workflow", c.Body, c.TransType, input)
	}
}
