<?php

// What the tests share: the repository, the vectors, free ports, the real dtmx server,
// PHP's built-in server with the business service, a small HTTP client, the databases.

declare(strict_types=1);

final class Env
{
    /** @var list<resource> */
    private static array $procs = [];
    private static ?string $dtm = null;
    private static ?string $dtmAuth = null;
    private static ?array $busi = null;
    private static ?string $tmp = null;

    public static function repo(): string
    {
        return dirname(__DIR__, 4);
    }

    public static function vectors(string $name): array
    {
        return json_decode((string) file_get_contents(self::repo() . '/tests/vectors/' . $name), true, 512, JSON_THROW_ON_ERROR);
    }

    /** A fresh directory removed at exit. */
    public static function tmp(): string
    {
        if (self::$tmp === null) {
            self::$tmp = sys_get_temp_dir() . '/dtmx-php-' . bin2hex(random_bytes(6));
            mkdir(self::$tmp);
            register_shutdown_function(static function (): void {
                self::stopAll();
                exec('rm -rf ' . escapeshellarg(self::$tmp));
            });
        }
        return self::$tmp;
    }

    public static function freePort(): int
    {
        $s = stream_socket_server('tcp://127.0.0.1:0', $errno, $errstr);
        if ($s === false) {
            throw new RuntimeException("no free port: $errstr");
        }
        $name = stream_socket_get_name($s, false);
        fclose($s);
        return (int) substr($name, strrpos($name, ':') + 1);
    }

    public static function lib(): string
    {
        $lib = getenv('DTMX_LIB') ?: self::repo() . '/target/debug/libdtmx.so';
        return realpath($lib) ?: $lib;
    }

    /** Starts `$cmd` (an argv list) with `$env` added, output to `$log`; its process. */
    public static function spawn(array $cmd, array $env, string $log, ?string $cwd = null)
    {
        $proc = proc_open($cmd, [0 => ['file', '/dev/null', 'r'], 1 => ['file', $log, 'a'], 2 => ['file', $log, 'a']],
            $pipes, $cwd, array_merge(getenv(), $env));
        if ($proc === false) {
            throw new RuntimeException('cannot start ' . implode(' ', $cmd));
        }
        self::$procs[] = $proc;
        return $proc;
    }

    /** The ids of the live children of process `$pid` (PHP's built-in server forks its workers). */
    private static function children(int $pid): array
    {
        $out = [];
        foreach (glob('/proc/[0-9]*/stat') ?: [] as $stat) {
            $text = @file_get_contents($stat);
            if ($text !== false && preg_match('/\) \S+ (\d+) /', $text, $m) && (int) $m[1] === $pid) {
                $out[] = (int) basename(dirname($stat));
            }
        }
        return $out;
    }

    public static function stop($proc): void
    {
        $status = proc_get_status($proc);
        $children = $status['running'] ? self::children($status['pid']) : [];
        if ($status['running']) {
            proc_terminate($proc, 15);
            for ($i = 0; $i < 50 && proc_get_status($proc)['running']; $i++) {
                usleep(100000);
            }
            if (proc_get_status($proc)['running']) {
                proc_terminate($proc, 9);
            }
        }
        foreach ($children as $pid) {
            if (file_exists("/proc/$pid")) {
                function_exists('posix_kill') ? posix_kill($pid, 15) : exec("kill $pid");
            }
        }
        proc_close($proc);
        self::$procs = array_values(array_filter(self::$procs, static fn ($p) => $p !== $proc));
    }

    public static function stopAll(): void
    {
        foreach (self::$procs as $p) {
            self::stop($p);
        }
    }

    /** Waits until GET `$url` answers 200 (`$any`: answers at all), or `$proc` exited. */
    public static function waitUp(string $url, $proc, string $log, bool $any = false): void
    {
        for ($i = 0; $i < 200; $i++) {
            if (!proc_get_status($proc)['running']) {
                throw new RuntimeException("exited early:\n" . @file_get_contents($log));
            }
            [$status] = self::http('GET', $url, null, 1.0);
            if ($status === 200 || ($any && $status !== 0)) {
                return;
            }
            usleep(100000);
        }
        throw new RuntimeException("$url not up:\n" . @file_get_contents($log));
    }

    /** The URL of a real dtmx server (started once, on free ports, with a fresh store). */
    public static function dtm(): string
    {
        return self::$dtm ??= self::startDtm('dtmx', []);
    }

    /** The submit token of the server of `dtmAuth()`. */
    public const AUTH_TOKEN = 'php-submit-token-0123456789';

