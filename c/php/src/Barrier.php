<?php

declare(strict_types=1);

namespace Dtmx;

use FFI\CData;

/**
 * The sub-transaction barrier of one branch call: makes the business code run at most
 * once per branch and op, skips a compensation whose action never ran (null
 * compensation) and a try/action that arrives after its compensation (suspension). Build
 * one per request, from the request's query string.
 */
final class Barrier
{
    /** @internal */
    public ?CData $handle;
    private bool $owned = true;
    private ?string $lastResult = null;

    public function __construct(string $transType, string $gid, string $branchId, string $op)
    {
        $this->handle = Native::call(fn ($e) => Native::ffi()->dtmx_barrier_new($transType, $gid, $branchId, $op, $e));
    }

    /**
     * The barrier of a request from its query string (`gid=..&trans_type=..&branch_id=..&op=..`,
     * as dtm sends it).
     */
    public static function fromQuery(string $query): self
    {
        return self::wrap(Native::call(fn ($e) => Native::ffi()->dtmx_barrier_from_query($query, $e)));
    }

    /** The barrier of a request from its decoded query (`$_GET`, or a list of `[key, value]` pairs). */
    public static function fromQueryPairs(array $pairs): self
    {
        [$keys, $values, $n, $keep] = Native::pairs($pairs);
        return self::wrap(Native::call(fn ($e) => Native::ffi()->dtmx_barrier_from_query_pairs($keys, $values, $n, $e)));
    }

    /** The barrier of a gRPC request from its metadata (`dtm-gid`, ...; pairs or an associative array). */
    public static function fromGrpcMetadata(array $metadata): self
    {
        [$keys, $values, $n, $keep] = Native::pairs($metadata);
        return self::wrap(Native::call(fn ($e) => Native::ffi()->dtmx_barrier_from_grpc_metadata($keys, $values, $n, $e)));
    }

    /**
     * The barrier of the local transaction of msg `$gid` and of its check-back (trans type
     * `msg`, branch `00`, op `msg`): what doAndSubmit lends its callback.
     */
    public static function forMsg(string $gid): self
    {
        return self::wrap(Native::call(fn ($e) => Native::ffi()->dtmx_barrier_for_msg($gid, $e)));
    }

    /** The barrier of a parsed branch request. */
    public static function fromBranch(Branch $branch): self
    {
        return new self($branch->transType, $branch->gid, $branch->branchId, $branch->op);
    }

    private static function wrap(CData $handle): self
    {
        $b = (new \ReflectionClass(self::class))->newInstanceWithoutConstructor();
        $b->handle = $handle;
        return $b;
    }

    /** @internal A barrier borrowed from libdtmx for the duration of a callback. */
    public static function borrow(CData $handle): self
    {
        $b = self::wrap($handle);
        $b->owned = false;
        return $b;
    }

    /** @internal Ends a borrow: the barrier is unusable afterwards. */
    public function release(): void
    {
        if (!$this->owned) {
            $this->handle = null;
        }
    }

    public function __destruct()
    {
        if ($this->owned && $this->handle !== null) {
            Native::ffi()->dtmx_barrier_free($this->handle);
        }
    }

    private function h(): CData
    {
        return $this->handle ?? throw new InvalidArgumentError('the barrier is used outside the callback that received it');
    }

    public function transType(): string
    {
        return Native::ffi()->dtmx_barrier_trans_type($this->h());
    }

    public function gid(): string
    {
        return Native::ffi()->dtmx_barrier_gid($this->h());
    }

    public function branchId(): string
    {
        return Native::ffi()->dtmx_barrier_branch_id($this->h());
    }

    public function op(): string
    {
        return Native::ffi()->dtmx_barrier_op($this->h());
    }

    /** Hands out the next barrier id (`01`, `02`, ...), as a guarded call does. */
    public function nextBarrierId(): string
    {
        return Native::take(Native::ffi()->dtmx_barrier_next_barrier_id($this->h()));
    }

