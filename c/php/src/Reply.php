<?php

declare(strict_types=1);

namespace Dtmx;

use FFI;

/**
 * The replies a branch gives dtm and how dtm reads them. An outcome is `success` (HTTP
 * 200), `failure` (409: roll back), `ongoing` (425: retry later) or `unknown` (500:
 * retried). A reply is `[int $status, string $jsonBody]`.
 */
final class Reply
{
    public const SUCCESS = 'success';
    public const FAILURE = 'failure';
    public const ONGOING = 'ongoing';
    public const UNKNOWN = 'unknown';

    private function __construct()
    {
    }

    /**
     * The reply for `$outcome` (a name or a DtmxOutcome code) with `$message`.
     *
     * @return array{0: int, 1: string}
     */
    public static function outcomeReply(string|int $outcome, string $message = ''): array
    {
        $ffi = Native::ffi();
        $status = $ffi->new('uint16_t');
        $body = $ffi->new('char*');
        $code = Native::outcome($outcome);
        Native::call(fn ($e) => $ffi->dtmx_outcome_reply($code, $message, FFI::addr($status), FFI::addr($body), $e));
        return [(int) $status->cdata, Native::take($body) ?? ''];
    }

    /** The success reply. */
    public static function success(): array
    {
        return self::outcomeReply(self::SUCCESS);
    }

    /**
     * The reply for an exception a handler threw: FailureError → 409 (roll back),
     * OngoingError → 425 (retry later), anything else → 500 (retried, never a rollback).
     *
     * @return array{0: int, 1: string}
     */
    public static function reply(\Throwable $e): array
    {
        [$outcome, $message] = self::outcomeOfError($e);
        return self::outcomeReply($outcome, $message);
    }

    /**
     * The outcome an exception stands for, and its message.
     *
     * @return array{0: string, 1: string}
     */
    public static function outcomeOfError(\Throwable $e): array
    {
        $ffi = Native::ffi();
        $code = $e instanceof DtmxError ? $e->getCode() : 0;
        $out = $ffi->new('char*');
        $outcome = $ffi->dtmx_outcome_of_error($code, $e->getMessage(), FFI::addr($out));
        return [Native::outcomeName($outcome), Native::take($out) ?? ''];
    }

    /**
     * How dtm reads a branch's HTTP reply: the outcome and its message.
     *
     * @return array{0: string, 1: string}
     */
    public static function outcomeFromHttp(int $status, string $body): array
    {
        $ffi = Native::ffi();
        [$buf, $n] = Native::bytes($body);
        $out = $ffi->new('char*');
        $outcome = $ffi->dtmx_outcome_from_http($status, $buf, $n, FFI::addr($out));
        return [Native::outcomeName($outcome), Native::take($out) ?? ''];
    }

    /** The gRPC status code a branch answers for `$outcome`. */
    public static function grpcCode(string|int $outcome): int
    {
        return Native::ffi()->dtmx_grpc_code(Native::outcome($outcome));
    }

    /**
     * How dtm reads a gRPC status: the outcome and its message.
     *
     * @return array{0: string, 1: string}
     */
    public static function outcomeFromGrpc(int $code, string $message): array
    {
        $ffi = Native::ffi();
        $out = $ffi->new('char*');
        $outcome = $ffi->dtmx_outcome_from_grpc($code, $message, FFI::addr($out));
        return [Native::outcomeName($outcome), Native::take($out) ?? ''];
    }

    /** Throws the error a branch's reply to the caller's own call (TCC try, check-back) stands for. */
    public static function checkBranchReply(int $status, string $body): void
    {
        [$buf, $n] = Native::bytes($body);
        Native::call(fn ($e) => Native::ffi()->dtmx_check_branch_reply($status, $buf, $n, $e));
    }

    /** Throws the error a reply of the DTM server stands for. */
    public static function checkServerReply(int $status, string $body): void
    {
        [$buf, $n] = Native::bytes($body);
        Native::call(fn ($e) => Native::ffi()->dtmx_check_server_reply($status, $buf, $n, $e));
    }
}
