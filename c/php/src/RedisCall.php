<?php

declare(strict_types=1);

namespace Dtmx;

use FFI\CData;

/** A Redis barrier script to run with `EVAL script keys args`, and the meaning of its reply. */
final class RedisCall
{
    /** @internal */
    public function __construct(private CData $handle)
    {
    }

    public function __destruct()
    {
        Native::ffi()->dtmx_redis_call_free($this->handle);
    }

    public function script(): string
    {
        return Native::ffi()->dtmx_redis_call_script($this->handle);
    }

    /** @return list<string> */
    public function keys(): array
    {
        $ffi = Native::ffi();
        $out = [];
        $n = $ffi->dtmx_redis_call_key_count($this->handle);
        for ($i = 0; $i < $n; $i++) {
            $out[] = $ffi->dtmx_redis_call_key($this->handle, $i);
        }
        return $out;
    }

    /** @return list<string> */
    public function args(): array
    {
        $ffi = Native::ffi();
        $out = [];
        $n = $ffi->dtmx_redis_call_arg_count($this->handle);
        for ($i = 0; $i < $n; $i++) {
            $out[] = $ffi->dtmx_redis_call_arg($this->handle, $i);
        }
        return $out;
    }

    /**
     * What the script's reply (null for nil) means: `applied`, `null_compensation`,
     * `duplicate`, `suspended`, or a check-back's `SUCCESS` / `FAILURE`; a refused amount
     * throws FailureError.
     */
    public function decide(mixed $reply): string
    {
        $text = $reply === null || $reply === false ? null : (string) $reply;
        return Native::call(fn ($e) => Native::ffi()->dtmx_redis_call_decide($this->handle, $text, $e));
    }

    /** Runs the script with `$eval(string $script, array $keys, array $args)` and decides its reply. */
    public function run(callable $eval): string
    {
        return $this->decide($eval($this->script(), $this->keys(), $this->args()));
    }
}
