// TCC through the Go SDK: dtmcli.TccGlobalTransaction with CallBranch, a
// rollback after a failing try, and a nested TCC built by a try handler.
package interop

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dtm-labs/client/dtmcli"
	"github.com/dtm-labs/client/dtmcli/dtmimp"
	"github.com/go-resty/resty/v2"
)

// tccReq is the try body of the TCC tests; TryResult tells the try handler
// what to answer ("" = SUCCESS).
type tccReq struct {
	Amount    int    `json:"amount"`
	Account   string `json:"account"`
	TryResult string `json:"tryResult,omitempty"`
}

// nestedReq is the try body of TransNestedTry: the handler starts a nested
// TCC with one sub-branch carrying Sub.
type nestedReq struct {
	Note string `json:"note"`
	Sub  tccReq `json:"sub"`
}

func init() {
	try := func(w http.ResponseWriter, r *http.Request, body []byte) {
		var p tccReq
		_ = json.Unmarshal(body, &p)
		if p.TryResult == "" {
			p.TryResult = "SUCCESS"
		}
		writeResult(w, p.TryResult)
	}
	ok := func(w http.ResponseWriter, r *http.Request, body []byte) { writeResult(w, "SUCCESS") }
	for _, n := range []string{"TransOut", "TransIn", "TransNested"} {
		busiRoutes[n+"Confirm"] = ok
		busiRoutes[n+"Cancel"] = ok
	}
	busiRoutes["TransOutTry"] = try
	busiRoutes["TransInTry"] = try
	// a try that is itself a TCC initiator for a sub-branch
	busiRoutes["TransNestedTry"] = func(w http.ResponseWriter, r *http.Request, body []byte) {
		var p nestedReq
		if err := json.Unmarshal(body, &p); err != nil {
			writeError(w, err)
			return
		}
		tcc, err := dtmcli.TccFromQuery(r.URL.Query())
		if err != nil {
			writeError(w, err)
			return
		}
		_, err = tcc.CallBranch(p.Sub, busiURL+"/TransInTry", busiURL+"/TransInConfirm", busiURL+"/TransInCancel")
		writeError(w, err)
	}
}

func TestGoTccSucceed(t *testing.T) {
	setup(t)
	gid := dtmcli.MustGenGid(dtmURL)
	out := tccReq{Amount: 30, Account: "alice"}
	in := tccReq{Amount: 30, Account: "bob"}
	err := dtmcli.TccGlobalTransaction2(dtmURL, gid, func(tcc *dtmcli.Tcc) {
		tcc.WaitResult = true // submit returns once the confirms ran
	}, func(tcc *dtmcli.Tcc) (*resty.Response, error) {
		resp, err := tcc.CallBranch(out, busiURL+"/TransOutTry", busiURL+"/TransOutConfirm", busiURL+"/TransOutCancel")
		if err != nil {
			return resp, err
		}
		return tcc.CallBranch(in, busiURL+"/TransInTry", busiURL+"/TransInConfirm", busiURL+"/TransInCancel")
	})
	if err != nil {
		t.Fatalf("TccGlobalTransaction2() = %v, want nil\n--- dtmx log ---\n%s", err, readFile(serverLog))
	}
	pOut, pIn := mustJSON(t, out), mustJSON(t, in)

	res := query(t, gid)
	tr := res.Transaction
	if tr.TransType != "tcc" || tr.Status != "succeed" {
		t.Errorf("transaction type/status = %q/%q, want tcc/succeed; query: %s", tr.TransType, tr.Status, res.raw)
	}
	if tr.FinishTime == nil || *tr.FinishTime == "" {
		t.Errorf("finish_time not set on succeeded tcc; query: %s", res.raw)
	}
	checkBranches(t, res,
		[]string{"01", "01", "02", "02"},
		[]string{"cancel", "confirm", "cancel", "confirm"},
		[]string{"prepared", "succeed", "prepared", "succeed"},
		[]string{busiURL + "/TransOutCancel", busiURL + "/TransOutConfirm", busiURL + "/TransInCancel", busiURL + "/TransInConfirm"},
		[]string{pOut, pOut, pIn, pIn},
	)
	// tries are made by the SDK in order; confirms by the server, last
	// registered first
	expectCalls(t, gid, "tcc", []busiCall{
		{Path: "TransOutTry", Method: "POST", BranchID: "01", Op: "try", Body: pOut},
		{Path: "TransInTry", Method: "POST", BranchID: "02", Op: "try", Body: pIn},
		{Path: "TransInConfirm", Method: "POST", BranchID: "02", Op: "confirm", Body: pIn},
		{Path: "TransOutConfirm", Method: "POST", BranchID: "01", Op: "confirm", Body: pOut},
	})
}

