<?php

declare(strict_types=1);

namespace Dtmx;

use FFI;
use FFI\CData;

/**
 * A DTM server to talk to (`http://host:36789/api/dtmsvr`), and the factory of its
 * transactions. Calls block until the server answered.
 *
 * With `$transport`, every request goes through
 * `$transport(string $method, string $url, array $headers, ?string $body, int $timeoutMs)`
 * instead of libdtmx's own HTTP client: `$headers` is a list of `[name, value]`, and it
 * returns `[int $status, string $body]` or throws (a TransportError for the caller).
 *
 * With `$token`, every request to the server (not to branches) carries
 * `Authorization: Bearer <token>`, for servers with authentication on; an empty token or
 * one with whitespace or control characters throws InvalidArgumentError.
 */
final class Client
{
    /** @internal */
    public CData $handle;
    /** The `user` of the transport callback (its id), when there is one. */
    private ?CData $user = null;

    public function __construct(public readonly string $server, ?callable $transport = null, ?string $token = null)
    {
        $ffi = Native::ffi();
        if ($transport === null) {
            $this->handle = Native::call(fn ($e) => $ffi->dtmx_client_new($server, $e));
        } else {
            $this->withTransport($ffi, $server, $transport);
        }
        if ($token !== null) {
            try {
                Native::call(fn ($e) => $ffi->dtmx_client_set_token($this->handle, $token, $e));
            } catch (\Throwable $t) {
                $this->__destruct();
                unset($this->handle);
                $this->user = null;
                throw $t;
            }
        }
    }

    private function withTransport(FFI $ffi, string $server, callable $transport): void
    {
        $transport = $transport(...);
        $this->user = Native::register(static function ($request, $response) use ($transport, $ffi): void {
            try {
                $headers = [];
                $count = $ffi->dtmx_request_header_count($request);
                for ($i = 0; $i < $count; $i++) {
                    $headers[] = [$ffi->dtmx_request_header_name($request, $i), $ffi->dtmx_request_header_value($request, $i)];
                }
                $len = $ffi->new('size_t');
                $ptr = $ffi->dtmx_request_body($request, FFI::addr($len));
                $body = $ptr === null ? null : FFI::string($ptr, $len->cdata);
                [$status, $reply] = $transport(
                    $ffi->dtmx_request_method($request),
                    $ffi->dtmx_request_url($request),
                    $headers,
                    $body,
                    (int) $ffi->dtmx_request_timeout_ms($request),
                );
                [$buf, $n] = Native::bytes((string) $reply);
                $ffi->dtmx_response_set($response, (int) $status, $buf, $n);
            } catch (\Throwable $t) {
                // An exception must not cross the C boundary: it becomes a transport error.
                $ffi->dtmx_response_fail($response, $t->getMessage() !== '' ? $t->getMessage() : get_class($t));
            }
        });
        $send = Native::trampolines()->send;
        $user = FFI::addr($this->user);
        $this->handle = Native::call(fn ($e) => $ffi->dtmx_client_new_with_transport($server, $send, $user, $e));
    }

    public function __destruct()
    {
        if (isset($this->handle)) {
            Native::ffi()->dtmx_client_free($this->handle);
        }
        if ($this->user !== null) {
            Native::unregister($this->user);
        }
    }

    /** A new gid from the server (`GET /newGid`). */
    public function newGid(): string
    {
        return Native::take(Native::call(fn ($e) => Native::ffi()->dtmx_client_new_gid($this->handle, $e)));
    }

    /** A new gid made locally (unique without asking the server). */
    public function localGid(): string
    {
        return Native::take(Native::call(fn ($e) => Native::ffi()->dtmx_client_local_gid($this->handle, $e)));
    }

    /** The server's view of transaction `gid`: `['transaction' => [...], 'branches' => [...]]`. */
    public function query(string $gid): array
    {
        $json = Native::take(Native::call(fn ($e) => Native::ffi()->dtmx_client_query($this->handle, $gid, $e)));
        return json_decode($json, true, 512, JSON_THROW_ON_ERROR) ?? [];
    }

    /**
     * Waits until transaction `gid` is final and returns its status (`succeed` or
     * `failed`); TimeoutError after `$timeoutMs`.
     */
    public function waitFinal(string $gid, int $timeoutMs = 30000): string
    {
        return Native::take(Native::call(fn ($e) => Native::ffi()->dtmx_client_wait_final($this->handle, $gid, $timeoutMs, $e)));
    }

    /** A saga (`$gid` null: a new local gid). Options as for Native::options. */
    public function saga(?string $gid = null, array $options = []): Saga
    {
        return new Saga($this, $gid, $options);
    }

    /** A two-phase message. */
    public function msg(?string $gid = null, array $options = []): Msg
    {
        return new Msg($this, $gid, $options);
    }

    /** A TCC global transaction. */
    public function tcc(?string $gid = null, array $options = []): Tcc
    {
        return new Tcc($this, $gid, $options);
    }

    /**
     * The TCC nested in the try branch that received `$branch` (Branch::fromRequest() in
     * the try handler): its branches are sub-branches of that one, registered with the
     * server the branch names; nothing to prepare, submit or abort.
     */
    public function tccFromBranch(Branch $branch): Tcc
    {
        $ffi = Native::ffi();
        $query = $branch->toQuery();
        $b = Native::call(fn ($e) => $ffi->dtmx_branch_from_query($query, $e));
        try {
            $handle = Native::call(fn ($e) => $ffi->dtmx_client_tcc_from_branch($this->handle, $b, $e));
        } finally {
            $ffi->dtmx_branch_free($b);
        }
        return new Tcc($this, null, [], $handle);
    }

    /** An XA global transaction (client side). */
    public function xa(?string $gid = null, array $options = []): Xa
    {
        return new Xa($this, $gid, $options);
    }
}
