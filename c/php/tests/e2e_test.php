<?php

// End to end against the real dtmx server and a business service on PHP's built-in
// server (busi/router.php, branches guarded by the barrier on SQLite): sagas, msgs (with
// the local transaction under the barrier, and the check-back) and TCC.

declare(strict_types=1);

use Dtmx\Barrier;
use Dtmx\Client;
use Dtmx\DatabaseError;
use Dtmx\DtmxError;
use Dtmx\DuplicatedError;
use Dtmx\FailureError;
use Dtmx\Tcc;

/** What the business service did for `$gid`: "<Name> <op>" in order. */
function e2e_calls(string $gid): array
{
    [, $db] = Env::busi();
    $stmt = Env::sqlite($db)->prepare('select name, op from calls where gid = ? order by id');
    $stmt->execute([$gid]);
    return array_map(static fn ($r) => "{$r[0]} {$r[1]}", $stmt->fetchAll(PDO::FETCH_NUM));
}

function e2e_ledger(string $gid): array
{
    [, $db] = Env::busi();
    $stmt = Env::sqlite($db)->prepare('select amount from ledger where gid = ?');
    $stmt->execute([$gid]);
    return array_map('intval', $stmt->fetchAll(PDO::FETCH_COLUMN));
}

function e2e_client(): Client
{
    return new Client(Env::dtm());
}

T::test('e2e: newGid and query', static function (): void {
    $client = e2e_client();
    $gid = $client->newGid();
    T::ok(strlen($gid) > 0, 'a gid');
    T::ok($gid !== $client->newGid(), 'unique');
    T::throws(Dtmx\DtmxError::class, static fn () => $client->query(''));
});

T::test('e2e: saga commits', static function (): void {
    [$busi] = Env::busi();
    $client = e2e_client();
    $saga = $client->saga($client->newGid(), ['wait_result' => true]);
    $saga->add("$busi/TransOut", "$busi/TransOutRevert", ['amount' => 30])
        ->add("$busi/TransIn", "$busi/TransInRevert", ['amount' => 30]);
    $saga->submit();
    T::eq('succeed', $client->waitFinal($saga->gid()));
    T::eq(['TransOut action', 'TransIn action'], e2e_calls($saga->gid()));
    $q = $client->query($saga->gid());
    T::eq('succeed', $q['transaction']['status']);
    T::eq(4, count($q['branches']));
});

T::test('e2e: saga rolls back (null compensation of the refused step)', static function (): void {
    [$busi] = Env::busi();
    $client = e2e_client();
    $saga = $client->saga(null, ['wait_result' => true, 'retry_interval' => 1]);
    $body = ['amount' => 30, 'refuse' => 'TransIn'];
    $saga->add("$busi/TransOut", "$busi/TransOutRevert", $body)->add("$busi/TransIn", "$busi/TransInRevert", $body);
    T::throws(FailureError::class, static fn () => $saga->submit());
    T::eq('failed', $client->waitFinal($saga->gid()));
    // TransIn rolled back with its barrier row, so TransInRevert is a null compensation.
    T::eq(['TransOut action', 'TransOutRevert compensate'], e2e_calls($saga->gid()));
});

T::test('e2e: concurrent saga with branch order', static function (): void {
    [$busi] = Env::busi();
    $client = e2e_client();
    $saga = $client->saga(null, ['wait_result' => true]);
    $saga->add("$busi/TransOut", "$busi/TransOutRevert", ['amount' => 1])
        ->add("$busi/TransIn", "$busi/TransInRevert", ['amount' => 1])
        ->add("$busi/TransIn2", "$busi/TransIn2Revert", ['amount' => 1])
        ->addBranchOrder(1, [0])->addBranchOrder(2, [0])->enableConcurrent();
    $saga->submit();
    T::eq('succeed', $client->waitFinal($saga->gid()));
    $calls = e2e_calls($saga->gid());
    T::eq('TransOut action', $calls[0]);
    $rest = array_slice($calls, 1);
    sort($rest);
    T::eq(['TransIn action', 'TransIn2 action'], $rest);
});

