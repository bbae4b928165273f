<?php

// Replays every list of tests/vectors/replies.json: how dtm and the client read replies,
// and the replies a branch gives for outcomes and exceptions.

declare(strict_types=1);

use Dtmx\Branch;
use Dtmx\DtmxError;
use Dtmx\Reply;

function vector_check_kind(callable $f, array $case): void
{
    if ($case['kind'] === 'ok') {
        $f($case['status'], $case['body']);
        return;
    }
    $e = T::throws(DtmxError::classOf($case['kind']), static fn () => $f($case['status'], $case['body']));
    T::eq($case['kind'], $e->getKind(), 'kind');
    if (array_key_exists('message', $case)) {
        T::eq($case['message'], $e->getMessage(), 'message');
    }
}

(static function (): void {
    $v = Env::vectors('replies.json');
    foreach ($v['branch_replies'] as $i => $case) {
        T::test("vectors replies: branch_replies $i", static function () use ($case): void {
            [$outcome, $message] = Reply::outcomeFromHttp($case['status'], $case['body']);
            T::eq($case['outcome'], $outcome, 'outcome');
            if (in_array($outcome, ['failure', 'ongoing'], true)) {
                T::eq($case['message'] ?? $case['body'], $message, 'message');
            }
        });
    }
    foreach ($v['client_branch_replies'] as $i => $case) {
        T::test("vectors replies: client_branch_replies $i", static fn () => vector_check_kind([Reply::class, 'checkBranchReply'], $case));
    }
    foreach ($v['server_replies'] as $i => $case) {
        T::test("vectors replies: server_replies $i", static fn () => vector_check_kind([Reply::class, 'checkServerReply'], $case));
    }
    foreach ($v['outcome_replies'] as $i => $case) {
        T::test("vectors replies: outcome_replies $i", static function () use ($case): void {
            [$status, $body] = Reply::outcomeReply($case['outcome'], $case['message'] ?? '');
            T::eq($case['http_status'], $status, 'status');
            T::eq($case['http_body'], json_decode($body, true), 'body');
            T::eq($case['grpc_code'], Reply::grpcCode($case['outcome']), 'grpc code');
            T::eq($case['outcome'], Reply::outcomeFromHttp($status, $body)[0], 'read back');
        });
    }
    foreach ($v['grpc_replies'] as $i => $case) {
        T::test("vectors replies: grpc_replies $i", static function () use ($case): void {
            T::eq($case['outcome'], Reply::outcomeFromGrpc($case['code'], $case['message'])[0]);
        });
    }
    foreach ($v['error_outcomes'] as $i => $case) {
        T::test("vectors replies: error_outcomes $i ({$case['kind']})", static function () use ($case): void {
            $class = DtmxError::classOf($case['kind']);
            T::ok($class !== null, "a class for {$case['kind']}");
            [$status, $body] = Reply::reply(new $class($case['message']));
            T::eq($case['outcome'], Reply::outcomeFromHttp($status, $body)[0], 'outcome');
            if (in_array($case['outcome'], ['failure', 'ongoing'], true)) {
                T::eq($case['message'], json_decode($body, true)['message'] ?? '', 'message');
            }
        });
    }
    T::test('vectors replies: any other exception is retried', static function (): void {
        [$status, $body] = Reply::reply(new RuntimeException('FAILURE in the ledger'));
        T::eq(500, $status);
        T::eq('unknown', Reply::outcomeFromHttp($status, $body)[0]);
    });
    foreach ($v['branch_requests'] as $i => $case) {
        T::test("vectors replies: branch_requests $i", static function () use ($case): void {
            $b = isset($case['query']) ? Branch::fromQuery($case['query']) : Branch::fromGrpcMetadata($case['metadata']);
            T::eq($case['branch'], $b->toArray());
        });
    }
})();