    /** The URL of a real dtmx server with authentication on (AUTH_SUBMIT_TOKENS=AUTH_TOKEN). */
    public static function dtmAuth(): string
    {
        return self::$dtmAuth ??= self::startDtm('dtmx-auth', ['AUTH_SUBMIT_TOKENS' => self::AUTH_TOKEN]);
    }

    /** Starts a dtmx server on free ports with a fresh store and `$env` added: its URL. */
    private static function startDtm(string $name, array $env): string
    {
        $bin = getenv('DTMX_BIN') ?: self::repo() . '/target/debug/dtmx';
        if (!is_executable($bin)) {
            throw new RuntimeException("no dtmx server binary at $bin (build it: cargo build -p dtmx-server --bin dtmx, or set DTMX_BIN)");
        }
        $port = self::freePort();
        $dir = self::tmp() . "/$name";
        @mkdir($dir);
        $log = "$dir/dtmx.log";
        $proc = self::spawn([$bin], array_merge([
            'HTTP_HOST' => '127.0.0.1',
            'HTTP_PORT' => (string) $port,
            'GRPC_PORT' => (string) self::freePort(),
            'STORE_PATH' => "$dir/dtmx.db",
            'LOG_LEVEL' => 'warn',
            'TRANS_CRON_INTERVAL' => '1',
        ], $env), $log);
        self::waitUp("http://127.0.0.1:$port/api/ping", $proc, $log);
        return "http://127.0.0.1:$port/api/dtmsvr";
    }

    /**
     * Starts PHP's built-in server (4 workers) on a free port with `$router` in `$docroot`;
     * its base URL. `$env` is added to its environment.
     */
    public static function phpServer(string $router, array $env, string $name, string $ready = '/'): array
    {
        $port = self::freePort();
        $log = self::tmp() . "/$name.log";
        $proc = self::spawn(
            [PHP_BINARY, '-d', 'ffi.enable=1', '-S', "127.0.0.1:$port", $router],
            array_merge(['PHP_CLI_SERVER_WORKERS' => '4', 'DTMX_LIB' => self::lib()], $env),
            $log,
            dirname($router),
        );
        $base = "http://127.0.0.1:$port";
        self::waitUp($base . $ready, $proc, $log, true);
        return [$base, $proc, $log];
    }

    /** The business service of the end-to-end tests: `[baseUrl, sqlitePath]`. */
    public static function busi(): array
    {
        if (self::$busi !== null) {
            return self::$busi;
        }
        $db = self::tmp() . '/busi.db';
        $pdo = self::sqlite($db);
        Dtmx\BarrierTable::forPdo($pdo)->create($pdo);
        $pdo->exec('create table if not exists calls (id integer primary key autoincrement, gid text, name text, op text)');
        $pdo->exec('create table if not exists ledger (gid text, amount integer)');
        [$base] = self::phpServer(__DIR__ . '/../busi/router.php', ['BUSI_DB' => $db], 'busi', '/api/busi/health');
        return self::$busi = [$base . '/api/busi', $db];
    }

    /** A SQLite PDO with WAL and a busy timeout (shared with the business service). */
    public static function sqlite(string $path): PDO
    {
        $pdo = new PDO("sqlite:$path", null, null, [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION, PDO::ATTR_TIMEOUT => 20]);
        $pdo->exec('pragma journal_mode = wal');
        return $pdo;
    }

    /** `[status, body]` of an HTTP request (status 0 when it could not be sent). */
    public static function http(string $method, string $url, ?string $body = null, float $timeout = 10.0): array
    {
        $ctx = stream_context_create(['http' => [
            'method' => $method,
            'header' => "Content-Type: application/json\r\n",
            'content' => $body ?? '',
            'ignore_errors' => true,
            'timeout' => $timeout,
        ]]);
        $out = @file_get_contents($url, false, $ctx);
        if ($out === false || !isset($http_response_header[0])) {
            return [0, ''];
        }
        preg_match('#^HTTP/\S+\s+(\d+)#', $http_response_header[0], $m);
        return [(int) ($m[1] ?? 0), $out];
    }

    public static function postgres(): PDO
    {
        return new PDO('pgsql:host=127.0.0.1;port=5432;dbname=postgres', 'postgres', 'mysecretpassword',
            [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
    }

    public static function mariadb(): PDO
    {
        return new PDO('mysql:host=127.0.0.1;port=3306', 'root', '', [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
    }
}
