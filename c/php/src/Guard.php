<?php

declare(strict_types=1);

namespace Dtmx;

use FFI\CData;

/**
 * One guarded barrier call or one msg check-back as the actions to carry out on a
 * database connection (libdtmx's DtmxGuard, the core's Guard): libdtmx decides each
 * action and who owns the transaction; the host does it and reports back. Barrier::call()
 * and Barrier::queryPrepared() drive one on PDO. For another database API get one from
 * Barrier::guard() or Barrier::checkBackGuard() and loop on action():
 *
 * - `begin`, `commit`, `rollback`: do it on the connection, then ok();
 * - `execute`: run sql() with params(), then feedAffected($rows);
 * - `query_reason`: run it, then feedReason($firstColumnOfFirstRowOrNull);
 * - `run_business`: run the business code on the connection (keep its value), then ok();
 * - `return`: done: the business code's value when decision() is `run_business`, else null;
 * - `raise`: done: raise().
 *
 * When an action throws, pass the exception to fail() and go on with the next action.
 */
final class Guard
{
    public const BEGIN = 'begin';
    public const EXECUTE = 'execute';
    public const QUERY_REASON = 'query_reason';
    public const RUN_BUSINESS = 'run_business';
    public const COMMIT = 'commit';
    public const ROLLBACK = 'rollback';
    public const RETURN = 'return';
    public const RAISE = 'raise';
    /** DtmxGuardAction codes → actions (checked against dtmx.h by the tests). */
    public const ACTIONS = [
        0 => self::BEGIN, 1 => self::EXECUTE, 2 => self::QUERY_REASON, 3 => self::RUN_BUSINESS,
        4 => self::COMMIT, 5 => self::ROLLBACK, 6 => self::RETURN, 7 => self::RAISE,
    ];
    /** DtmxDecision codes → decisions (checked against dtmx.h by the tests). */
    public const DECISIONS = [
        0 => null, 1 => 'run_business', 2 => 'null_compensation', 3 => 'duplicate',
        4 => 'suspended', 5 => 'msg_duplicated',
    ];

    /** The first exception fail() was given: raise() throws it again when it is the error. */
    private ?\Throwable $failure = null;

    /** @internal Made by Barrier::guard() and Barrier::checkBackGuard(). */
    public function __construct(private CData $handle)
    {
    }

    public function __destruct()
    {
        Native::ffi()->dtmx_guard_free($this->handle);
    }

    /** Who owns the transaction: `own` (the guard begins and ends it) or `join` (the caller's). */
    public function ownership(): string
    {
        return Native::ffi()->dtmx_guard_ownership($this->handle);
    }

    /** What to do now: one of the constants. */
    public function action(): string
    {
        return self::ACTIONS[Native::ffi()->dtmx_guard_action($this->handle)] ?? self::RAISE;
    }

    /** The SQL of `execute` and `query_reason`, in the table's dialect (null for other actions). */
    public function sql(): ?string
    {
        return Native::ffi()->dtmx_guard_sql($this->handle);
    }

    /** @return list<string> the parameters of sql() */
    public function params(): array
    {
        $ffi = Native::ffi();
        $out = [];
        $n = $ffi->dtmx_guard_param_count($this->handle);
        for ($i = 0; $i < $n; $i++) {
            $out[] = $ffi->dtmx_guard_param($this->handle, $i);
        }
        return $out;
    }

    /** The action (`begin`, `run_business`, `commit`, `rollback`) succeeded. */
    public function ok(): void
    {
        Native::call(fn ($e) => Native::ffi()->dtmx_guard_ok($this->handle, $e));
    }

    /** Feeds the rows affected by the statement of `execute`. */
    public function feedAffected(int $rows): void
    {
        Native::call(fn ($e) => Native::ffi()->dtmx_guard_feed_affected($this->handle, max($rows, 0), $e));
    }

    /** Feeds the first column of the first row read by `query_reason` (null: no row). */
    public function feedReason(?string $reason): void
    {
        Native::call(fn ($e) => Native::ffi()->dtmx_guard_feed_reason($this->handle, $reason, $e));
    }

    /**
     * The action threw `$t` (the driver's exception, or the business code's): libdtmx
     * gets its code and message, and the first one is kept to be thrown again.
     */
    public function fail(\Throwable $t): void
    {
        $this->failure ??= $t;
        $ffi = Native::ffi();
        $failure = $ffi->new('DtmxError');
        $ptr = \FFI::addr($failure);
        try {
            Native::report($ptr, $t);
            $ffi->dtmx_guard_fail($this->handle, $ptr);
        } finally {
            $ffi->dtmx_error_free($ptr);
        }
    }

    /**
     * The barrier's decision once reached: `run_business`, `null_compensation`,
     * `duplicate`, `suspended` or `msg_duplicated` (null before, and for a check-back).
     */
    public function decision(): ?string
    {
        return self::DECISIONS[Native::ffi()->dtmx_guard_decision($this->handle)] ?? null;
    }

    /**
     * Throws what `raise` raises: the first exception given to fail() when it is the
     * error (with libdtmx's notes, DtmxError::notesOf), else libdtmx's error
     * (DuplicatedError of a msg that already ran, the check-back's FailureError).
     */
    public function raise(): never
    {
        $ffi = Native::ffi();
        $e = Native::made(fn ($err) => $ffi->dtmx_guard_error($this->handle, $err));
        if ($this->failure !== null && $ffi->dtmx_guard_raises_failure($this->handle)) {
            DtmxError::addNotes($this->failure, $e->getNotes());
            throw $this->failure;
        }
        throw $e;
    }
}
