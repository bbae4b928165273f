<?php

declare(strict_types=1);

namespace Dtmx;

use FFI;

/**
 * Who a branch request is for, as dtm sends it in the query string (or gRPC metadata):
 * gid, trans type, branch id, op, the dtm server and, for XA, the phase-two URL. Fields
 * are empty when absent.
 */
final class Branch
{
    public function __construct(
        public readonly string $gid = '',
        public readonly string $transType = '',
        public readonly string $branchId = '',
        public readonly string $op = '',
        public readonly string $dtm = '',
        public readonly string $phase2Url = '',
    ) {
    }

    /** The branch of a request's query string (with or without its leading `?`). */
    public static function fromQuery(string $query): self
    {
        $ffi = Native::ffi();
        $b = Native::call(fn ($e) => $ffi->dtmx_branch_from_query($query, $e));
        return self::take($b);
    }

    /** The branch of a request from its decoded query (`$_GET`, or a list of `[key, value]` pairs). */
    public static function fromQueryPairs(array $pairs): self
    {
        $ffi = Native::ffi();
        [$keys, $values, $n, $keep] = Native::pairs($pairs);
        return self::take(Native::call(fn ($e) => $ffi->dtmx_branch_from_query_pairs($keys, $values, $n, $e)));
    }

    /** The branch of a gRPC request from its metadata (`dtm-gid`, ...; pairs or an associative array). */
    public static function fromGrpcMetadata(array $metadata): self
    {
        $ffi = Native::ffi();
        [$keys, $values, $n, $keep] = Native::pairs($metadata);
        return self::take(Native::call(fn ($e) => $ffi->dtmx_branch_from_grpc_metadata($keys, $values, $n, $e)));
    }

    /** The branch of the current PHP request (`$_SERVER['QUERY_STRING']`). */
    public static function fromRequest(): self
    {
        return self::fromQuery((string) ($_SERVER['QUERY_STRING'] ?? ''));
    }

    private static function take(?FFI\CData $b): self
    {
        if ($b === null) {
            return new self();
        }
        $s = static fn ($p) => $p === null || FFI::isNull($p) ? '' : FFI::string($p);
        try {
            return new self($s($b->gid), $s($b->trans_type), $s($b->branch_id), $s($b->op), $s($b->dtm), $s($b->phase2_url));
        } finally {
            Native::ffi()->dtmx_branch_free($b);
        }
    }

    /** The query string dtm would send for this branch. */
    public function toQuery(): string
    {
        $q = ['dtm' => $this->dtm, 'gid' => $this->gid, 'trans_type' => $this->transType,
            'branch_id' => $this->branchId, 'op' => $this->op, 'phase2_url' => $this->phase2Url];
        return http_build_query(array_filter($q, static fn ($v) => $v !== ''), '', '&', PHP_QUERY_RFC3986);
    }

    /** @return array<string, string> the fields by their wire names */
    public function toArray(): array
    {
        return ['gid' => $this->gid, 'trans_type' => $this->transType, 'branch_id' => $this->branchId,
            'op' => $this->op, 'dtm' => $this->dtm, 'phase2_url' => $this->phase2Url];
    }
}