T::test('e2e: msg doAndSubmit with the barrier on SQLite', static function (): void {
    [$busi, $db] = Env::busi();
    $client = e2e_client();
    $msg = $client->msg()->add("$busi/TransIn", ['amount' => 30]);
    $pdo = Env::sqlite($db);
    $out = $msg->doAndSubmitDb("$busi/QueryPrepared", $pdo, static function (PDO $db) use ($msg): string {
        $db->prepare('insert into ledger (gid, amount) values (?, ?)')->execute([$msg->gid(), -30]);
        return 'moved';
    });
    T::eq('moved', $out);
    T::eq('succeed', $client->waitFinal($msg->gid()));
    T::eq([-30], e2e_ledger($msg->gid()));
    T::eq(['TransIn action'], e2e_calls($msg->gid()));
    // The local work ran once: a second local transaction of the same msg is refused.
    $b = Barrier::forMsg($msg->gid());
    T::throws(DuplicatedError::class, static fn () => $b->call($pdo, static fn () => 'again'));
    T::eq('msg_duplicated', $b->lastResult());
    T::eq([-30], e2e_ledger($msg->gid()));
});

T::test('e2e: msg local failure aborts', static function (): void {
    [$busi, $db] = Env::busi();
    $client = e2e_client();
    $msg = $client->msg()->add("$busi/TransIn", ['amount' => 30]);
    $pdo = Env::sqlite($db);
    $e = T::throws(FailureError::class, static fn () => $msg->doAndSubmitDb("$busi/QueryPrepared", $pdo, static function (PDO $db) use ($msg): void {
        $db->prepare('insert into ledger (gid, amount) values (?, ?)')->execute([$msg->gid(), -30]);
        throw new FailureError('not enough money');
    }));
    T::eq('not enough money', $e->getMessage());
    T::eq('failed', $client->waitFinal($msg->gid()));
    T::eq([], e2e_ledger($msg->gid()));
    T::eq([], e2e_calls($msg->gid()));
});

T::test('e2e: msg check-back after an error: committed, so submitted', static function (): void {
    [$busi, $db] = Env::busi();
    $client = e2e_client();
    $msg = $client->msg()->add("$busi/TransIn", ['amount' => 5]);
    $pdo = Env::sqlite($db);
    $lost = new RuntimeException('lost the reply');
    $e = T::throws(RuntimeException::class, static fn () => $msg->doAndSubmit("$busi/QueryPrepared", static function (Barrier $b) use ($pdo, $msg, $lost): void {
        $b->call($pdo, static fn (PDO $db) => $db->prepare('insert into ledger (gid, amount) values (?, ?)')->execute([$msg->gid(), 5]));
        throw $lost;
    }));
    T::ok($e === $lost, 'the body\'s own exception');
    T::eq([], DtmxError::notesOf($e), 'the check-back and submit worked: no notes');
    T::eq('succeed', $client->waitFinal($msg->gid()));
    T::eq([5], e2e_ledger($msg->gid()));
});

T::test('e2e: msg check-back after an error: not committed, so aborted and fenced', static function (): void {
    [$busi, $db] = Env::busi();
    $client = e2e_client();
    $msg = $client->msg()->add("$busi/TransIn", ['amount' => 5]);
    $pdo = Env::sqlite($db);
    T::throws(DatabaseError::class, static fn () => $msg->doAndSubmit("$busi/QueryPrepared", static function (Barrier $b): void {
        throw new DatabaseError('database down');
    }));
    T::eq('failed', $client->waitFinal($msg->gid()));
    // The check-back fenced the gid: a late local transaction fails as a duplicate.
    T::throws(DuplicatedError::class, static fn () => Barrier::forMsg($msg->gid())->call($pdo, static fn () => 'late'));
    T::eq([], e2e_calls($msg->gid()));
});