func TestGoTccRollback(t *testing.T) {
	setup(t)
	gid := dtmcli.MustGenGid(dtmURL)
	out := tccReq{Amount: 40, Account: "carol"}
	in := tccReq{Amount: 40, Account: "dave", TryResult: "FAILURE"}
	err := dtmcli.TccGlobalTransaction(dtmURL, gid, func(tcc *dtmcli.Tcc) (*resty.Response, error) {
		resp, err := tcc.CallBranch(out, busiURL+"/TransOutTry", busiURL+"/TransOutConfirm", busiURL+"/TransOutCancel")
		if err != nil {
			return resp, err
		}
		return tcc.CallBranch(in, busiURL+"/TransInTry", busiURL+"/TransInConfirm", busiURL+"/TransInCancel")
	})
	if !errors.Is(err, dtmcli.ErrFailure) {
		t.Fatalf("TccGlobalTransaction() = %v, want an ErrFailure from the second try", err)
	}
	pOut, pIn := mustJSON(t, out), mustJSON(t, in)

	// abort without wait_result: the cancels run in the background
	res := waitStatus(t, gid, "failed", 15*time.Second)
	tr := res.Transaction
	if !strings.Contains(tr.RollbackReason, "FAILURE") {
		t.Errorf("rollback_reason = %q, want the try error (containing FAILURE); query: %s", tr.RollbackReason, res.raw)
	}
	if tr.RollbackTime == nil || *tr.RollbackTime == "" {
		t.Errorf("rollback_time not set on failed tcc; query: %s", res.raw)
	}
	checkBranches(t, res,
		[]string{"01", "01", "02", "02"},
		[]string{"cancel", "confirm", "cancel", "confirm"},
		[]string{"succeed", "prepared", "succeed", "prepared"},
		[]string{busiURL + "/TransOutCancel", busiURL + "/TransOutConfirm", busiURL + "/TransInCancel", busiURL + "/TransInConfirm"},
		[]string{pOut, pOut, pIn, pIn},
	)
	expectCalls(t, gid, "tcc", []busiCall{
		{Path: "TransOutTry", Method: "POST", BranchID: "01", Op: "try", Body: pOut},
		{Path: "TransInTry", Method: "POST", BranchID: "02", Op: "try", Body: pIn},
		{Path: "TransInCancel", Method: "POST", BranchID: "02", Op: "cancel", Body: pIn},
		{Path: "TransOutCancel", Method: "POST", BranchID: "01", Op: "cancel", Body: pOut},
	})
}

