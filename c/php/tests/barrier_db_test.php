<?php

// The barrier through PDO on real databases: SQLite, PostgreSQL and MariaDB (the
// services of scripts/services). Each runs the decisions that matter: first call runs,
// duplicate skipped, null compensation, suspension, rollback with the business code, the
// msg check-back.

declare(strict_types=1);

use Dtmx\Barrier;
use Dtmx\BarrierTable;
use Dtmx\DtmxError;
use Dtmx\DuplicatedError;
use Dtmx\FailureError;
use Dtmx\Guard;
use Dtmx\InvalidArgumentError;

final class BarrierDb
{
    private static array $ready = [];

    /** A new connection to `$db` (sqlite, postgres, mariadb), with the barrier table and a ledger. */
    public static function connect(string $db): PDO
    {
        $pdo = match ($db) {
            'sqlite' => Env::sqlite(Env::tmp() . '/barrier.db'),
            'postgres' => Env::postgres(),
            'mariadb' => Env::mariadb(),
        };
        if (!isset(self::$ready[$db])) {
            BarrierTable::forPdo($pdo)->create($pdo);
            if ($db === 'mariadb') {
                $pdo->exec('create database if not exists dtmx_php');
            }
            $pdo->exec('create table if not exists ' . self::ledger($db) . ' (gid varchar(64), op varchar(16))');
            self::$ready[$db] = true;
        }
        return $pdo;
    }

    public static function ledger(string $db): string
    {
        return $db === 'mariadb' ? 'dtmx_php.ledger' : 'dtmx_php_ledger';
    }

    /** One branch call under the barrier; the business code writes a ledger row. */
    public static function run(string $db, string $gid, string $op, string $transType = 'tcc', bool $fail = false): array
    {
        $pdo = self::connect($db);
        $barrier = $op === 'msg' ? Barrier::forMsg($gid) : new Barrier($transType, $gid, '01', $op);
        $result = $barrier->call($pdo, static function (PDO $tx) use ($db, $gid, $op, $fail): string {
            $tx->prepare('insert into ' . self::ledger($db) . ' (gid, op) values (?, ?)')->execute([$gid, $op]);
            if ($fail) {
                throw new FailureError('refused');
            }
            return 'ran';
        });
        return [$result, $barrier->lastResult()];
    }

    public static function ops(string $db, string $gid): array
    {
        $stmt = self::connect($db)->prepare('select op from ' . self::ledger($db) . ' where gid = ?');
        $stmt->execute([$gid]);
        $ops = $stmt->fetchAll(PDO::FETCH_COLUMN);
        sort($ops);
        return $ops;
    }
}

foreach (['sqlite', 'postgres', 'mariadb'] as $db) {
    T::test("barrier $db: first call runs, duplicates skipped", static function () use ($db): void {
        $gid = 'php-' . bin2hex(random_bytes(8));
        T::eq(['ran', 'run_business'], BarrierDb::run($db, $gid, 'try'));
        T::eq([null, 'duplicate'], BarrierDb::run($db, $gid, 'try'));
        T::eq(['ran', 'run_business'], BarrierDb::run($db, $gid, 'confirm'));
        T::eq([null, 'duplicate'], BarrierDb::run($db, $gid, 'confirm'));
        T::eq(['confirm', 'try'], BarrierDb::ops($db, $gid));
    });

    T::test("barrier $db: null compensation, then the late try is suspended", static function () use ($db): void {
        $gid = 'php-' . bin2hex(random_bytes(8));
        T::eq([null, 'null_compensation'], BarrierDb::run($db, $gid, 'cancel'));
        T::eq([null, 'suspended'], BarrierDb::run($db, $gid, 'try'));
        T::eq([], BarrierDb::ops($db, $gid));
        // A saga's compensation after its action: the compensation runs.
        T::eq(['ran', 'run_business'], BarrierDb::run($db, $gid, 'action', 'saga'));
        T::eq(['ran', 'run_business'], BarrierDb::run($db, $gid, 'compensate', 'saga'));
        T::eq(['action', 'compensate'], BarrierDb::ops($db, $gid));
    });

    T::test("barrier $db: a failure rolls back the business code and the barrier", static function () use ($db): void {
        $gid = 'php-' . bin2hex(random_bytes(8));
        T::throws(FailureError::class, static fn () => BarrierDb::run($db, $gid, 'action', 'saga', true));
        T::eq([], BarrierDb::ops($db, $gid));
        $pdo = BarrierDb::connect($db);
        T::throws(FailureError::class, static fn () => (new Barrier('saga', $gid, '02', 'action'))->call($pdo, static fn () => throw new FailureError('no')));
        T::ok(!$pdo->inTransaction(), 'no transaction left open');
        T::eq(['ran', 'run_business'], BarrierDb::run($db, $gid, 'action', 'saga'));
        T::eq(['action'], BarrierDb::ops($db, $gid));
    });

    T::test("barrier $db: msg check-back", static function () use ($db): void {
        $committed = 'php-' . bin2hex(random_bytes(8));
        $lost = 'php-' . bin2hex(random_bytes(8));
        T::eq(['ran', 'run_business'], BarrierDb::run($db, $committed, 'msg', 'msg'));
        $pdo = BarrierDb::connect($db);
        Barrier::fromQuery("gid=$committed&trans_type=msg&branch_id=00&op=msg")->queryPrepared($pdo);
        $e = T::throws(FailureError::class, static fn () => Barrier::fromQueryPairs(['gid' => $lost, 'trans_type' => 'msg', 'branch_id' => '00', 'op' => 'msg'])->queryPrepared($pdo));
        T::ok(str_contains($e->getMessage(), $lost), 'the core\'s message names the msg: ' . $e->getMessage());
        // The check-back fenced the lost one: its late local work fails as a duplicate.
        T::throws(DuplicatedError::class, static fn () => BarrierDb::run($db, $lost, 'msg', 'msg'));
        T::eq([], BarrierDb::ops($db, $lost));
        T::eq(['msg'], BarrierDb::ops($db, $committed));
    });
}

