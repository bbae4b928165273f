<?php

declare(strict_types=1);

namespace Dtmx;

use FFI;
use FFI\CData;

/**
 * The RM side of XA: one branch call of an XA global transaction (libdtmx's DtmxXaLocal,
 * the core's XaLocal). dtm and the Xa client call the same URL for phase one
 * (`op=action`: run the business SQL in a new XA transaction, register the branch,
 * prepare) and phase two (`op=commit` / `rollback`).
 *
 * XaLocal::xaLocal() does the whole call on a PDO connection (MySQL/MariaDB, or PostgreSQL
 * with `max_prepared_transactions` > 0), dedicated to it and outside any transaction:
 *
 *     XaLocal::xaLocal($pdo, Branch::fromRequest(), fn (\PDO $pdo) => $pdo->exec('update ...'));
 *
 * For another database API make one (new XaLocal($branch, $table)) and loop on step():
 *
 * - `execute`: run sql() with params(), then feedAffected($rows), or on an error
 *   feedSqlError($theDatabasesMessage);
 * - `query_reason`: run it, then feedReason($firstColumnOfFirstRowOrNull) (or feedSqlError);
 * - `run_business`: run the business SQL on the XA connection, then feedBusiness(null),
 *   or feedBusiness($exception) when it threw;
 * - `send`: send request() to dtm, then feedReply($status, $body) (or feedSendError);
 * - `done`: finish() throws the error to answer dtm with (Reply::reply), if any.
 */
final class XaLocal
{
    public const EXECUTE = 'execute';
    public const QUERY_REASON = 'query_reason';
    public const RUN_BUSINESS = 'run_business';
    public const SEND = 'send';
    public const DONE = 'done';
    /** DtmxXaStep codes → steps (checked against dtmx.h by the tests). */
    public const STEPS = [0 => self::EXECUTE, 1 => self::QUERY_REASON, 2 => self::RUN_BUSINESS, 3 => self::SEND, 4 => self::DONE];
    /** DtmxXaPhase codes → phases (checked against dtmx.h by the tests). */
    public const PHASES = [0 => 'action', 1 => 'commit', 2 => 'rollback'];

    private CData $handle;

    /**
     * The call `$branch` describes (dtm's request: Branch::fromRequest()), keeping its
     * barrier rows in `$table` (MySQL or PostgreSQL; InvalidArgumentError for SQLite).
     */
    public function __construct(Branch $branch, BarrierTable $table)
    {
        $query = $branch->toQuery();
        $this->handle = Native::call(fn ($e) => Native::ffi()->dtmx_xa_local_from_query($query, $table->handle, $e));
    }

    public function __destruct()
    {
        Native::ffi()->dtmx_xa_local_free($this->handle);
    }

