<?php

declare(strict_types=1);

namespace Dtmx;

use FFI\CData;

/**
 * An XA global transaction, client side: the caller's branch calls (each branch runs
 * phase one in its database), then dtm's commits (submit) or rollbacks (abort).
 */
final class Xa
{
    private CData $handle;

    public function __construct(private readonly Client $client, ?string $gid = null, array $options = [])
    {
        $this->handle = Native::call(fn ($e) => Native::ffi()->dtmx_xa_new($client->handle, $gid, Native::options($options), $e));
    }

    public function __destruct()
    {
        Native::ffi()->dtmx_xa_free($this->handle);
    }

    public function gid(): string
    {
        return Native::ffi()->dtmx_xa_gid($this->handle);
    }

    /** The id of the last branch callBranch created (`00` before the first). */
    public function currentBranchId(): string
    {
        return Native::take(Native::ffi()->dtmx_xa_current_branch_id($this->handle)) ?? '';
    }

    /** Registers the global transaction with dtm. */
    public function prepare(): void
    {
        Native::call(fn ($e) => Native::ffi()->dtmx_xa_prepare($this->handle, $e));
    }

    /** Calls a branch's `$url` with `$payload`; its reply body. FailureError: abort. */
    public function callBranch(mixed $payload, string $url): string
    {
        $body = Native::call(fn ($e) => Native::ffi()->dtmx_xa_call_branch($this->handle, Native::payload($payload), $url, $e));
        return Native::take($body) ?? '';
    }

    /** Submits: dtm commits every branch. */
    public function submit(): void
    {
        Native::call(fn ($e) => Native::ffi()->dtmx_xa_submit($this->handle, $e));
    }

    /** Aborts: dtm rolls every branch back. */
    public function abort(): void
    {
        Native::call(fn ($e) => Native::ffi()->dtmx_xa_abort($this->handle, $e));
    }

    /**
     * The whole transaction, as every dtmx binding runs it (libdtmx's `dtmx_xa_run`):
     * prepares, runs `$body($this)`, then submits; when the body throws, aborts and
     * rethrows the body's exception as is, whatever happens after: an abort that failed
     * is a note on it (DtmxError::notesOf).
     * Returns what the body returned once the submit succeeded; otherwise throws the
     * prepare's or the submit's error (with `wait_result`: FailureError with status
     * `failed` when it rolled back, UnfinishedError when dtm still retries it).
     */
    public function run(callable $body): mixed
    {
        $ffi = Native::ffi();
        return Native::runBody(
            'xa',
            fn () => $body($this),
            fn ($fn, $user, $e) => $ffi->dtmx_xa_run($this->handle, $fn, $user, $e),
        );
    }
}
