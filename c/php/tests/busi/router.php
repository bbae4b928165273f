<?php

// The business service of the end-to-end tests, on PHP's built-in server:
//   PHP_CLI_SERVER_WORKERS=4 BUSI_DB=/path/busi.db php -d ffi.enable=1 -S 127.0.0.1:PORT router.php
//
// POST /api/busi/<Name>: a saga, msg or TCC branch. It runs under the barrier on the
// SQLite database BUSI_DB and records "<Name> <op>" for the gid in table `calls`; it
// refuses (409 FAILURE) when the JSON body's `refuse` is <Name>.
// GET /api/busi/QueryPrepared: the msg check-back on the same database.
// GET /api/busi/health: 200.

declare(strict_types=1);

require __DIR__ . '/../../autoload.php';

use Dtmx\Barrier;
use Dtmx\Branch;
use Dtmx\FailureError;
use Dtmx\Web;

$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
if (!preg_match('#^/api/busi/(\w+)$#', $path, $m)) {
    http_response_code(404);
    echo '{"message":"not found"}';
    return true;
}
$name = $m[1];
if ($name === 'health') {
    echo '{"ok":true}';
    return true;
}

function db(): PDO
{
    $pdo = new PDO('sqlite:' . getenv('BUSI_DB'), null, null, [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION, PDO::ATTR_TIMEOUT => 20]);
    $pdo->exec('pragma busy_timeout = 20000');
    return $pdo;
}

if ($name === 'QueryPrepared') {
    Web::handle(static fn ($body, Branch $branch) => Barrier::fromBranch($branch)->queryPrepared(db()));
    return true;
}

Web::handle(static function ($body, Branch $branch) use ($name) {
    $pdo = db();
    Barrier::fromBranch($branch)->call($pdo, static function (PDO $db) use ($name, $body, $branch): void {
        $db->prepare('insert into calls (gid, name, op) values (?, ?, ?)')->execute([$branch->gid, $name, $branch->op]);
        if (is_array($body) && ($body['refuse'] ?? '') === $name) {
            throw new FailureError("$name refused");
        }
    });
    return null;
});
return true;
