<?php

declare(strict_types=1);

namespace Dtmx;

use FFI\CData;

/**
 * A TCC global transaction: the caller's try calls (callBranch), then dtm's confirms
 * (submit) or cancels (abort). run() does the whole: prepare, the body, submit, or
 * abort when the body throws.
 */
final class Tcc
{
    private CData $handle;

    public function __construct(private readonly Client $client, ?string $gid = null, array $options = [], ?CData $handle = null)
    {
        $this->handle = $handle
            ?? Native::call(fn ($e) => Native::ffi()->dtmx_tcc_new($client->handle, $gid, Native::options($options), $e));
    }

    public function __destruct()
    {
        Native::ffi()->dtmx_tcc_free($this->handle);
    }

    public function gid(): string
    {
        return Native::ffi()->dtmx_tcc_gid($this->handle);
    }

    /** The id of the last branch callBranch created (`00` before the first). */
    public function currentBranchId(): string
    {
        return Native::take(Native::ffi()->dtmx_tcc_current_branch_id($this->handle)) ?? '';
    }

    /** Registers the global transaction with dtm. */
    public function prepare(): void
    {
        Native::call(fn ($e) => Native::ffi()->dtmx_tcc_prepare($this->handle, $e));
    }

    /**
     * Registers a branch and calls its try URL with `$payload`; returns the try's reply
     * body. FailureError when the try refused: abort the transaction.
     */
    public function callBranch(mixed $payload, string $try, string $confirm, string $cancel): string
    {
        $body = Native::call(fn ($e) => Native::ffi()->dtmx_tcc_call_branch(
            $this->handle,
            Native::payload($payload),
            $try,
            $confirm,
            $cancel,
            $e,
        ));
        return Native::take($body) ?? '';
    }

    /** Submits: dtm confirms every branch. */
    public function submit(): void
    {
        Native::call(fn ($e) => Native::ffi()->dtmx_tcc_submit($this->handle, $e));
    }

    /** Aborts with `$reason`: dtm cancels every branch. */
    public function abort(?string $reason = null): void
    {
        Native::call(fn ($e) => Native::ffi()->dtmx_tcc_abort($this->handle, $reason, $e));
    }

    /**
     * The whole transaction, as every dtmx binding runs it (libdtmx's `dtmx_tcc_run`):
     * prepares, runs `$body($this)`, then submits; when the body throws, aborts with the
     * exception's message as the rollback reason and rethrows the body's exception as
     * is, whatever happens after: an abort that failed is a note on it
     * (DtmxError::notesOf).
     * Returns what the body returned once the submit succeeded; otherwise throws the
     * prepare's or the submit's error (with `wait_result`: FailureError with status
     * `failed` when it rolled back, UnfinishedError when dtm still retries it).
     */
    public function run(callable $body): mixed
    {
        $ffi = Native::ffi();
        return Native::runBody(
            'tcc',
            fn () => $body($this),
            fn ($fn, $user, $e) => $ffi->dtmx_tcc_run($this->handle, $fn, $user, $e),
        );
    }
}