T::test('barrier sqlite: joins the caller\'s transaction, custom table', static function (): void {
    $pdo = BarrierDb::connect('sqlite');
    $table = new BarrierTable('sqlite', 'my_barrier');
    $table->create($pdo);
    $gid = 'php-' . bin2hex(random_bytes(8));
    $pdo->beginTransaction();
    T::eq('ran', (new Barrier('saga', $gid, '01', 'action'))->call($pdo, static fn () => 'ran', $table));
    T::ok($pdo->inTransaction(), 'still the caller\'s transaction');
    $pdo->rollBack();
    // Rolled back by the caller: the barrier row went with it.
    T::eq('ran', (new Barrier('saga', $gid, '01', 'action'))->call($pdo, static fn () => 'ran', $table));
    $n = $pdo->query("select count(*) from my_barrier where gid = '$gid'")->fetchColumn();
    T::eq(1, (int) $n);
    T::eq(0, (int) $pdo->query("select count(*) from barrier where gid = '$gid'")->fetchColumn());
});

T::test('barrier: the dialect of each PDO driver', static function (): void {
    T::eq('sqlite', BarrierTable::forPdo(BarrierDb::connect('sqlite'))->dialect());
    T::eq('postgres', BarrierTable::forPdo(BarrierDb::connect('postgres'))->dialect());
    T::eq('mysql', BarrierTable::forPdo(BarrierDb::connect('mariadb'))->dialect());
    T::eq('dtm_barrier.barrier', BarrierTable::forPdo(BarrierDb::connect('postgres'))->name());
});

T::test('barrier sqlite: the business code\'s own exception is rethrown, everything rolled back', static function (): void {
    $pdo = BarrierDb::connect('sqlite');
    $gid = 'php-' . bin2hex(random_bytes(8));
    $boom = new LogicException('disk on fire');
    $thrown = T::throws(LogicException::class, static fn () => (new Barrier('saga', $gid, '01', 'action'))->call($pdo, static function (PDO $db) use ($gid, $boom): void {
        $db->prepare('insert into ' . BarrierDb::ledger('sqlite') . ' (gid, op) values (?, ?)')->execute([$gid, 'action']);
        throw $boom;
    }));
    T::ok($thrown === $boom, 'the very exception the business code threw');
    T::eq([], DtmxError::notesOf($thrown));
    T::ok(!$pdo->inTransaction(), 'rolled back');
    T::eq([], BarrierDb::ops('sqlite', $gid));
    T::eq(0, (int) $pdo->query("select count(*) from barrier where gid = '$gid'")->fetchColumn());
});

T::test('barrier sqlite: a joined call that throws leaves the transaction to the caller', static function (): void {
    $pdo = BarrierDb::connect('sqlite');
    $gid = 'php-' . bin2hex(random_bytes(8));
    $pdo->beginTransaction();
    T::throws(FailureError::class, static fn () => (new Barrier('tcc', $gid, '01', 'try'))->call($pdo, static fn () => throw new FailureError('no money')));
    T::ok($pdo->inTransaction(), 'still open: the caller rolls back');
    T::eq(1, (int) $pdo->query("select count(*) from barrier where gid = '$gid'")->fetchColumn(), 'the row is in the caller\'s transaction');
    $pdo->rollBack();
    T::eq(0, (int) $pdo->query("select count(*) from barrier where gid = '$gid'")->fetchColumn());
});

T::test('barrier: a Guard driven by hand, owned and joined', static function (): void {
    $table = new BarrierTable('sqlite');
    $own = (new Barrier('tcc', 'g-hand', '01', 'try'))->guard($table, false);
    T::eq('own', $own->ownership());
    $seen = [];
    while (!in_array($action = $own->action(), [Guard::RETURN, Guard::RAISE], true)) {
        $seen[] = $action;
        if ($action === Guard::EXECUTE) {
            T::ok(str_starts_with((string) $own->sql(), 'insert into barrier'), (string) $own->sql());
            T::eq(['tcc', 'g-hand', '01', 'try', '01', 'try'], $own->params());
            $own->feedAffected(1);
        } else {
            $own->ok();
        }
    }
    T::eq([Guard::BEGIN, Guard::EXECUTE, Guard::RUN_BUSINESS, Guard::COMMIT], $seen);
    T::eq('run_business', $own->decision());

    $joined = Barrier::forMsg('g-hand')->guard($table, true);
    T::eq('join', $joined->ownership());
    T::eq(Guard::EXECUTE, $joined->action());
    T::throws(InvalidArgumentError::class, static fn () => $joined->ok());
    $joined->feedAffected(0);
    T::eq(Guard::RAISE, $joined->action());
    T::eq('msg_duplicated', $joined->decision());
    T::throws(DuplicatedError::class, static fn () => $joined->raise());

    $check = Barrier::forMsg('g-hand')->checkBackGuard($table, true);
    $check->feedAffected(1);
    T::eq(Guard::QUERY_REASON, $check->action());
    $check->feedReason('rollback');
    T::eq(Guard::RAISE, $check->action());
    T::eq(null, $check->decision());
    T::throws(FailureError::class, static fn () => $check->raise());
});
