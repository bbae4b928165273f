<?php

declare(strict_types=1);

namespace Dtmx;

use FFI\CData;

/**
 * A barrier step machine: a guarded call, an XA action or a msg check-back. It asks for
 * statements (step() is `execute` or `query`, with sql() and params()), is fed their
 * result, and ends (`done`) with a result(). It decides the barrier, not the transaction:
 * for a guarded call or a check-back use Barrier::call() / queryPrepared(), or a Guard
 * (Barrier::guard()); drive one of these for XA phase one (xaActionMachine()) and tests.
 */
final class BarrierCall
{
    public const EXECUTE = 'execute';
    public const QUERY = 'query';
    public const DONE = 'done';
    /** DtmxStepKind codes → steps (checked against dtmx.h by the tests). */
    public const STEP_KINDS = [0 => self::EXECUTE, 1 => self::QUERY, 2 => self::DONE];

    /** @internal */
    public function __construct(private CData $handle)
    {
    }

    public function __destruct()
    {
        Native::ffi()->dtmx_barrier_call_free($this->handle);
    }

    /** What the machine asks for: `execute` (feed the affected rows), `query` (feed the reason) or `done`. */
    public function step(): string
    {
        return self::STEP_KINDS[Native::ffi()->dtmx_barrier_call_step($this->handle)] ?? self::DONE;
    }

    /** The SQL of the current step, in the table's dialect (null when done). */
    public function sql(): ?string
    {
        return Native::ffi()->dtmx_barrier_call_sql($this->handle);
    }

    /** @return list<string> the parameters of the current step */
    public function params(): array
    {
        $ffi = Native::ffi();
        $out = [];
        $n = $ffi->dtmx_barrier_call_param_count($this->handle);
        for ($i = 0; $i < $n; $i++) {
            $out[] = $ffi->dtmx_barrier_call_param($this->handle, $i);
        }
        return $out;
    }

    public function feedAffected(int $rows): void
    {
        Native::call(fn ($e) => Native::ffi()->dtmx_barrier_call_feed_affected($this->handle, max($rows, 0), $e));
    }

    /** Feeds the `reason` read by a query step (null: no row). */
    public function feedReason(?string $reason): void
    {
        Native::call(fn ($e) => Native::ffi()->dtmx_barrier_call_feed_reason($this->handle, $reason, $e));
    }

    /** The result of the finished machine: a decision (`run_business`, `null_compensation`, `duplicate`, `suspended`, `msg_duplicated`) or `SUCCESS` / `FAILURE`. */
    public function result(): ?string
    {
        return Native::ffi()->dtmx_barrier_call_result($this->handle);
    }

    /** Throws the error the finished call's decision carries (DuplicatedError for `msg_duplicated`). */
    public function check(): void
    {
        Native::call(fn ($e) => Native::ffi()->dtmx_barrier_call_check($this->handle, $e));
    }

    /** The barrier id the call uses (null for a check-back). */
    public function barrierId(): ?string
    {
        return Native::take(Native::ffi()->dtmx_barrier_call_barrier_id($this->handle));
    }
}
