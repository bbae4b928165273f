<?php

// XaLocal::xaLocal on real databases (PostgreSQL with max_prepared_transactions, MariaDB):
// phase one prepares the business SQL and registers the branch (through a recording
// transport), phase two commits it or rolls it back and fences a late phase one; the
// business code's own exception is what run() throws.

declare(strict_types=1);

use Dtmx\BarrierTable;
use Dtmx\Branch;
use Dtmx\FailureError;
use Dtmx\XaLocal;

final class XaLocalDb
{
    private static array $ready = [];

    public static function connect(string $db): PDO
    {
        $pdo = $db === 'postgres' ? Env::postgres() : Env::mariadb();
        if (!isset(self::$ready[$db])) {
            BarrierTable::forPdo($pdo)->create($pdo);
            if ($db === 'mariadb') {
                $pdo->exec('create database if not exists dtmx_php');
            }
            $pdo->exec('create table if not exists ' . self::ledger($db) . ' (gid varchar(64))');
            self::$ready[$db] = true;
        }
        return $pdo;
    }

    public static function ledger(string $db): string
    {
        return $db === 'mariadb' ? 'dtmx_php.xa_ledger' : 'dtmx_php_xa_ledger';
    }

    public static function rows(string $db, string $gid): int
    {
        $stmt = self::connect($db)->prepare('select count(*) from ' . self::ledger($db) . ' where gid = ?');
        $stmt->execute([$gid]);
        return (int) $stmt->fetchColumn();
    }

    /** Phase `$op` of branch 01 of `$gid`; the registrations sent, by URL. */
    public static function run(string $db, string $gid, string $op, ?callable $busi = null, array &$sent = []): void
    {
        $branch = new Branch($gid, 'xa', '01', $op, 'http://dtm.test/api/dtmsvr', 'http://busi.test/xa');
        $transport = static function (string $method, string $url, array $headers, ?string $body) use (&$sent): array {
            $sent[] = [$method, $url, json_decode((string) $body, true)];
            return [200, '{"dtm_result":"SUCCESS"}'];
        };
        $pdo = self::connect($db);
        $busi ??= static fn (PDO $p) => $p->prepare('insert into ' . self::ledger($db) . ' (gid) values (?)')->execute([$gid]);
        XaLocal::xaLocal($pdo, $branch, $busi, null, 10.0, $transport);
    }
}

foreach (['postgres', 'mariadb'] as $db) {
    T::test("xa local $db: phase one prepares and registers, phase two commits", static function () use ($db): void {
        $gid = 'dtmx-php-xa-' . bin2hex(random_bytes(6));
        $sent = [];
        XaLocalDb::run($db, $gid, 'action', null, $sent);
        T::eq([['POST', 'http://dtm.test/api/dtmsvr/registerBranch',
            ['branch_id' => '01', 'gid' => $gid, 'trans_type' => 'xa', 'url' => 'http://busi.test/xa']]], $sent);
        T::eq(0, XaLocalDb::rows($db, $gid), 'prepared, not committed');
        XaLocalDb::run($db, $gid, 'commit');
        T::eq(1, XaLocalDb::rows($db, $gid), 'committed');
        XaLocalDb::run($db, $gid, 'commit'); // done already: no such XA transaction is success
    });

    T::test("xa local $db: the business code's exception, then a rollback fences a late phase one", static function () use ($db): void {
        $gid = 'dtmx-php-xa-' . bin2hex(random_bytes(6));
        $boom = new RuntimeException('boom');
        try {
            XaLocalDb::run($db, $gid, 'action', static function (PDO $p) use ($boom): void {
                throw $boom;
            });
            T::ok(false, 'run() must throw');
        } catch (RuntimeException $e) {
            T::ok($e === $boom, "the same exception: " . get_class($e) . ": " . $e->getMessage());
        }
        T::eq(0, XaLocalDb::rows($db, $gid));
        $gid2 = 'dtmx-php-xa-' . bin2hex(random_bytes(6));
        XaLocalDb::run($db, $gid2, 'rollback'); // before its phase one: fenced
        try {
            XaLocalDb::run($db, $gid2, 'action');
            T::ok(false, 'a fenced phase one must fail');
        } catch (FailureError $e) {
            T::ok(str_contains($e->getMessage(), 'rolled back'), $e->getMessage());
        }
        T::eq(0, XaLocalDb::rows($db, $gid2));
    });
}
