// XA through the Go SDK against real databases: dtmcli.XaGlobalTransaction
// as the AP, dtmcli.XaLocalTransaction in the business service handlers,
// once on MariaDB/MySQL (XA START/END/PREPARE/COMMIT) and once on
// PostgreSQL (BEGIN / PREPARE TRANSACTION / COMMIT PREPARED).
//
// The databases come from scripts/services (run.sh starts them). Settings,
// with their defaults:
//
//	INTEROP_MYSQL_HOST=127.0.0.1 INTEROP_MYSQL_PORT=3306
//	INTEROP_MYSQL_USER=root      INTEROP_MYSQL_PASSWORD=
//	INTEROP_PG_HOST=127.0.0.1    INTEROP_PG_PORT=5432
//	INTEROP_PG_USER=postgres     INTEROP_PG_PASSWORD=mysecretpassword
//	INTEROP_DB=dtmx_interop      (database created by the tests)
//
// INTEROP_NO_DB=1 skips these tests (no database available); otherwise an
// unreachable database is a test failure.
package interop

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dtm-labs/client/dtmcli"
	"github.com/dtm-labs/client/dtmcli/dtmimp"
	"github.com/go-resty/resty/v2"
	_ "github.com/go-sql-driver/mysql"
	_ "github.com/lib/pq"
)

func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return def
}

func envPort(t *testing.T, key string, def int64) int64 {
	v := envOr(key, "")
	if v == "" {
		return def
	}
	p, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: %v", key, v, err)
	}
	return p
}

// xaDB is one database engine under test.
type xaDB struct {
	name  string // "mysql" / "postgres": also the route suffix
	conf  dtmcli.DBConf
	admin *sql.DB // plain connection to the test database (autocommit)
	err   error   // setup error
}

var (
	xaOnce sync.Once
	xaDBs  = map[string]*xaDB{}
)

// xaSetup connects to both databases once and creates the test database,
// DTM's barrier table and the business tables.
func xaSetup(t *testing.T) {
	xaOnce.Do(func() {
		dbName := envOr("INTEROP_DB", "dtmx_interop")
		my := &xaDB{name: "mysql", conf: dtmcli.DBConf{
			Driver:   dtmcli.DBTypeMysql,
			Host:     envOr("INTEROP_MYSQL_HOST", "127.0.0.1"),
			Port:     envPort(t, "INTEROP_MYSQL_PORT", 3306),
			User:     envOr("INTEROP_MYSQL_USER", "root"),
			Password: envOr("INTEROP_MYSQL_PASSWORD", ""),
			Db:       dbName,
		}}
		my.admin, my.err = setupMysql(my.conf)
		xaDBs["mysql"] = my

		pg := &xaDB{name: "postgres", conf: dtmcli.DBConf{
			Driver:   dtmcli.DBTypePostgres,
			Host:     envOr("INTEROP_PG_HOST", "127.0.0.1"),
			Port:     envPort(t, "INTEROP_PG_PORT", 5432),
			User:     envOr("INTEROP_PG_USER", "postgres"),
			Password: envOr("INTEROP_PG_PASSWORD", "mysecretpassword"),
			Db:       dbName,
			Schema:   "public",
		}}
		pg.admin, pg.err = setupPostgres(pg.conf)
		xaDBs["postgres"] = pg
	})
}

func execAll(db *sql.DB, stmts ...string) error {
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			return fmt.Errorf("%s: %w", strings.Fields(s)[0]+" "+strings.Fields(s)[1], err)
		}
	}
	return nil
}

