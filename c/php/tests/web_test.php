<?php

// The branch helpers: Branch, Reply and Web::run (no server needed).

declare(strict_types=1);

use Dtmx\Barrier;
use Dtmx\Branch;
use Dtmx\FailureError;
use Dtmx\OngoingError;
use Dtmx\Reply;
use Dtmx\Web;

T::test('web: Branch from a query string and back', static function (): void {
    $b = Branch::fromQuery('?branch_id=01&dtm=http%3A%2F%2Fdtm.test%2Fapi%2Fdtmsvr&gid=tcc-1&op=try&trans_type=tcc');
    T::eq(['gid' => 'tcc-1', 'trans_type' => 'tcc', 'branch_id' => '01', 'op' => 'try', 'dtm' => 'http://dtm.test/api/dtmsvr', 'phase2_url' => ''], $b->toArray());
    T::eq($b->toArray(), Branch::fromQuery($b->toQuery())->toArray());
    $barrier = Barrier::fromBranch($b);
    T::eq(['tcc', 'tcc-1', '01', 'try'], [$barrier->transType(), $barrier->gid(), $barrier->branchId(), $barrier->op()]);
    T::eq((new Branch())->toArray(), Branch::fromQuery('')->toArray());
    T::eq($b->toArray(), Branch::fromQueryPairs(['gid' => 'tcc-1', 'trans_type' => 'tcc', 'branch_id' => '01', 'op' => 'try', 'dtm' => 'http://dtm.test/api/dtmsvr'])->toArray());
    T::eq($b->toArray(), Branch::fromQueryPairs([['gid', 'tcc-1'], ['trans_type', 'tcc'], ['branch_id', '01'], ['op', 'try'], ['dtm', 'http://dtm.test/api/dtmsvr']])->toArray());
});

T::test('web: replies of outcomes', static function (): void {
    T::eq([200, '{"dtm_result":"SUCCESS"}'], Reply::success());
    [$status, $body] = Reply::outcomeReply(Reply::FAILURE, 'no money');
    T::eq(409, $status);
    T::eq(['dtm_result' => 'FAILURE', 'message' => 'no money'], json_decode($body, true));
    T::eq(425, Reply::outcomeReply('ongoing')[0]);
    T::eq(500, Reply::outcomeReply('unknown', 'x')[0]);
    T::throws(Dtmx\InvalidArgumentError::class, static fn () => Reply::outcomeReply('maybe'));
});

T::test('web: a handler\'s result and exceptions become replies', static function (): void {
    $seen = null;
    $reply = Web::run(static function ($body, Branch $b) use (&$seen) {
        $seen = [$body, $b->gid, $b->op];
        return null;
    }, 'gid=g1&trans_type=saga&branch_id=01&op=action', '{"amount":30}');
    T::eq([['amount' => 30], 'g1', 'action'], $seen);
    T::eq(Reply::success(), $reply);
    T::eq([200, '{"ok":true}'], Web::run(static fn () => ['ok' => true], '', ''));
    T::eq(409, Web::run(static fn () => throw new FailureError('refused'), '', '')[0]);
    T::eq(['dtm_result' => 'FAILURE', 'message' => 'refused'], json_decode(Web::run(static fn () => throw new FailureError('refused'), '', '')[1], true));
    T::eq(425, Web::run(static fn () => throw new OngoingError('later'), '', '')[0]);
    [$status, $body] = Web::run(static fn () => throw new PDOException('FAILURE in the db'), '', '');
    T::eq(500, $status);
    T::eq('unknown', Reply::outcomeFromHttp($status, $body)[0]);
    T::eq([200, '"not json"'], Web::run(static fn ($body) => $body, '', 'not json'));
});