    /**
     * Runs `$busi($pdo)` at most once for this branch, in one database transaction with the
     * barrier rows, as libdtmx's guard decides (the rule of every dtmx package):
     *
     * - `$pdo` inside a transaction (`$pdo->inTransaction()`, e.g. after your
     *   `beginTransaction()`): it is joined; the barrier rows and `$busi` go into it and
     *   committing or rolling back stays with you (roll back when this throws);
     * - `$pdo` with none open: the barrier's own transaction, begun here, committed when
     *   `$busi` returns or is skipped, rolled back when anything throws.
     *
     * Returns what `$busi` returned, or null when the barrier skipped it (a duplicate, a
     * null compensation, a suspended try/action: see lastResult()). Throws what `$busi`
     * threw (with a failed rollback as a note, DtmxError::notesOf), the driver's
     * exception, or DuplicatedError for a msg whose local transaction already ran or was
     * fenced off by the check-back.
     *
     * `$table`: the barrier table (default: the default table of the PDO driver's dialect).
     */
    public function call(\PDO $pdo, callable $busi, ?BarrierTable $table = null): mixed
    {
        $table ??= BarrierTable::forPdo($pdo);
        $guard = $this->guard($table, $pdo->inTransaction());
        try {
            return self::drive($guard, $pdo, $table, $busi);
        } finally {
            $this->lastResult = $guard->decision();
        }
    }

    /**
     * The decision of the last call(): `run_business`, `null_compensation`, `duplicate`,
     * `suspended` or `msg_duplicated` (null before).
     */
    public function lastResult(): ?string
    {
        return $this->lastResult;
    }

    /**
     * The msg check-back on `$pdo` for this barrier's gid (build the barrier from the
     * check-back request's query, or with forMsg): returns when the local transaction
     * committed; throws FailureError when it did not, and now never will (a late one fails
     * as a duplicate). Answer dtm with Reply::reply / Web::handle. The transaction
     * follows the rule of call(): its own (committed either way) unless `$pdo` is inside
     * one.
     */
    public function queryPrepared(\PDO $pdo, ?BarrierTable $table = null): void
    {
        $table ??= BarrierTable::forPdo($pdo);
        self::drive($this->checkBackGuard($table, $pdo->inTransaction()), $pdo, $table, null);
    }

    /**
     * The guard of a guarded call of this barrier (takes the next barrier id), for a
     * database API other than PDO: `$inTransaction` is what its driver says of the
     * connection (see call() for the rule). See Guard.
     */
    public function guard(BarrierTable $table, bool $inTransaction): Guard
    {
        return new Guard(Native::call(fn ($e) => Native::ffi()->dtmx_guard_new($this->h(), $table->handle, $inTransaction, $e)));
    }

    /** The guard of the msg check-back of this barrier's gid, as guard(). */
    public function checkBackGuard(BarrierTable $table, bool $inTransaction): Guard
    {
        return new Guard(Native::call(fn ($e) => Native::ffi()->dtmx_guard_check_back($this->h(), $table->handle, $inTransaction, $e)));
    }

    /** Carries out the actions of `$guard` on `$pdo`; `$busi($pdo)` is the business code. */
    private static function drive(Guard $guard, \PDO $pdo, BarrierTable $table, ?callable $busi): mixed
    {
        $value = null;
        while (true) {
            $action = $guard->action();
            if ($action === Guard::RETURN) {
                return $guard->decision() === 'run_business' ? $value : null;
            }
            if ($action === Guard::RAISE) {
                $guard->raise();
            }
            try {
                switch ($action) {
                    case Guard::BEGIN:
                        self::done($pdo, $pdo->beginTransaction());
                        break;
                    case Guard::EXECUTE:
                        $rows = $table->execute($pdo, $guard->sql(), $guard->params())->rowCount();
                        break;
                    case Guard::QUERY_REASON:
                        $reason = self::firstColumn($table->execute($pdo, $guard->sql(), $guard->params()));
                        break;
                    case Guard::RUN_BUSINESS:
                        $value = $busi === null ? null : $busi($pdo);
                        break;
                    case Guard::COMMIT:
                        self::done($pdo, $pdo->commit());
                        break;
                    case Guard::ROLLBACK:
                        self::done($pdo, $pdo->rollBack());
                        break;
                }
            } catch (\Throwable $t) {
                $guard->fail($t);
                continue;
            }
            match ($action) {
                Guard::EXECUTE => $guard->feedAffected($rows),
                Guard::QUERY_REASON => $guard->feedReason($reason),
                default => $guard->ok(),
            };
        }
    }

    /** Throws PDO's error for a call that returned false (PDO set to report errors silently). */
    private static function done(\PDO $pdo, bool $ok): void
    {
        if (!$ok) {
            throw new DatabaseError('barrier transaction failed: ' . ($pdo->errorInfo()[2] ?? 'unknown error'));
        }
    }