func setupMysql(c dtmcli.DBConf) (*sql.DB, error) {
	server, err := sql.Open("mysql", fmt.Sprintf("%s:%s@tcp(%s:%d)/?timeout=5s", c.User, c.Password, c.Host, c.Port))
	if err != nil {
		return nil, err
	}
	defer server.Close()
	err = execAll(server,
		"CREATE DATABASE IF NOT EXISTS `"+c.Db+"`",
		"CREATE DATABASE IF NOT EXISTS dtm_barrier",
		// DTM's barrier table (layout of §7.1)
		`CREATE TABLE IF NOT EXISTS dtm_barrier.barrier (
			id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY,
			trans_type varchar(45) DEFAULT '',
			gid varchar(128) DEFAULT '',
			branch_id varchar(128) DEFAULT '',
			op varchar(45) DEFAULT '',
			barrier_id varchar(45) DEFAULT '',
			reason varchar(45) DEFAULT '',
			create_time datetime DEFAULT now(),
			update_time datetime DEFAULT now(),
			KEY create_time (create_time),
			KEY update_time (update_time),
			UNIQUE KEY uniq_barrier (gid, branch_id, op, barrier_id)
		)`,
		"CREATE TABLE IF NOT EXISTS `"+c.Db+"`.xa_balance (account varchar(128) PRIMARY KEY, balance int NOT NULL)",
		"CREATE TABLE IF NOT EXISTS `"+c.Db+"`.xa_ledger (gid varchar(128) NOT NULL, branch_id varchar(128) NOT NULL, account varchar(128) NOT NULL, amount int NOT NULL, PRIMARY KEY (gid, branch_id))",
	)
	if err != nil {
		return nil, fmt.Errorf("mysql %s:%d: %w", c.Host, c.Port, err)
	}
	db, err := sql.Open("mysql", fmt.Sprintf("%s:%s@tcp(%s:%d)/%s?timeout=5s", c.User, c.Password, c.Host, c.Port, c.Db))
	if err != nil {
		return nil, err
	}
	return db, db.Ping()
}

func pgDSN(c dtmcli.DBConf, db string) string {
	return fmt.Sprintf("host=%s port=%d user=%s password='%s' dbname=%s sslmode=disable connect_timeout=5",
		c.Host, c.Port, c.User, strings.ReplaceAll(c.Password, "'", `\'`), db)
}

func setupPostgres(c dtmcli.DBConf) (*sql.DB, error) {
	server, err := sql.Open("postgres", pgDSN(c, "postgres"))
	if err != nil {
		return nil, err
	}
	defer server.Close()
	var n int
	if err := server.QueryRow("SELECT count(*) FROM pg_database WHERE datname = $1", c.Db).Scan(&n); err != nil {
		return nil, fmt.Errorf("postgres %s:%d: %w", c.Host, c.Port, err)
	}
	if n == 0 {
		if _, err := server.Exec(`CREATE DATABASE "` + c.Db + `"`); err != nil && !strings.Contains(err.Error(), "already exists") {
			return nil, fmt.Errorf("postgres: CREATE DATABASE: %w", err)
		}
	}
	var mpt string
	if err := server.QueryRow("SHOW max_prepared_transactions").Scan(&mpt); err != nil {
		return nil, err
	}
	if mpt == "0" {
		return nil, errors.New("postgres: max_prepared_transactions is 0, PREPARE TRANSACTION is disabled (scripts/services sets it to 100)")
	}
	db, err := sql.Open("postgres", pgDSN(c, c.Db))
	if err != nil {
		return nil, err
	}
	err = execAll(db,
		"CREATE SCHEMA IF NOT EXISTS dtm_barrier",
		`CREATE TABLE IF NOT EXISTS dtm_barrier.barrier (
			id bigserial PRIMARY KEY,
			trans_type varchar(45) DEFAULT '',
			gid varchar(128) DEFAULT '',
			branch_id varchar(128) DEFAULT '',
			op varchar(45) DEFAULT '',
			barrier_id varchar(45) DEFAULT '',
			reason varchar(45) DEFAULT '',
			create_time timestamp(0) with time zone DEFAULT NULL,
			update_time timestamp(0) with time zone DEFAULT NULL,
			CONSTRAINT uniq_barrier UNIQUE (gid, branch_id, op, barrier_id)
		)`,
		"CREATE TABLE IF NOT EXISTS public.xa_balance (account varchar(128) PRIMARY KEY, balance int NOT NULL)",
		"CREATE TABLE IF NOT EXISTS public.xa_ledger (gid varchar(128) NOT NULL, branch_id varchar(128) NOT NULL, account varchar(128) NOT NULL, amount int NOT NULL, PRIMARY KEY (gid, branch_id))",
	)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres %s:%d/%s: %w", c.Host, c.Port, c.Db, err)
	}
	return db, nil
}

func xaEngine(t *testing.T, name string) *xaDB {
	t.Helper()
	setup(t)
	if os.Getenv("INTEROP_NO_DB") == "1" {
		t.Skip("INTEROP_NO_DB=1: database tests disabled")
	}
	xaSetup(t)
	d := xaDBs[name]
	if d.err != nil {
		t.Fatalf("%s not usable (start it with scripts/services): %v", name, d.err)
	}
	return d
}

// xaReq is the body of an XA branch: move Amount into Account (negative =
// out of it); Result "FAILURE" makes the branch fail after its SQL ran.
type xaReq struct {
	Account string `json:"account"`
	Amount  int    `json:"amount"`
	Result  string `json:"result,omitempty"`
}

