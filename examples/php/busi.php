<?php

// The business service of the quick start, for PHP's built-in server:
//
//   php -d ffi.enable=1 -S 127.0.0.1:8081 busi.php
//
// TransOut and TransIn move money, TransOutRevert and TransInRevert undo those moves.
// A step refuses (409 FAILURE: dtm rolls the saga back) when the JSON body's `refuse`
// names it. Dtmx\Web::handle reads the branch from the query string, runs the handler
// and answers dtm.

declare(strict_types=1);

require is_file(__DIR__ . '/vendor/autoload.php') ? __DIR__ . '/vendor/autoload.php' : __DIR__ . '/../../c/php/autoload.php';

use Dtmx\Branch;
use Dtmx\FailureError;
use Dtmx\Web;

$path = (string) parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
$steps = ['TransOut', 'TransOutRevert', 'TransIn', 'TransInRevert'];
$name = basename($path);
if (!str_starts_with($path, '/api/busi/') || !in_array($name, $steps, true)) {
    http_response_code(404);
    echo '{"message":"no such step"}';
    return true;
}

Web::handle(static function (mixed $body, Branch $branch) use ($name): void {
    // The service's log (the built-in server's output): what dtm asked for.
    error_log(sprintf('busi: %-15s gid=%s op=%s body=%s', $name, $branch->gid, $branch->op, json_encode($body)));
    if (is_array($body) && ($body['refuse'] ?? '') === $name) {
        throw new FailureError("$name refused");
    }
    // A real service would move the money here, under Dtmx\Barrier::call with its PDO.
});
return true;
