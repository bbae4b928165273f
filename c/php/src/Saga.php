<?php

declare(strict_types=1);

namespace Dtmx;

use FFI\CData;

/**
 * A saga: steps of an action and its compensation that dtm runs in order (or as ordered
 * by addBranchOrder) after submit(), compensating the done steps when one refuses.
 *
 * Options (snake_case, as in DTM's JSON): `wait_result`, `timeout_to_fail`,
 * `retry_interval`, `request_timeout`, `retry_limit`, `branch_headers`, `concurrent`;
 * libdtmx checks them (InvalidArgumentError: `unknown option "wait_reslt"`).
 */
final class Saga
{
    private CData $handle;

    public function __construct(private readonly Client $client, ?string $gid = null, array $options = [])
    {
        $this->handle = Native::call(fn ($e) => Native::ffi()->dtmx_saga_new($client->handle, $gid, Native::options($options), $e));
    }

    public function __destruct()
    {
        Native::ffi()->dtmx_saga_free($this->handle);
    }

    public function gid(): string
    {
        return Native::ffi()->dtmx_saga_gid($this->handle);
    }

    /**
     * Adds a step: dtm POSTs `$payload` to `$action`, and to `$compensate` (may be '')
     * when the saga rolls back. A string payload is sent as is (JSON text); anything
     * else is JSON-encoded.
     */
    public function add(string $action, string $compensate = '', mixed $payload = null): self
    {
        Native::call(fn ($e) => Native::ffi()->dtmx_saga_add($this->handle, $action, $compensate, Native::payload($payload), $e));
        return $this;
    }

    /** Makes step `$branch` (0-based) wait for the steps in `$preBranches`. */
    public function addBranchOrder(int $branch, array $preBranches): self
    {
        $pre = Native::sizes($preBranches);
        Native::call(fn ($e) => Native::ffi()->dtmx_saga_add_branch_order($this->handle, $branch, $pre, count($preBranches), $e));
        return $this;
    }

    /** Lets dtm run the steps concurrently (ordered by addBranchOrder). */
    public function enableConcurrent(): self
    {
        Native::call(fn ($e) => Native::ffi()->dtmx_saga_enable_concurrent($this->handle, $e));
        return $this;
    }

    /**
     * Submits the saga; returns once dtm accepted it. With `wait_result`, once it
     * finished: FailureError (getStatus() `failed`) when it rolled back, UnfinishedError
     * (getStatus() `submitted`, `aborting` or `prepared`) when dtm still retries it.
     */
    public function submit(): void
    {
        Native::call(fn ($e) => Native::ffi()->dtmx_saga_submit($this->handle, $e));
    }
}