    /**
     * Runs the XA branch call `$branch` on `$pdo` (in autocommit mode, outside any
     * transaction: a connection for this call only); `$busi($pdo)` runs in phase one only,
     * inside the XA transaction. The registration goes to dtm over PHP's HTTP stream
     * wrapper (`$timeout` seconds), or through `$transport($method, $url, $headers, $body,
     * $timeoutMs)` returning `[$status, $body]` (Client's transport). Throws the error to
     * answer dtm with (Reply::reply): what `$busi` threw, FailureError for a refused
     * or fenced phase one, DatabaseError for SQL errors.
     */
    public static function xaLocal(
        \PDO $pdo,
        Branch $branch,
        callable $busi,
        ?BarrierTable $table = null,
        float $timeout = 10.0,
        ?callable $transport = null,
    ): void {
        $table ??= BarrierTable::forPdo($pdo);
        $xa = new self($branch, $table);
        $failure = null;
        while (($step = $xa->step()) !== self::DONE) {
            switch ($step) {
                case self::EXECUTE:
                case self::QUERY_REASON:
                    try {
                        $value = self::runSql($pdo, $table, $step, (string) $xa->sql(), $xa->params());
                    } catch (\Throwable $t) {
                        $xa->feedSqlError($t->getMessage() !== '' ? $t->getMessage() : get_class($t));
                        break;
                    }
                    $step === self::EXECUTE ? $xa->feedAffected((int) $value) : $xa->feedReason($value === null ? null : (string) $value);
                    break;
                case self::RUN_BUSINESS:
                    try {
                        $busi($pdo);
                    } catch (\Throwable $t) {
                        $failure = $t;
                    }
                    $xa->feedBusiness($failure);
                    break;
                case self::SEND:
                    [$method, $url, $headers, $body, $timeoutMs] = $xa->request();
                    try {
                        [$status, $reply] = $transport !== null
                            ? $transport($method, $url, $headers, $body, $timeoutMs)
                            : self::send($method, $url, $headers, $body, $timeout);
                    } catch (\Throwable $t) {
                        $xa->feedSendError($t->getMessage() !== '' ? $t->getMessage() : get_class($t));
                        break;
                    }
                    $xa->feedReply((int) $status, (string) $reply);
                    break;
            }
        }
        try {
            $xa->finish();
        } catch (DtmxError $e) {
            // The business code's failure is the call's error: throw it as it was thrown.
            if ($failure !== null) {
                DtmxError::addNotes($failure, $e->getNotes());
                throw $failure;
            }
            throw $e;
        }
    }

    /** The phase: `action`, `commit` or `rollback`. */
    public function phase(): string
    {
        return self::PHASES[Native::ffi()->dtmx_xa_local_phase($this->handle)] ?? 'action';
    }

    /** The XA transaction id, `<gid>-<branch_id>`. */
    public function xid(): string
    {
        return Native::ffi()->dtmx_xa_local_xid($this->handle);
    }

    /** What to do now: one of the constants. */
    public function step(): string
    {
        return self::STEPS[Native::ffi()->dtmx_xa_local_step($this->handle)] ?? self::DONE;
    }

    /** The SQL of `execute` and `query_reason`, in the table's dialect (null for other steps). */
    public function sql(): ?string
    {
        return Native::ffi()->dtmx_xa_local_sql($this->handle);
    }

    /** @return list<string> the parameters of sql() */
    public function params(): array
    {
        $ffi = Native::ffi();
        $out = [];
        $n = $ffi->dtmx_xa_local_param_count($this->handle);
        for ($i = 0; $i < $n; $i++) {
            $out[] = $ffi->dtmx_xa_local_param($this->handle, $i);
        }
        return $out;
    }

    /**
     * The request of `send`: `[$method, $url, $headers ([name, value] pairs), $body,
     * $timeoutMs (0: the host's default)]`; null for other steps.
     */
    public function request(): ?array
    {
        $ffi = Native::ffi();
        $r = $ffi->dtmx_xa_local_request($this->handle);
        if ($r === null || FFI::isNull($r)) {
            return null;
        }
        $headers = [];
        $count = $ffi->dtmx_request_header_count($r);
        for ($i = 0; $i < $count; $i++) {
            $headers[] = [$ffi->dtmx_request_header_name($r, $i), $ffi->dtmx_request_header_value($r, $i)];
        }
        $len = $ffi->new('size_t');
        $ptr = $ffi->dtmx_request_body($r, FFI::addr($len));
        $body = $ptr === null ? null : FFI::string($ptr, $len->cdata);
        return [$ffi->dtmx_request_method($r), $ffi->dtmx_request_url($r), $headers, $body,
            (int) $ffi->dtmx_request_timeout_ms($r)];
    }

    /** Feeds the rows affected by the statement of `execute`. */
    public function feedAffected(int $rows): void
    {
        Native::call(fn ($e) => Native::ffi()->dtmx_xa_local_feed_affected($this->handle, max($rows, 0), $e));
    }

