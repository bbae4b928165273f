<?php

declare(strict_types=1);

namespace Dtmx;

use FFI;
use FFI\CData;

/**
 * The loaded libdtmx (PHP FFI) and the helpers every wrapper uses. Internal: use the
 * classes of the package instead.
 *
 * The library is `Native::load($library, $header)`'s, else `$DTMX_LIB`, else the one the
 * package carries for the running platform (`lib/linux-x64/libdtmx.so` in the package
 * archive `dtmx-php-<v>-linux-x64.zip`), else `libdtmx.so` from the dynamic loader's path.
 * The header (the FFI variant `dtmx_ffi.h`, without preprocessor lines) is `$header`, else
 * `$DTMX_HEADER`, else the first that exists of: `include/dtmx_ffi.h` next to the library's
 * `lib/` directory (an installed prefix, `c/install`), `dtmx_ffi.h` at the package root
 * (where the package archive has it), `c/include/dtmx_ffi.h` of the source tree the
 * package sits in (`c/php/../include`), `/usr/local/include` and `/usr/include`.
 */
final class Native
{
    private static ?FFI $ffi = null;

    /** The C callbacks (struct { DtmxSendFn send; DtmxBusiFn busi; DtmxTccBodyFn tcc; DtmxXaBodyFn xa; }), made once. */
    private static ?CData $trampolines = null;
    /** @var array<int, callable> the PHP callbacks they dispatch to, by id */
    private static array $callbacks = [];
    private static int $nextId = 1;

    /** @var array<string, int> outcome names → DtmxOutcome codes (checked against dtmx.h by the tests) */
    public const OUTCOMES = ['success' => 0, 'failure' => 1, 'ongoing' => 2, 'unknown' => 3];

    private function __construct()
    {
    }

    /**
     * Loads libdtmx once per process (later calls return the loaded one). `$library`: a
     * path or a name for the dynamic loader; `$header`: the path of dtmx_ffi.h.
     */
    public static function load(?string $library = null, ?string $header = null): FFI
    {
        if (self::$ffi !== null) {
            return self::$ffi;
        }
        if (!extension_loaded('ffi')) {
            throw new InternalError('dtmx needs the PHP FFI extension (ext-ffi)');
        }
        $library ??= (getenv('DTMX_LIB') ?: (self::bundledLibrary() ?? 'libdtmx.so'));
        $header ??= (getenv('DTMX_HEADER') ?: self::findHeader($library));
        $code = @file_get_contents($header);
        if ($code === false) {
            throw new InternalError("cannot read the dtmx FFI header $header (set DTMX_HEADER)");
        }
        try {
            self::$ffi = FFI::cdef($code, $library);
        } catch (\Throwable $e) {
            $hint = str_contains($e->getMessage(), "ffi.enable") ? " (set ffi.enable=1 in php.ini, or run php -d ffi.enable=1: web SAPIs allow FFI only then)" : "";
            throw new InternalError(
                "cannot load libdtmx from $library: " . $e->getMessage() . $hint
                . '; install the dtmx/dtmx package archive for your platform (dtmx-php-<v>-linux-x64.zip'
                . ' carries libdtmx), or set DTMX_LIB to the path of libdtmx.so (c/install PREFIX'
                . ' builds and installs it)',
                $e,
            );
        }
        return self::$ffi;
    }

    /** The loaded library (loaded with the defaults when not yet). */
    public static function ffi(): FFI
    {
        return self::$ffi ?? self::load();
    }

    /**
     * Registers a PHP callback for a trampoline; returns the `user` argument to pass
     * with it (a `uint64_t` holding its id; pass `FFI::addr()` of it). PHP's FFI keeps
     * every closure converted to a C function pointer until the request ends, so dtmx
     * converts one per callback type, once, and dispatches on the id.
     */
    public static function register(callable $f): CData
    {
        $id = self::ffi()->new('uint64_t');
        $id->cdata = self::$nextId;
        self::$callbacks[self::$nextId++] = $f;
        return $id;
    }

