<?php

declare(strict_types=1);

namespace Dtmx;

use FFI\CData;

/**
 * A barrier table: a dialect (`mysql`, `postgres`, `sqlite` and their aliases) and a table
 * name (default `dtm_barrier.barrier`, `barrier` on SQLite).
 */
final class BarrierTable
{
    /** PDO driver names → dialects. */
    public const PDO_DIALECTS = ['sqlite' => 'sqlite', 'pgsql' => 'postgres', 'mysql' => 'mysql'];

    /** @internal */
    public CData $handle;

    public function __construct(string $dialect, ?string $name = null)
    {
        $this->handle = Native::call(fn ($e) => Native::ffi()->dtmx_barrier_table_new($dialect, $name, $e));
    }

    /** The default (or `$name`) table in the dialect of `$pdo`'s driver (sqlite, pgsql, mysql). */
    public static function forPdo(\PDO $pdo, ?string $name = null): self
    {
        $driver = $pdo->getAttribute(\PDO::ATTR_DRIVER_NAME);
        if (!isset(self::PDO_DIALECTS[$driver])) {
            throw new InvalidArgumentError("no barrier dialect for the PDO driver \"$driver\"");
        }
        return new self(self::PDO_DIALECTS[$driver], $name);
    }

    public function __destruct()
    {
        Native::ffi()->dtmx_barrier_table_free($this->handle);
    }

    /** The stable name of the dialect: `mysql`, `postgres` or `sqlite`. */
    public function dialect(): string
    {
        return Native::ffi()->dtmx_barrier_table_dialect($this->handle);
    }

    public function name(): string
    {
        return Native::ffi()->dtmx_barrier_table_name($this->handle);
    }

    /** @return list<string> the statements that create the table (and its schema). */
    public function ddl(): array
    {
        $ffi = Native::ffi();
        $out = [];
        $n = $ffi->dtmx_barrier_table_ddl_count($this->handle);
        for ($i = 0; $i < $n; $i++) {
            $out[] = Native::take($ffi->dtmx_barrier_table_ddl($this->handle, $i));
        }
        return $out;
    }

    /** The insert-ignore statement of a barrier row (6 parameters), in the dialect's style. */
    public function insertIgnoreSql(): string
    {
        return Native::take(Native::ffi()->dtmx_barrier_table_insert_ignore_sql($this->handle));
    }

    /** The query of a barrier row's reason (4 parameters). */
    public function selectReasonSql(): string
    {
        return Native::take(Native::ffi()->dtmx_barrier_table_select_reason_sql($this->handle));
    }

    /** `$sql` (of this dialect) with placeholders in `$style`: qmark, format, dollar or numeric. */
    public function render(string $sql, string $style): string
    {
        return Native::take(Native::call(fn ($e) => Native::ffi()->dtmx_barrier_table_render($this->handle, $sql, $style, $e)));
    }

    /**
     * @internal Runs `$sql` (of this dialect) with `$params` on `$pdo`; a failure is the
     * driver's exception, or a DatabaseError when PDO is set to report errors silently.
     */
    public function execute(\PDO $pdo, string $sql, array $params): \PDOStatement
    {
        $stmt = $pdo->prepare($this->render($sql, 'qmark'));
        if ($stmt === false || !$stmt->execute($params)) {
            $info = ($stmt === false ? $pdo : $stmt)->errorInfo();
            throw new DatabaseError('barrier statement failed: ' . ($info[2] ?? 'unknown error'));
        }
        return $stmt;
    }

    /** Creates the table (and its schema) on `$pdo` when missing. */
    public function create(\PDO $pdo): void
    {
        foreach ($this->ddl() as $sql) {
            try {
                $pdo->exec($sql);
            } catch (\PDOException $e) {
                // Two processes creating the same schema at once: PostgreSQL's
                // "if not exists" may still report a duplicate; the second try sees it.
                usleep(200000);
                $pdo->exec($sql);
            }
        }
    }
}
