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

    /** Prepares, runs `$body($this)`, then submits, or aborts and rethrows when it throws. */
    public function run(callable $body): mixed
    {
        $this->prepare();
        try {
            $result = $body($this);
        } catch (\Throwable $t) {
            try {
                $this->abort();
            } catch (DtmxError) {
                // The body's exception is the one to report.
            }
            throw $t;
        }
        $this->submit();
        return $result;
    }
}