T::test('e2e: msg prepared and never submitted: dtm asks the check-back', static function (): void {
    [$busi, $db] = Env::busi();
    $client = e2e_client();
    $msg = $client->msg(null, ['timeout_to_fail' => 1, 'retry_interval' => 1])->add("$busi/TransIn", ['amount' => 7]);
    $msg->prepare("$busi/QueryPrepared");
    Barrier::forMsg($msg->gid())->call(Env::sqlite($db), static fn (PDO $db) => $db->prepare('insert into ledger (gid, amount) values (?, ?)')->execute([$msg->gid(), 7]));
    // No submit: the "crash". dtm finds the barrier row through the check-back and submits.
    T::eq('succeed', $client->waitFinal($msg->gid(), 60000));
    T::eq(['TransIn action'], e2e_calls($msg->gid()));
});

function e2e_tcc_body(string $busi, string $refuse = ''): callable
{
    return static function (Tcc $tcc) use ($busi, $refuse): void {
        $body = ['amount' => 30, 'refuse' => $refuse];
        T::eq('00', $tcc->currentBranchId());
        $tcc->callBranch($body, "$busi/TransOutTry", "$busi/TransOutConfirm", "$busi/TransOutCancel");
        T::eq('01', $tcc->currentBranchId());
        $tcc->callBranch($body, "$busi/TransInTry", "$busi/TransInConfirm", "$busi/TransInCancel");
    };
}

T::test('e2e: TCC confirms', static function (): void {
    [$busi] = Env::busi();
    $client = e2e_client();
    T::eq('00', $client->xa()->currentBranchId());
    $tcc = $client->tcc();
    $tcc->run(e2e_tcc_body($busi));
    T::eq('succeed', $client->waitFinal($tcc->gid()));
    $calls = e2e_calls($tcc->gid());
    T::eq(['TransOutTry try', 'TransInTry try'], array_slice($calls, 0, 2));
    $rest = array_slice($calls, 2);
    sort($rest);
    T::eq(['TransInConfirm confirm', 'TransOutConfirm confirm'], $rest);
});

T::test('e2e: TCC cancels with the reason', static function (): void {
    [$busi] = Env::busi();
    $client = e2e_client();
    $tcc = $client->tcc(null, ['retry_interval' => 1]);
    $e = T::throws(FailureError::class, static fn () => $tcc->run(e2e_tcc_body($busi, 'TransInTry')));
    T::eq([], $e->getNotes(), 'the abort worked: no notes');
    T::eq('failed', $client->waitFinal($tcc->gid()));
    $calls = e2e_calls($tcc->gid());
    // TransInTry rolled back with its barrier row: its cancel is a null compensation.
    T::eq(['TransOutTry try', 'TransOutCancel cancel'], $calls);
    T::ok(str_contains($client->query($tcc->gid())['transaction']['rollback_reason'] ?? '', 'TransInTry refused'),
        'rollback reason: ' . T::show($client->query($tcc->gid())['transaction']['rollback_reason'] ?? null) . ' / ' . $e->getMessage());
});

T::test('e2e: nested TCC from a try branch', static function (): void {
    [$busi] = Env::busi();
    $client = e2e_client();
    $tcc = $client->tcc();
    $tcc->run(static function (Tcc $t) use ($busi, $client): void {
        // What a try handler would do with its request's query: sub-branches 0101, 0102.
        $branch = new Dtmx\Branch($t->gid(), 'tcc', '01', 'try', Env::dtm());
        $nested = $client->tccFromBranch($branch);
        T::eq($t->gid(), $nested->gid());
        $nested->callBranch(['amount' => 1], "$busi/InnerTry", "$busi/InnerConfirm", "$busi/InnerCancel");
    });
    T::eq('succeed', $client->waitFinal($tcc->gid()));
    $calls = e2e_calls($tcc->gid());
    T::eq(['InnerTry try', 'InnerConfirm confirm'], $calls);
});
