<?php

// The Redis barrier against the real Redis of scripts/services (127.0.0.1:6379), run
// through Barrier::redisCheckAdjustAmount's client-agnostic `$eval` with a minimal RESP
// client (no PHP Redis extension needed).

declare(strict_types=1);

use Dtmx\Barrier;
use Dtmx\FailureError;

final class MiniRedis
{
    /** @var resource */
    private $sock;

    public function __construct(string $host = '127.0.0.1', int $port = 6379)
    {
        $sock = stream_socket_client("tcp://$host:$port", $errno, $errstr, 5);
        if ($sock === false) {
            throw new RuntimeException("redis: $errstr");
        }
        $this->sock = $sock;
    }

    public function command(string ...$args): mixed
    {
        $out = '*' . count($args) . "\r\n";
        foreach ($args as $a) {
            $out .= '$' . strlen($a) . "\r\n$a\r\n";
        }
        fwrite($this->sock, $out);
        return $this->read();
    }

    private function read(): mixed
    {
        $line = rtrim((string) fgets($this->sock), "\r\n");
        $rest = substr($line, 1);
        switch ($line[0] ?? '') {
            case '+':
                return $rest;
            case '-':
                throw new RuntimeException("redis: $rest");
            case ':':
                return (int) $rest;
            case '$':
                if ((int) $rest < 0) {
                    return null;
                }
                $data = (string) stream_get_contents($this->sock, (int) $rest + 2);
                return substr($data, 0, -2);
            case '*':
                $n = (int) $rest;
                $items = [];
                for ($i = 0; $i < $n; $i++) {
                    $items[] = $this->read();
                }
                return $n < 0 ? null : $items;
        }
        throw new RuntimeException("redis: unexpected reply \"$line\"");
    }

    /** The `$eval` of Barrier::redisCheckAdjustAmount. */
    public function evaluator(): callable
    {
        return fn (string $script, array $keys, array $args) => $this->command('EVAL', $script, (string) count($keys), ...$keys, ...$args);
    }
}

T::test('redis: the barrier adjusts an amount at most once', static function (): void {
    $redis = new MiniRedis();
    $eval = $redis->evaluator();
    // Barrier keys are named after the gid: "dtmx-" gids are what scripts/clean-test-databases drops.
    $gid = 'dtmx-php-' . bin2hex(random_bytes(8));
    $key = "dtmx-php:$gid";
    $redis->command('SET', $key, '100');
    try {
        T::eq('applied', (new Barrier('saga', $gid, '01', 'action'))->redisCheckAdjustAmount($eval, $key, -30));
        T::eq('duplicate', (new Barrier('saga', $gid, '01', 'action'))->redisCheckAdjustAmount($eval, $key, -30));
        T::eq('70', $redis->command('GET', $key));
        T::eq('applied', (new Barrier('saga', $gid, '01', 'compensate'))->redisCheckAdjustAmount($eval, $key, 30));
        T::eq('100', $redis->command('GET', $key));
        T::throws(FailureError::class, static fn () => (new Barrier('saga', $gid, '02', 'action'))->redisCheckAdjustAmount($eval, $key, -1000));
        T::eq('null_compensation', (new Barrier('saga', $gid, '03', 'compensate'))->redisCheckAdjustAmount($eval, $key, 5));
        T::eq('suspended', (new Barrier('saga', $gid, '03', 'action'))->redisCheckAdjustAmount($eval, $key, -5));
        T::eq('100', $redis->command('GET', $key));
        // The msg check-back.
        T::eq('applied', Barrier::forMsg($gid)->redisCheckAdjustAmount($eval, $key, 1));
        Barrier::forMsg($gid)->redisQueryPrepared($eval);
        T::throws(FailureError::class, static fn () => Barrier::forMsg("$gid-lost")->redisQueryPrepared($eval));
    } finally {
        $redis->command('DEL', $key);
    }
});