    /** Forgets the callback of `register`. */
    public static function unregister(CData $id): void
    {
        unset(self::$callbacks[$id->cdata]);
    }

    /**
     * The C function pointers: `send` (DtmxSendFn), and the bodies `busi` (DtmxBusiFn),
     * `tcc` (DtmxTccBodyFn) and `xa` (DtmxXaBodyFn), each calling the registered
     * `$f($handle, $error)`.
     */
    public static function trampolines(): CData
    {
        if (self::$trampolines !== null) {
            return self::$trampolines;
        }
        $ffi = self::ffi();
        $t = $ffi->new('struct { DtmxSendFn send; DtmxBusiFn busi; DtmxTccBodyFn tcc; DtmxXaBodyFn xa; }');
        $find = static fn ($user) => self::$callbacks[$ffi->cast('uint64_t*', $user)[0]] ?? null;
        $t->send = static function ($user, $request, $response) use ($ffi, $find): void {
            try {
                $f = $find($user) ?? throw new \LogicException('no transport registered');
                $f($request, $response);
            } catch (\Throwable $e) {
                // An exception must not cross the C boundary (PHP would abort).
                $ffi->dtmx_response_fail($response, $e->getMessage() !== '' ? $e->getMessage() : get_class($e));
            }
        };
        $body = static function ($user, $handle, $error) use ($ffi, $find): void {
            try {
                $f = $find($user) ?? throw new \LogicException('no callback registered');
                $f($handle, $error);
            } catch (\Throwable $e) {
                $ffi->dtmx_error_set($error, InternalError::CODE, $e->getMessage());
            }
        };
        $t->busi = $body;
        $t->tcc = $body;
        $t->xa = $body;
        return self::$trampolines = $t;
    }

    /**
     * Runs a libdtmx call that runs a body of the caller's (`dtmx_tcc_run`, `dtmx_xa_run`,
     * `dtmx_msg_do_and_submit`): `$start($fn, $user, $error)` makes the call with the
     * trampoline `$trampoline` (`busi`, `tcc`, `xa`), which calls `$body($handle)`.
     *
     * An exception of the body never crosses libdtmx: it is kept, libdtmx gets its code
     * and message (a DtmxError's own code; for any other exception
     * `dtmx_error_set_host`, which is never taken for a refusal), and when the call
     * returns the kept exception is thrown again, with the notes libdtmx added to it
     * (DtmxError::notesOf). Returns what the body returned.
     */
    public static function runBody(string $trampoline, callable $body, callable $start): mixed
    {
        $thrown = null;
        $result = null;
        $id = self::register(static function ($handle, $error) use ($body, &$thrown, &$result): void {
            try {
                $result = $body($handle);
            } catch (\Throwable $t) {
                $thrown = $t;
                self::report($error, $t);
            }
        });
        $fn = self::trampolines()->$trampoline;
        try {
            self::call(static fn ($e) => $start($fn, FFI::addr($id), $e));
        } catch (DtmxError $e) {
            // The body's error always wins (libdtmx returns it): throw the body's own.
            if ($thrown === null) {
                throw $e;
            }
            DtmxError::addNotes($thrown, $e->getNotes());
            throw $thrown;
        } finally {
            self::unregister($id);
        }
        return $result;
    }

    /**
     * Reports `$t`, thrown by the caller's code, on `$error` (a `DtmxError*`): a
     * DtmxError's own code and message; for any other exception `dtmx_error_set_host`,
     * which is never taken for a refusal. The caller keeps `$t` to throw it again.
     */
    public static function report(CData $error, \Throwable $t): void
    {
        $message = $t->getMessage() !== '' ? $t->getMessage() : get_class($t);
        if ($t instanceof DtmxError) {
            self::ffi()->dtmx_error_set($error, $t->getCode(), $message);
        } else {
            self::ffi()->dtmx_error_set_host($error, $message);
        }
    }

