<?php

declare(strict_types=1);

namespace Dtmx;

use FFI\CData;

/**
 * A two-phase message: steps dtm runs once the local transaction committed. Either
 * submit() alone, prepare() + submit()/abort(), or doAndSubmit() with the local
 * transaction guarded by the barrier.
 */
final class Msg
{
    private CData $handle;

    public function __construct(private readonly Client $client, ?string $gid = null, array $options = [])
    {
        $this->handle = Native::call(fn ($e) => Native::ffi()->dtmx_msg_new($client->handle, $gid, Native::options($options), $e));
    }

    public function __destruct()
    {
        Native::ffi()->dtmx_msg_free($this->handle);
    }

    public function gid(): string
    {
        return Native::ffi()->dtmx_msg_gid($this->handle);
    }

    /** Adds a step: dtm POSTs `$payload` to `$action`. */
    public function add(string $action, mixed $payload = null): self
    {
        Native::call(fn ($e) => Native::ffi()->dtmx_msg_add($this->handle, $action, Native::payload($payload), $e));
        return $this;
    }

    /** Adds a step for every subscriber of `$topic`. */
    public function addTopic(string $topic, mixed $payload = null): self
    {
        Native::call(fn ($e) => Native::ffi()->dtmx_msg_add_topic($this->handle, $topic, Native::payload($payload), $e));
        return $this;
    }

    /** Delays the steps by `$seconds` after the submit. */
    public function setDelay(int $seconds): self
    {
        Native::call(fn ($e) => Native::ffi()->dtmx_msg_set_delay($this->handle, $seconds, $e));
        return $this;
    }

    /** Lets dtm run the steps concurrently. */
    public function enableConcurrent(): self
    {
        Native::call(fn ($e) => Native::ffi()->dtmx_msg_enable_concurrent($this->handle, $e));
        return $this;
    }

    /** Phase one: registers the message; dtm asks `$queryPrepared` if no submit or abort follows. */
    public function prepare(string $queryPrepared): void
    {
        Native::call(fn ($e) => Native::ffi()->dtmx_msg_prepare($this->handle, $queryPrepared, $e));
    }

    /** Phase two: dtm runs the steps (with `wait_result`: the errors of Saga::submit). */
    public function submit(): void
    {
        Native::call(fn ($e) => Native::ffi()->dtmx_msg_submit($this->handle, $e));
    }

    /** Aborts a prepared message. */
    public function abort(): void
    {
        Native::call(fn ($e) => Native::ffi()->dtmx_msg_abort($this->handle, $e));
    }

    /**
     * Prepares the message, runs `$busi(Barrier $barrier)` (the local transaction, which
     * should guard itself with `$barrier->call(...)`), then submits, as every dtmx
     * binding does (libdtmx's `dtmx_msg_do_and_submit`). When `$busi` throws a
     * FailureError the message is aborted; after any other exception the check-back at
     * `$queryPrepared` decides (abort, submit, or leave it to dtm). The exception `$busi`
     * threw is rethrown as is, whatever happens after: what failed after it (the abort,
     * the check-back, the submit) is a note on it (DtmxError::notesOf). Without one,
     * returns what `$busi` returned once the submit succeeded, or throws the submit's
     * error (with `wait_result`: FailureError with status `failed`, UnfinishedError).
     *
     * The Barrier is valid only while `$busi` runs.
     */
    public function doAndSubmit(string $queryPrepared, callable $busi): mixed
    {
        $ffi = Native::ffi();
        return Native::runBody(
            'busi',
            static function (CData $barrier) use ($busi): mixed {
                $b = Barrier::borrow($barrier);
                try {
                    return $busi($b);
                } finally {
                    $b->release();
                }
            },
            fn ($fn, $user, $e) => $ffi->dtmx_msg_do_and_submit($this->handle, $queryPrepared, $fn, $user, $e),
        );
    }

    /**
     * doAndSubmit with the local transaction `$busi(\PDO $pdo)` run on `$pdo` under the
     * barrier (Barrier::call).
     */
    public function doAndSubmitDb(string $queryPrepared, \PDO $pdo, callable $busi, ?BarrierTable $table = null): mixed
    {
        return $this->doAndSubmit($queryPrepared, fn (Barrier $b) => $b->call($pdo, $busi, $table));
    }
}
