<?php

// Runs examples/php end to end: busi.php on PHP's built-in server, quick_start.php
// against the real dtmx server; it must report both sagas as expected and exit 0.

declare(strict_types=1);

T::test('example: the PHP quick start', static function (): void {
    $dir = Env::repo() . '/examples/php';
    [$base] = Env::phpServer("$dir/busi.php", [], 'example-busi', '/');
    $env = array_merge(getenv(), ['DTMX_SERVER' => Env::dtm(), 'BUSI_URL' => "$base/api/busi", 'DTMX_LIB' => Env::lib()]);
    $proc = proc_open([PHP_BINARY, "$dir/quick_start.php"], [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes, $dir, $env);
    $out = stream_get_contents($pipes[1]);
    $err = stream_get_contents($pipes[2]);
    $code = proc_close($proc);
    T::eq(0, $code, "exit code; output:\n$out$err");
    T::ok(str_contains($out, 'first saga: succeed; second saga: failed'), $out);
    T::ok(str_contains($out, 'TransOutRevert=succeed'), $out);
    T::ok(str_contains($out, 'quick start OK'), $out);
});