    /** The version of the loaded libdtmx. */
    public static function version(): string
    {
        return self::ffi()->dtmx_version();
    }

    /**
     * The libdtmx the package carries for the running platform: `lib/<os>-<arch>/` at the
     * package root (`lib/linux-x64/libdtmx.so`), or null when it carries none (a checkout).
     */
    public static function bundledLibrary(): ?string
    {
        $arch = ['x86_64' => 'x64', 'amd64' => 'x64', 'aarch64' => 'arm64', 'arm64' => 'arm64'][strtolower(php_uname('m'))] ?? strtolower(php_uname('m'));
        [$os, $file] = match (PHP_OS_FAMILY) {
            'Darwin' => ['darwin', 'libdtmx.dylib'],
            'Windows' => ['win32', 'dtmx.dll'],
            default => [strtolower(PHP_OS_FAMILY), 'libdtmx.so'],
        };
        $path = dirname(__DIR__) . "/lib/$os-$arch/$file";
        return is_file($path) ? $path : null;
    }

    private static function findHeader(string $library): string
    {
        $candidates = [];
        if (str_contains($library, '/')) {
            $candidates[] = dirname($library, 2) . '/include/dtmx_ffi.h';
        }
        $candidates[] = dirname(__DIR__) . '/dtmx_ffi.h';
        $candidates[] = dirname(__DIR__, 2) . '/include/dtmx_ffi.h';
        $candidates[] = '/usr/local/include/dtmx_ffi.h';
        $candidates[] = '/usr/include/dtmx_ffi.h';
        foreach ($candidates as $path) {
            if (is_file($path)) {
                return $path;
            }
        }
        throw new InternalError('cannot find dtmx_ffi.h (looked in ' . implode(', ', $candidates)
            . '); set DTMX_HEADER');
    }

    /**
     * Runs `$f(DtmxError*)` with a fresh error out-parameter; throws the error's
     * DtmxError subclass when the call failed, else returns what `$f` returned.
     */
    public static function call(callable $f): mixed
    {
        $ffi = self::ffi();
        $error = $ffi->new('DtmxError');
        $ptr = FFI::addr($error);
        try {
            $result = $f($ptr);
            if ($error->code !== 0) {
                throw self::errorOf($ptr);
            }
            return $result;
        } finally {
            $ffi->dtmx_error_free($ptr);
        }
    }

    /** The error `$f(DtmxError*)` writes into a fresh error out-parameter. */
    public static function made(callable $f): DtmxError
    {
        $ffi = self::ffi();
        $error = $ffi->new('DtmxError');
        $ptr = FFI::addr($error);
        try {
            $f($ptr);
            return self::errorOf($ptr);
        } finally {
            $ffi->dtmx_error_free($ptr);
        }
    }

    /** The DtmxError (with its notes and status) a filled `DtmxError*` holds. */
    private static function errorOf(CData $ptr): DtmxError
    {
        $ffi = self::ffi();
        $notes = [];
        $count = $ffi->dtmx_error_note_count($ptr);
        for ($i = 0; $i < $count; $i++) {
            $notes[] = $ffi->dtmx_error_note($ptr, $i);
        }
        $message = $ptr->message === null ? '' : FFI::string($ptr->message);
        return DtmxError::of($ptr->code, $message, $notes, $ffi->dtmx_error_status($ptr));
    }

    /** The PHP string of an owned `char*` (null for NULL), freed. */
    public static function take(?CData $s): ?string
    {
        if ($s === null || FFI::isNull($s)) {
            return null;
        }
        try {
            return FFI::string($s);
        } finally {
            self::ffi()->dtmx_string_free($s);
        }
    }

    /** A C buffer with the bytes of `$s` and its length, for `const uint8_t*` arguments. */
    public static function bytes(string $s): array
    {
        $n = strlen($s);
        $buf = self::ffi()->new('uint8_t[' . max($n, 1) . ']');
        if ($n > 0) {
            FFI::memcpy($buf, $s, $n);
        }
        return [$buf, $n];
    }