// ph turns ? placeholders into $n for PostgreSQL.
func ph(driver, q string) string {
	if driver != dtmcli.DBTypePostgres {
		return q
	}
	var sb strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			fmt.Fprintf(&sb, "$%d", n)
			continue
		}
		sb.WriteRune(c)
	}
	return sb.String()
}

func init() {
	for _, name := range []string{"mysql", "postgres"} {
		name := name
		// phase 1 (op=action, called by the AP through Xa.CallBranch) and
		// phase 2 (op=commit/rollback, called by dtmx with an empty body)
		busiRoutes["Xa_"+name] = func(w http.ResponseWriter, r *http.Request, body []byte) {
			d := xaDBs[name]
			if d == nil || d.err != nil {
				writeError(w, fmt.Errorf("database %s not set up", name))
				return
			}
			var p xaReq
			if len(body) > 0 {
				if err := json.Unmarshal(body, &p); err != nil {
					writeError(w, err)
					return
				}
			}
			err := dtmcli.XaLocalTransaction(r.URL.Query(), d.conf, func(db *sql.DB, xa *dtmcli.Xa) error {
				drv := d.conf.Driver
				res, err := db.Exec(ph(drv, "UPDATE xa_balance SET balance = balance + ? WHERE account = ?"), p.Amount, p.Account)
				if err != nil {
					return err
				}
				if n, _ := res.RowsAffected(); n != 1 {
					return fmt.Errorf("account %q: %d rows updated", p.Account, n)
				}
				if _, err := db.Exec(ph(drv, "INSERT INTO xa_ledger(gid, branch_id, account, amount) VALUES(?, ?, ?, ?)"),
					xa.Gid, xa.BranchID, p.Account, p.Amount); err != nil {
					return err
				}
				if p.Result == "FAILURE" {
					return fmt.Errorf("business check failed for %s: %w", p.Account, dtmcli.ErrFailure)
				}
				return nil
			})
			writeError(w, err)
		}
	}
}

// seedAccounts creates fresh accounts for one gid (committed outside XA).
func seedAccounts(t *testing.T, d *xaDB, balances map[string]int) {
	t.Helper()
	for acc, bal := range balances {
		if _, err := d.admin.Exec(ph(d.conf.Driver, "INSERT INTO xa_balance(account, balance) VALUES(?, ?)"), acc, bal); err != nil {
			t.Fatalf("%s: seeding %s: %v", d.name, acc, err)
		}
	}
}

func balance(t *testing.T, d *xaDB, account string) int {
	t.Helper()
	var b int
	if err := d.admin.QueryRow(ph(d.conf.Driver, "SELECT balance FROM xa_balance WHERE account = ?"), account).Scan(&b); err != nil {
		t.Fatalf("%s: balance of %s: %v", d.name, account, err)
	}
	return b
}

type ledgerRow struct {
	BranchID, Account string
	Amount            int
}