    /** Feeds the first column of the first row read by `query_reason` (null: no row). */
    public function feedReason(?string $reason): void
    {
        Native::call(fn ($e) => Native::ffi()->dtmx_xa_local_feed_reason($this->handle, $reason, $e));
    }

    /** Feeds the database's error message for the statement of `execute` or `query_reason`. */
    public function feedSqlError(string $message): void
    {
        Native::call(fn ($e) => Native::ffi()->dtmx_xa_local_feed_sql_error($this->handle, $message, $e));
    }

    /** Feeds the business SQL's result: null for success, else what it threw. */
    public function feedBusiness(?\Throwable $failure): void
    {
        $ffi = Native::ffi();
        if ($failure === null) {
            Native::call(fn ($e) => $ffi->dtmx_xa_local_feed_business($this->handle, null, $e));
            return;
        }
        $error = $ffi->new('DtmxError');
        $ptr = FFI::addr($error);
        try {
            Native::report($ptr, $failure);
            Native::call(fn ($e) => $ffi->dtmx_xa_local_feed_business($this->handle, $ptr, $e));
        } finally {
            $ffi->dtmx_error_free($ptr);
        }
    }

    /** Feeds dtm's reply to `send`. */
    public function feedReply(int $status, string $body): void
    {
        [$buf, $n] = Native::bytes($body);
        Native::call(fn ($e) => Native::ffi()->dtmx_xa_local_feed_reply($this->handle, $status, $buf, $n, $e));
    }

    /** Feeds the failure to send the request of `send`. */
    public function feedSendError(string $message): void
    {
        Native::call(fn ($e) => Native::ffi()->dtmx_xa_local_feed_send_error($this->handle, $message, $e));
    }

    /** Ends the call once `done`: throws the error to answer dtm with, if any. */
    public function finish(): void
    {
        Native::call(fn ($e) => Native::ffi()->dtmx_xa_local_finish($this->handle, $e));
    }

    /**
     * Runs a statement of the call: the XA statements (no parameters) as they are, outside
     * any prepared statement; the barrier rows through the table. The affected rows
     * (`execute`) or the first column read (`query_reason`).
     */
    private static function runSql(\PDO $pdo, BarrierTable $table, string $step, string $sql, array $params): int|string|null
    {
        if ($params === [] && $step === self::EXECUTE) {
            $rows = $pdo->exec($sql);
            if ($rows === false) {
                throw new DatabaseError('xa statement failed: ' . ($pdo->errorInfo()[2] ?? 'unknown error'));
            }
            return $rows;
        }
        $stmt = $table->execute($pdo, $sql, $params);
        return $step === self::EXECUTE ? $stmt->rowCount() : self::firstColumn($stmt);
    }

    /** The first column of the statement's first row, as a string (null: no row or NULL). */
    private static function firstColumn(\PDOStatement $stmt): ?string
    {
        $row = $stmt->fetch(\PDO::FETCH_NUM);
        $stmt->closeCursor();
        return $row === false || $row[0] === null ? null : (string) $row[0];
    }

    /** Sends a request with PHP's HTTP stream wrapper: `[$status, $body]`. */
    private static function send(string $method, string $url, array $headers, ?string $body, float $timeout): array
    {
        $lines = array_map(static fn ($h) => "{$h[0]}: {$h[1]}", $headers);
        $context = stream_context_create(['http' => [
            'method' => $method,
            'header' => implode("\r\n", $lines),
            'content' => $body ?? '',
            'timeout' => $timeout,
            'ignore_errors' => true,
        ]]);
        $reply = @file_get_contents($url, false, $context);
        $status = 0;
        foreach ($http_response_header ?? [] as $line) {
            if (preg_match('#^HTTP/\S+ (\d{3})#', $line, $m) === 1) {
                $status = (int) $m[1];
            }
        }
        if ($reply === false || $status === 0) {
            throw new TransportError('cannot send ' . $method . ' ' . $url . ': ' . (error_get_last()['message'] ?? 'no reply'));
        }
        return [$status, $reply];
    }
}
