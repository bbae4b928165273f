<?php

// The exception classes against libdtmx's names, the library loading, handle lifetimes.

declare(strict_types=1);

use Dtmx\Barrier;
use Dtmx\Client;
use Dtmx\DtmxError;
use Dtmx\FailureError;
use Dtmx\InvalidArgumentError;
use Dtmx\Native;
use Dtmx\TransportError;
use Dtmx\UnfinishedError;

T::test('errors: a class per code, named as libdtmx names it', static function (): void {
    $ffi = Native::ffi();
    foreach (array_keys(DtmxError::KINDS) as $code) {
        $class = 'Dtmx\\' . $ffi->dtmx_code_class($code);
        T::ok(class_exists($class), "$class exists");
        $e = DtmxError::of($code, 'm');
        T::eq($class, get_class($e), "class of $code");
        T::eq($code, $e->getCode(), 'code');
        T::eq($ffi->dtmx_code_name($code), $e->getKind(), 'kind');
        T::eq($class, get_class(new $class('x')), 'constructor');
        T::eq($code, (new $class('x'))->getCode(), 'constructor code');
        T::eq($class, DtmxError::classOf($e->getKind()), 'classOf');
        T::ok($e instanceof DtmxError && $e instanceof RuntimeException, 'base classes');
    }
    T::eq('DtmxError', $ffi->dtmx_code_class(0));
    T::eq('failure', (new FailureError('no'))->getKind());
});

T::test('errors: invalid arguments are InvalidArgumentError with the message', static function (): void {
    $e = T::throws(InvalidArgumentError::class, static fn () => new Barrier('saga', '', '01', 'action'));
    T::ok($e->getMessage() !== '', 'a message');
    $e = T::throws(InvalidArgumentError::class, static fn () => (new Client('http://127.0.0.1:9/api/dtmsvr'))->saga('g', ['nope' => 1]));
    T::eq('unknown option "nope"', $e->getMessage(), 'the core\'s message');
    $e = T::throws(InvalidArgumentError::class, static fn () => (new Client('http://127.0.0.1:9/api/dtmsvr'))->saga('g')->add('http://b/a', '', ['x' => NAN]));
    T::ok(str_starts_with($e->getMessage(), 'invalid payload'), $e->getMessage());
});

T::test('errors: notes and status, on DtmxErrors and on other exceptions', static function (): void {
    $e = DtmxError::of(10, 'g is not finished', ['a note'], 'submitted');
    T::ok($e instanceof UnfinishedError, 'UnfinishedError');
    T::eq(['a note'], $e->getNotes());
    T::eq(['a note'], DtmxError::notesOf($e));
    T::eq('submitted', $e->getStatus());
    T::eq(null, (new FailureError('x'))->getStatus());
    $own = new RuntimeException('mine');
    T::eq([], DtmxError::notesOf($own));
    DtmxError::addNotes($own, ['abort failed: x']);
    DtmxError::addNotes($own, ['another']);
    T::eq(['abort failed: x', 'another'], DtmxError::notesOf($own));
    T::eq([], DtmxError::notesOf(new RuntimeException('mine')), 'kept per exception object');
});

T::test('errors: an unreachable server is a TransportError', static function (): void {
    $port = Env::freePort();
    $client = new Client("http://127.0.0.1:$port/api/dtmsvr");
    T::throws(TransportError::class, static fn () => $client->newGid());
    $saga = $client->saga()->add('http://127.0.0.1:9/a', 'http://127.0.0.1:9/b', ['x' => 1]);
    T::throws(TransportError::class, static fn () => $saga->submit());
});

T::test('errors: a throwing transport is a TransportError, not a crash', static function (): void {
    $client = new Client('http://dtm.test/api/dtmsvr', static fn () => throw new RuntimeException('wire cut'));
    $e = T::throws(TransportError::class, static fn () => $client->newGid());
    T::ok(str_contains($e->getMessage(), 'wire cut'), $e->getMessage());
});

T::test('errors: a borrowed barrier is unusable after its callback', static function (): void {
    $kept = null;
    $client = new Client('http://dtm.test/api/dtmsvr', static fn () => [200, '{"dtm_result":"SUCCESS"}']);
    $client->msg('g-borrow')->add('http://busi.test/a', '{}')->doAndSubmit('http://busi.test/q', static function (Barrier $b) use (&$kept): void {
        $kept = $b;
        T::eq('g-borrow', $b->gid());
    });
    T::throws(InvalidArgumentError::class, static fn () => $kept->gid());
});

T::test('errors: handles are freed (no growth over many transactions)', static function (): void {
    $client = new Client('http://dtm.test/api/dtmsvr', static fn () => [200, '{"dtm_result":"SUCCESS"}']);
    $run = static function () use ($client): void {
        for ($i = 0; $i < 1000; $i++) {
            $s = $client->saga("g$i")->add('http://busi.test/a', 'http://busi.test/b', ['i' => $i]);
            $s->submit();
            $b = new Barrier('saga', "g$i", '01', 'action');
            $b->nextBarrierId();
            $client->msg("m$i")->add('http://busi.test/a', '{}')->doAndSubmit('http://busi.test/q', static fn (Barrier $b) => $b->gid());
            $other = new Client('http://dtm.test/api/dtmsvr', static fn () => [200, '{"gid":"x","dtm_result":"SUCCESS"}']);
            $other->newGid();
        }
    };
    $rss = static fn (): int => (int) preg_replace('/\D/', '', preg_grep('/^VmRSS/', file('/proc/self/status'))[array_key_first(preg_grep('/^VmRSS/', file('/proc/self/status')))]);
    $run();
    $run();
    $before = $rss();
    for ($k = 0; $k < 5; $k++) {
        $run();
    }
    $grown = $rss() - $before;
    T::ok($grown < 2048, "process memory stable over 5000 sagas, msgs, barriers and clients: grew {$grown} kB");
});

T::test('native: version and header found', static function (): void {
    T::ok(preg_match('/^\d+\.\d+\.\d+/', Native::version()) === 1, Native::version());
});

T::test('errors: a libdtmx that cannot be loaded says how to fix it', static function (): void {
    $script = 'require ' . var_export(__DIR__ . '/../autoload.php', true) . ';'
        . ' try { Dtmx\\Native::load("/nonexistent/libdtmx.so"); }'
        . ' catch (Dtmx\\InternalError $e) { echo $e->getMessage(); }';
    $out = (string) shell_exec(escapeshellarg(PHP_BINARY) . ' -d ffi.enable=1 -r ' . escapeshellarg($script) . ' 2>&1');
    T::ok(str_contains($out, 'cannot load libdtmx from /nonexistent/libdtmx.so'), $out);
    T::ok(str_contains($out, 'set DTMX_LIB') && str_contains($out, 'c/install'), $out);
});