func ledger(t *testing.T, d *xaDB, gid string) []ledgerRow {
	t.Helper()
	rows, err := d.admin.Query(ph(d.conf.Driver, "SELECT branch_id, account, amount FROM xa_ledger WHERE gid = ? ORDER BY branch_id"), gid)
	if err != nil {
		t.Fatalf("%s: ledger: %v", d.name, err)
	}
	defer rows.Close()
	var out []ledgerRow
	for rows.Next() {
		var r ledgerRow
		if err := rows.Scan(&r.BranchID, &r.Account, &r.Amount); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// pendingXids lists the database's prepared (in-doubt) transactions of gid.
func pendingXids(t *testing.T, d *xaDB, gid string) []string {
	t.Helper()
	var q string
	if d.conf.Driver == dtmcli.DBTypePostgres {
		q = "SELECT gid FROM pg_prepared_xacts"
	} else {
		q = "XA RECOVER"
	}
	rows, err := d.admin.Query(q)
	if err != nil {
		t.Fatalf("%s: %s: %v", d.name, q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]interface{}, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		xid := string(vals[len(vals)-1]) // pg: gid; mysql: data column
		if strings.HasPrefix(xid, gid+"-") {
			out = append(out, xid)
		}
	}
	return out
}

// barrierReasons returns "branch_id/op/reason" for the barrier rows of gid.
func barrierReasons(t *testing.T, d *xaDB, gid string) []string {
	t.Helper()
	rows, err := d.admin.Query(ph(d.conf.Driver, "SELECT branch_id, op, barrier_id, reason FROM dtm_barrier.barrier WHERE gid = ? ORDER BY branch_id, op"), gid)
	if err != nil {
		t.Fatalf("%s: barrier: %v", d.name, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var b, op, bid, reason string
		if err := rows.Scan(&b, &op, &bid, &reason); err != nil {
			t.Fatal(err)
		}
		out = append(out, b+"/"+op+"/"+bid+"/"+reason)
	}
	return out
}

func TestGoXa(t *testing.T) {
	for _, name := range []string{"mysql", "postgres"} {
		name := name
		t.Run(name+"/succeed", func(t *testing.T) { testXaSucceed(t, name) })
		t.Run(name+"/rollback", func(t *testing.T) { testXaRollback(t, name) })
		t.Run(name+"/timeout", func(t *testing.T) { testXaTimeout(t, name) })
	}
}

func testXaSucceed(t *testing.T, name string) {
	d := xaEngine(t, name)
	gid := dtmcli.MustGenGid(dtmURL)
	from, to := gid+"-alice", gid+"-bob"
	seedAccounts(t, d, map[string]int{from: 100, to: 100})
	url := busiURL + "/Xa_" + name
	out := xaReq{Account: from, Amount: -30}
	in := xaReq{Account: to, Amount: 30}
	err := dtmcli.XaGlobalTransaction2(dtmURL, gid, func(xa *dtmcli.Xa) {
		xa.WaitResult = true // submit returns after the XA commits
	}, func(xa *dtmcli.Xa) (*resty.Response, error) {
		resp, err := xa.CallBranch(out, url)
		if err != nil {
			return resp, err
		}
		return xa.CallBranch(in, url)
	})
	if err != nil {
		t.Fatalf("XaGlobalTransaction2() = %v, want nil\n--- dtmx log ---\n%s", err, readFile(serverLog))
	}

	res := query(t, gid)
	tr := res.Transaction
	if tr.TransType != "xa" || tr.Status != "succeed" {
		t.Errorf("transaction type/status = %q/%q, want xa/succeed; query: %s", tr.TransType, tr.Status, res.raw)
	}
	checkBranches(t, res,
		[]string{"01", "01", "02", "02"},
		[]string{"rollback", "commit", "rollback", "commit"},
		[]string{"prepared", "succeed", "prepared", "succeed"},
		[]string{url, url, url, url},
		[]string{"", "", "", ""},
	)
	pOut, pIn := mustJSON(t, out), mustJSON(t, in)
	expectCalls(t, gid, "xa", []busiCall{
		{Path: "Xa_" + name, Method: "POST", BranchID: "01", Op: "action", Body: pOut},
		{Path: "Xa_" + name, Method: "POST", BranchID: "02", Op: "action", Body: pIn},
		{Path: "Xa_" + name, Method: "POST", BranchID: "01", Op: "commit", Body: ""},
		{Path: "Xa_" + name, Method: "POST", BranchID: "02", Op: "commit", Body: ""},
	})

	if b := balance(t, d, from); b != 70 {
		t.Errorf("%s: balance of %s = %d, want 70 (committed)", name, from, b)
	}
	if b := balance(t, d, to); b != 130 {
		t.Errorf("%s: balance of %s = %d, want 130 (committed)", name, to, b)
	}
	wantLedger := []ledgerRow{{"01", from, -30}, {"02", to, 30}}
	if got := ledger(t, d, gid); fmt.Sprint(got) != fmt.Sprint(wantLedger) {
		t.Errorf("%s: ledger rows = %v, want %v", name, got, wantLedger)
	}
	if p := pendingXids(t, d, gid); len(p) != 0 {
		t.Errorf("%s: prepared transactions left behind: %v", name, p)
	}
	expectStrings(t, name+" barrier rows", barrierReasons(t, d, gid),
		[]string{"01/action/01/action", "02/action/01/action"}, res.raw)
}

func testXaRollback(t *testing.T, name string) {
	d := xaEngine(t, name)
	gid := dtmcli.MustGenGid(dtmURL)
	from, to := gid+"-alice", gid+"-bob"
	seedAccounts(t, d, map[string]int{from: 100, to: 100})
	url := busiURL + "/Xa_" + name
	out := xaReq{Account: from, Amount: -30}
	in := xaReq{Account: to, Amount: 30, Result: "FAILURE"}
	err := dtmcli.XaGlobalTransaction(dtmURL, gid, func(xa *dtmcli.Xa) (*resty.Response, error) {
		resp, err := xa.CallBranch(out, url)
		if err != nil {
			return resp, err
		}
		// branch 01 is XA-prepared now, holding its update
		if p := pendingXids(t, d, gid); len(p) != 1 || p[0] != gid+"-01" {
			t.Errorf("%s: prepared transactions after branch 01 = %v, want [%s-01]", name, p, gid)
		}
		return xa.CallBranch(in, url)
	})
	if !errors.Is(err, dtmcli.ErrFailure) {
		t.Fatalf("XaGlobalTransaction() = %v, want an ErrFailure from branch 02", err)
	}

	// abort without wait_result: the XA rollback runs in the background
	res := waitStatus(t, gid, "failed", 15*time.Second)
	// branch 02 failed before registering: only branch 01 has rows
	checkBranches(t, res,
		[]string{"01", "01"},
		[]string{"rollback", "commit"},
		[]string{"succeed", "prepared"},
		[]string{url, url},
		[]string{"", ""},
	)
	pOut, pIn := mustJSON(t, out), mustJSON(t, in)
	expectCalls(t, gid, "xa", []busiCall{
		{Path: "Xa_" + name, Method: "POST", BranchID: "01", Op: "action", Body: pOut},
		{Path: "Xa_" + name, Method: "POST", BranchID: "02", Op: "action", Body: pIn},
		{Path: "Xa_" + name, Method: "POST", BranchID: "01", Op: "rollback", Body: ""},
	})

	if b := balance(t, d, from); b != 100 {
		t.Errorf("%s: balance of %s = %d, want 100 (rolled back)", name, from, b)
	}
	if b := balance(t, d, to); b != 100 {
		t.Errorf("%s: balance of %s = %d, want 100 (rolled back)", name, to, b)
	}
	if got := ledger(t, d, gid); len(got) != 0 {
		t.Errorf("%s: ledger rows = %v, want none committed", name, got)
	}
	if p := pendingXids(t, d, gid); len(p) != 0 {
		t.Errorf("%s: prepared transactions left behind: %v", name, p)
	}
	// the phase-2 rollback fences branch 01's action with reason "rollback";
	// branch 02's own barrier row went away with its local rollback
	expectStrings(t, name+" barrier rows", barrierReasons(t, d, gid),
		[]string{"01/action/01/rollback"}, res.raw)
}

// The AP prepares, runs branch 01 (XA-prepared in the database) and then
// vanishes without submit or abort: dtmx times the global transaction out
// (timeout_to_fail 1 s) and rolls the in-doubt branch back.
func testXaTimeout(t *testing.T, name string) {
	d := xaEngine(t, name)
	gid := dtmcli.MustGenGid(dtmURL)
	from := gid + "-alice"
	seedAccounts(t, d, map[string]int{from: 100})
	url := busiURL + "/Xa_" + name
	out := xaReq{Account: from, Amount: -30}

	xa := &dtmcli.Xa{TransBase: *dtmimp.NewTransBase(gid, "xa", dtmURL, "")}
	xa.TimeoutToFail = 1
	if err := dtmimp.TransCallDtm(&xa.TransBase, "prepare"); err != nil {
		t.Fatalf("prepare: %v", err)
	}
	if _, err := xa.CallBranch(out, url); err != nil {
		t.Fatalf("CallBranch: %v", err)
	}
	if p := pendingXids(t, d, gid); len(p) != 1 {
		t.Fatalf("%s: prepared transactions after branch 01 = %v, want one", name, p)
	}

	res := waitStatus(t, gid, "failed", 15*time.Second)
	if !strings.Contains(res.Transaction.RollbackReason, "Timeout") {
		t.Errorf("rollback_reason = %q, want a timeout reason; query: %s", res.Transaction.RollbackReason, res.raw)
	}
	checkBranches(t, res,
		[]string{"01", "01"},
		[]string{"rollback", "commit"},
		[]string{"succeed", "prepared"},
		[]string{url, url},
		[]string{"", ""},
	)
	expectCalls(t, gid, "xa", []busiCall{
		{Path: "Xa_" + name, Method: "POST", BranchID: "01", Op: "action", Body: mustJSON(t, out)},
		{Path: "Xa_" + name, Method: "POST", BranchID: "01", Op: "rollback", Body: ""},
	})
	if b := balance(t, d, from); b != 100 {
		t.Errorf("%s: balance of %s = %d, want 100 (rolled back)", name, from, b)
	}
	if got := ledger(t, d, gid); len(got) != 0 {
		t.Errorf("%s: ledger rows = %v, want none committed", name, got)
	}
	if p := pendingXids(t, d, gid); len(p) != 0 {
		t.Errorf("%s: prepared transactions left behind: %v", name, p)
	}
}