    /** A C array of `size_t`. */
    public static function sizes(array $values): CData
    {
        $arr = self::ffi()->new('size_t[' . max(count($values), 1) . ']');
        foreach (array_values($values) as $i => $v) {
            $arr[$i] = (int) $v;
        }
        return $arr;
    }

    /**
     * Two C arrays of strings (`const char *const *`) from `[key, value]` pairs or an
     * associative array; returned with the buffers that keep them alive.
     *
     * @return array{0: CData, 1: CData, 2: int, 3: array}
     */
    public static function pairs(array $pairs): array
    {
        $list = [];
        if (array_is_list($pairs)) {
            foreach ($pairs as $p) {
                $list[] = [(string) $p[0], (string) $p[1]];
            }
        } else {
            foreach ($pairs as $k => $v) {
                foreach (is_array($v) ? $v : [$v] as $one) {
                    $list[] = [(string) $k, (string) $one];
                }
            }
        }
        $n = count($list);
        $ffi = self::ffi();
        $keys = $ffi->new('char*[' . max($n, 1) . ']');
        $values = $ffi->new('char*[' . max($n, 1) . ']');
        $keep = [];
        foreach ($list as $i => [$k, $v]) {
            $keep[] = $kb = self::cstring($k);
            $keep[] = $vb = self::cstring($v);
            $keys[$i] = $ffi->cast('char*', $kb);
            $values[$i] = $ffi->cast('char*', $vb);
        }
        return [
            $ffi->cast('const char *const *', $keys),
            $ffi->cast('const char *const *', $values),
            $n,
            [$keys, $values, $keep],
        ];
    }

    /** A NUL-terminated copy of `$s` in C memory (a `char[]`, freed with the CData). */
    public static function cstring(string $s): CData
    {
        $n = strlen($s);
        $buf = self::ffi()->new('char[' . ($n + 1) . ']');
        if ($n > 0) {
            FFI::memcpy($buf, $s, $n);
        }
        return $buf;
    }

    /**
     * The options JSON of a transaction (`wait_result`, `timeout_to_fail`,
     * `retry_interval`, `request_timeout`, `retry_limit`, `branch_headers`, `concurrent`),
     * read and checked by libdtmx (`unknown option "wait_reslt"`). Null when there are none.
     */
    public static function options(array $options): ?string
    {
        if ($options === []) {
            return null;
        }
        if (array_key_exists('branch_headers', $options)) {
            $options['branch_headers'] = (object) $options['branch_headers'];
        }
        return self::json((object) $options);
    }

    /**
     * A transaction payload: a string is JSON text already; anything else is encoded.
     * A value json_encode refuses (NAN, a resource, ...) is libdtmx's invalid payload
     * (InvalidArgumentError, `invalid payload: ...`).
     */
    public static function payload(mixed $payload): ?string
    {
        if ($payload === null || is_string($payload)) {
            return $payload;
        }
        try {
            return self::json($payload);
        } catch (\JsonException $e) {
            $ffi = self::ffi();
            throw self::made(static fn ($err) => $ffi->dtmx_error_set_invalid_payload($err, $e->getMessage()));
        }
    }

    public static function json(mixed $value): string
    {
        return json_encode($value, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR);
    }

    /** The code of an outcome given by name (`failure`) or code. */
    public static function outcome(string|int $outcome): int
    {
        if (is_int($outcome)) {
            return $outcome;
        }
        if (!isset(self::OUTCOMES[$outcome])) {
            throw new InvalidArgumentError("unknown outcome \"$outcome\"");
        }
        return self::OUTCOMES[$outcome];
    }

    /** The name of an outcome code. */
    public static function outcomeName(int $outcome): string
    {
        return self::ffi()->dtmx_outcome_name($outcome) ?? 'unknown';
    }
}