// The try of branch 01 opens a nested TCC from its query (dtm, gid,
// branch_id) and registers/calls sub-branch 0101; then branch 02 follows.
func TestGoTccNested(t *testing.T) {
	setup(t)
	gid := dtmcli.MustGenGid(dtmURL)
	nested := nestedReq{Note: "outer", Sub: tccReq{Amount: 5, Account: "inner"}}
	out := tccReq{Amount: 5, Account: "erin"}
	err := dtmcli.TccGlobalTransaction(dtmURL, gid, func(tcc *dtmcli.Tcc) (*resty.Response, error) {
		resp, err := tcc.CallBranch(nested, busiURL+"/TransNestedTry", busiURL+"/TransNestedConfirm", busiURL+"/TransNestedCancel")
		if err != nil {
			return resp, err
		}
		return tcc.CallBranch(out, busiURL+"/TransOutTry", busiURL+"/TransOutConfirm", busiURL+"/TransOutCancel")
	})
	if err != nil {
		t.Fatalf("TccGlobalTransaction() = %v, want nil\n--- dtmx log ---\n%s", err, readFile(serverLog))
	}
	pNested, pSub, pOut := mustJSON(t, nested), mustJSON(t, nested.Sub), mustJSON(t, out)

	res := waitStatus(t, gid, "succeed", 15*time.Second)
	checkBranches(t, res,
		[]string{"01", "01", "0101", "0101", "02", "02"},
		[]string{"cancel", "confirm", "cancel", "confirm", "cancel", "confirm"},
		[]string{"prepared", "succeed", "prepared", "succeed", "prepared", "succeed"},
		[]string{
			busiURL + "/TransNestedCancel", busiURL + "/TransNestedConfirm",
			busiURL + "/TransInCancel", busiURL + "/TransInConfirm",
			busiURL + "/TransOutCancel", busiURL + "/TransOutConfirm",
		},
		[]string{pNested, pNested, pSub, pSub, pOut, pOut},
	)
	expectCalls(t, gid, "tcc", []busiCall{
		{Path: "TransNestedTry", Method: "POST", BranchID: "01", Op: "try", Body: pNested},
		{Path: "TransInTry", Method: "POST", BranchID: "0101", Op: "try", Body: pSub},
		{Path: "TransOutTry", Method: "POST", BranchID: "02", Op: "try", Body: pOut},
		{Path: "TransOutConfirm", Method: "POST", BranchID: "02", Op: "confirm", Body: pOut},
		{Path: "TransInConfirm", Method: "POST", BranchID: "0101", Op: "confirm", Body: pSub},
		{Path: "TransNestedConfirm", Method: "POST", BranchID: "01", Op: "confirm", Body: pNested},
	})
}

// The AP registers and tries one branch, then vanishes without submit or
// abort: dtmx times the prepared TCC out (timeout_to_fail 1 s) and cancels.
func TestGoTccTimeout(t *testing.T) {
	setup(t)
	gid := dtmcli.MustGenGid(dtmURL)
	out := tccReq{Amount: 15, Account: "frank"}
	tcc := &dtmcli.Tcc{TransBase: *dtmimp.NewTransBase(gid, "tcc", dtmURL, "")}
	tcc.TimeoutToFail = 1
	if err := dtmimp.TransCallDtm(&tcc.TransBase, "prepare"); err != nil {
		t.Fatalf("prepare: %v", err)
	}
	if _, err := tcc.CallBranch(out, busiURL+"/TransOutTry", busiURL+"/TransOutConfirm", busiURL+"/TransOutCancel"); err != nil {
		t.Fatalf("CallBranch: %v", err)
	}
	res := waitStatus(t, gid, "failed", 15*time.Second)
	if !strings.Contains(res.Transaction.RollbackReason, "Timeout") {
		t.Errorf("rollback_reason = %q, want a timeout reason; query: %s", res.Transaction.RollbackReason, res.raw)
	}
	pOut := mustJSON(t, out)
	checkBranches(t, res,
		[]string{"01", "01"},
		[]string{"cancel", "confirm"},
		[]string{"succeed", "prepared"},
		[]string{busiURL + "/TransOutCancel", busiURL + "/TransOutConfirm"},
		[]string{pOut, pOut},
	)
	expectCalls(t, gid, "tcc", []busiCall{
		{Path: "TransOutTry", Method: "POST", BranchID: "01", Op: "try", Body: pOut},
		{Path: "TransOutCancel", Method: "POST", BranchID: "01", Op: "cancel", Body: pOut},
	})
}