    /** The first column of the statement's first row, as a string (null: no row or NULL). */
    private static function firstColumn(\PDOStatement $stmt): ?string
    {
        $row = $stmt->fetch(\PDO::FETCH_NUM);
        $stmt->closeCursor();
        return $row === false || $row[0] === null ? null : (string) $row[0];
    }

    /**
     * What a check-back handler answers for `$result` (`SUCCESS` or `FAILURE`, the result
     * of a check-back machine or Redis script): returns when the local transaction
     * committed, else throws libdtmx's FailureError.
     */
    public function checkBack(string $result): void
    {
        Native::call(fn ($e) => Native::ffi()->dtmx_barrier_check_back($this->h(), $result, $e));
    }

    /** How long Redis barrier keys live by default (libdtmx's: 7 days, as DTM). */
    public static function redisDefaultExpire(): int
    {
        return Native::ffi()->dtmx_barrier_redis_default_expire();
    }

    /** The step machine of a guarded call (takes the next barrier id); see BarrierCall. */
    public function callMachine(BarrierTable $table): BarrierCall
    {
        return new BarrierCall(Native::call(fn ($e) => Native::ffi()->dtmx_barrier_call_machine($this->h(), $table->handle, $e)));
    }

    /** The step machine of the msg check-back of this barrier's gid. */
    public function queryPreparedMachine(BarrierTable $table): BarrierCall
    {
        return new BarrierCall(Native::call(fn ($e) => Native::ffi()->dtmx_barrier_query_prepared_machine($this->h(), $table->handle, $e)));
    }

    /** The step machine of an XA action's phase one (barrier id 01). */
    public function xaActionMachine(BarrierTable $table): BarrierCall
    {
        return new BarrierCall(Native::call(fn ($e) => Native::ffi()->dtmx_barrier_xa_action_machine($this->h(), $table->handle, $e)));
    }

    /**
     * The statement to run after an XA rollback, fencing off a late phase one.
     *
     * @return array{0: string, 1: list<string>} the SQL (in the dialect's style) and its parameters
     */
    public function xaRollbackFence(BarrierTable $table): array
    {
        $ffi = Native::ffi();
        $st = Native::call(fn ($e) => $ffi->dtmx_barrier_xa_rollback_fence($this->h(), $table->handle, $e));
        try {
            $params = [];
            $n = $ffi->dtmx_statement_param_count($st);
            for ($i = 0; $i < $n; $i++) {
                $params[] = $ffi->dtmx_statement_param($st, $i);
            }
            return [$ffi->dtmx_statement_sql($st), $params];
        } finally {
            $ffi->dtmx_statement_free($st);
        }
    }

    /**
     * The Redis script that adds `$amount` to the integer at `$key` at most once for this
     * branch (takes the next barrier id; keys expire after `$expire` seconds, null:
     * redisDefaultExpire()). Run it with RedisCall::run or any client.
     */
    public function redisCheckAdjustAmountCall(string $key, int $amount, ?int $expire = null): RedisCall
    {
        $expire ??= self::redisDefaultExpire();
        return new RedisCall(Native::call(fn ($e) => Native::ffi()->dtmx_barrier_redis_check_adjust_amount_call($this->h(), $key, $amount, $expire, $e)));
    }

    /** The Redis msg check-back script of this barrier's gid. */
    public function redisQueryPreparedCall(?int $expire = null): RedisCall
    {
        $expire ??= self::redisDefaultExpire();
        return new RedisCall(Native::call(fn ($e) => Native::ffi()->dtmx_barrier_redis_query_prepared_call($this->h(), $expire, $e)));
    }

    /**
     * Adds `$amount` to the integer at `$key` at most once for this branch.
     * `$eval(string $script, array $keys, array $args)` runs the script with your Redis
     * client and returns its reply (phpredis: `fn ($s, $k, $a) => $redis->eval($s,
     * [...$k, ...$a], count($k))`). Returns `applied`, `null_compensation`, `duplicate`
     * or `suspended`; FailureError when the key is missing or the amount would go below 0.
     */
    public function redisCheckAdjustAmount(callable $eval, string $key, int $amount, ?int $expire = null): string
    {
        return $this->redisCheckAdjustAmountCall($key, $amount, $expire)->run($eval);
    }

    /** The Redis msg check-back: returns when committed, FailureError when not (checkBack). */
    public function redisQueryPrepared(callable $eval, ?int $expire = null): void
    {
        $this->checkBack($this->redisQueryPreparedCall($expire)->run($eval));
    }
}
