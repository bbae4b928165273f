<?php

// Runs the PHP tests of dtmx: php c/php/tests/run.php [-v] [FILTER]
// Needs DTMX_LIB (default target/debug/libdtmx.so) and, for the end-to-end tests, the
// dtmx server (DTMX_BIN, default target/debug/dtmx) and the databases of scripts/services.

declare(strict_types=1);

error_reporting(E_ALL);
set_error_handler(static function (int $no, string $msg, string $file, int $line): bool {
    if ((error_reporting() & $no) === 0) {
        return false; // silenced with @
    }
    throw new ErrorException($msg, 0, $no, $file, $line);
});

require __DIR__ . '/../autoload.php';
require __DIR__ . '/lib/harness.php';
require __DIR__ . '/lib/env.php';

$args = array_slice($argv, 1);
$verbose = in_array('-v', $args, true);
$args = array_values(array_filter($args, static fn ($a) => $a !== '-v'));

if (!getenv('DTMX_LIB')) {
    putenv('DTMX_LIB=' . Env::lib());
}
Dtmx\Native::load(Env::lib());

foreach (glob(__DIR__ . '/*_test.php') as $file) {
    require $file;
}

$failed = T::run($args[0] ?? null, $verbose);
Env::stopAll();
exit($failed > 0 ? 1 : 0);
