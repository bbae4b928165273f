// DTM's own Go SDK (github.com/dtm-labs/client v1.18.7) as the client of a business
// service written in Python with dtmx's helpers (python/tests/busi.py). The pytest test
// python/tests/test_go_interop.py starts the dtmx server and the service, then runs this
// with DTM_URL and BUSI_URL set; it checks the service's side afterwards.
package pythoninterop

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/dtm-labs/client/dtmcli"
	"github.com/dtm-labs/client/dtmcli/logger"
	"github.com/go-resty/resty/v2"
)

func urls(t *testing.T) (string, string) {
	dtm, busi := os.Getenv("DTM_URL"), os.Getenv("BUSI_URL")
	if dtm == "" || busi == "" {
		t.Skip("DTM_URL and BUSI_URL are set by python/tests/test_go_interop.py")
	}
	logger.InitLog("warn")
	return dtm, busi
}

// TestSaga: a saga that commits and one whose TransIn refuses (409 from dtmx.FailureError).
func TestSaga(t *testing.T) {
	dtm, busi := urls(t)
	ok := dtmcli.NewSaga(dtm, "go-py-saga-ok").
		Add(busi+"/TransOut", busi+"/TransOutRevert", map[string]int{"amount": 30}).
		Add(busi+"/TransIn", busi+"/TransInRevert", map[string]int{"amount": 30})
	ok.WaitResult = true
	if err := ok.Submit(); err != nil {
		t.Fatalf("saga: %v", err)
	}
	bad := dtmcli.NewSaga(dtm, "go-py-saga-fail").
		Add(busi+"/TransOut", busi+"/TransOutRevert", map[string]any{"amount": 30}).
		Add(busi+"/TransIn", busi+"/TransInRevert", map[string]any{"amount": 30, "fail": "TransIn"})
	bad.WaitResult = true
	err := bad.Submit()
	if err == nil || !errors.Is(err, dtmcli.ErrFailure) && !strings.Contains(err.Error(), "FAILURE") {
		t.Fatalf("failing saga: want FAILURE, got %v", err)
	}
}

// TestTcc: a TCC whose tries the Python service answers; the second refuses.
func TestTcc(t *testing.T) {
	dtm, busi := urls(t)
	body := map[string]int{"amount": 30}
	err := dtmcli.TccGlobalTransaction(dtm, "go-py-tcc-ok", func(tcc *dtmcli.Tcc) (*resty.Response, error) {
		if _, err := tcc.CallBranch(body, busi+"/TransOutTry", busi+"/TransOutConfirm", busi+"/TransOutCancel"); err != nil {
			return nil, err
		}
		return tcc.CallBranch(body, busi+"/TransInTry", busi+"/TransInConfirm", busi+"/TransInCancel")
	})
	if err != nil {
		t.Fatalf("tcc: %v", err)
	}
	err = dtmcli.TccGlobalTransaction(dtm, "go-py-tcc-fail", func(tcc *dtmcli.Tcc) (*resty.Response, error) {
		return tcc.CallBranch(map[string]any{"amount": 30, "fail": "TransInTry"},
			busi+"/TransInTry", busi+"/TransInConfirm", busi+"/TransInCancel")
	})
	if err == nil {
		t.Fatal("tcc with a refused try: want an error")
	}
}
