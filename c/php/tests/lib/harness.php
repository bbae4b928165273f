<?php

// A tiny test harness: T::test(name, fn) registers a test, the assertions throw
// AssertionFailed, T::run() runs them and prints `php: N passed, M failed`.

declare(strict_types=1);

final class AssertionFailed extends \Exception
{
}

final class T
{
    /** @var list<array{string, callable}> */
    private static array $tests = [];
    private static int $skipped = 0;

    public static function test(string $name, callable $f): void
    {
        self::$tests[] = [$name, $f];
    }

    public static function skip(int $n = 1): void
    {
        self::$skipped += $n;
    }

    public static function eq(mixed $expected, mixed $actual, string $what = ''): void
    {
        if ($expected !== $actual) {
            throw new AssertionFailed(($what !== '' ? "$what: " : '') . 'expected ' . self::show($expected) . ', got ' . self::show($actual));
        }
    }

    public static function ok(bool $condition, string $what = 'assertion'): void
    {
        if (!$condition) {
            throw new AssertionFailed("$what failed");
        }
    }

    /** Runs `$f` and returns what it threw, which must be a `$class`. */
    public static function throws(string $class, callable $f, string $what = ''): \Throwable
    {
        try {
            $f();
        } catch (\Throwable $t) {
            if (!$t instanceof $class) {
                throw new AssertionFailed(($what !== '' ? "$what: " : '') . "expected $class, got " . get_class($t) . ': ' . $t->getMessage(), 0, $t);
            }
            return $t;
        }
        throw new AssertionFailed(($what !== '' ? "$what: " : '') . "expected $class, nothing thrown");
    }

    public static function show(mixed $v): string
    {
        $s = json_encode($v, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PARTIAL_OUTPUT_ON_ERROR);
        return $s === false ? var_export($v, true) : $s;
    }

    /** Runs the tests whose name contains `$filter` (all when null); the number failed. */
    public static function run(?string $filter = null, bool $verbose = false): int
    {
        $passed = 0;
        $failed = 0;
        // A random order (seeded, printed, DTMX_TEST_SEED to replay) flushes out tests
        // that depend on another having run first.
        $seed = getenv('DTMX_TEST_SEED') !== false ? (int) getenv('DTMX_TEST_SEED') : random_int(1, 1 << 30);
        echo "php: test order seed $seed (DTMX_TEST_SEED=$seed replays it)\n";
        mt_srand($seed);
        $tests = self::$tests;
        shuffle($tests);
        foreach ($tests as [$name, $f]) {
            if ($filter !== null && !str_contains($name, $filter)) {
                continue;
            }
            $start = microtime(true);
            try {
                $f();
                $passed++;
                if ($verbose) {
                    printf("ok   %s (%.2fs)\n", $name, microtime(true) - $start);
                }
            } catch (\Throwable $t) {
                $failed++;
                printf("FAIL %s\n     %s: %s\n", $name, get_class($t), $t->getMessage());
                foreach (array_slice(explode("\n", $t->getTraceAsString()), 0, 6) as $line) {
                    echo "     $line\n";
                }
            }
            gc_collect_cycles();
        }
        if (self::$skipped > 0) {
            echo "skipped: " . self::$skipped . "\n";
        }
        echo "php: $passed passed, $failed failed\n";
        return $failed;
    }
}
