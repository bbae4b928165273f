<?php

// dtmx quick start in PHP: DTM's README walk-through, a money transfer as a saga.
//
// Submits two sagas to the dtmx server at DTMX_SERVER (default
// http://localhost:36789/api/dtmsvr) whose steps are the business service at BUSI_URL
// (default http://127.0.0.1:8081/api/busi, see busi.php):
//
// 1. TransOut then TransIn, both succeed: the saga ends `succeed`;
// 2. the same, but TransIn refuses (409 FAILURE): dtm compensates with TransOutRevert
//    and the saga ends `failed`.
//
// Exits 0 only when both end as described.

declare(strict_types=1);

require is_file(__DIR__ . '/vendor/autoload.php') ? __DIR__ . '/vendor/autoload.php' : __DIR__ . '/../../c/php/autoload.php';

use Dtmx\Client;
use Dtmx\FailureError;
use Dtmx\TransportError;

/** Submits the transfer saga, waits for its final status; [status, branch statuses]. */
function transfer(Client $dtm, string $busi, string $refuse = ''): array
{
    $body = ['amount' => 30, 'refuse' => $refuse];
    $saga = $dtm->saga($dtm->newGid(), ['wait_result' => true])
        ->add("$busi/TransOut", "$busi/TransOutRevert", $body)
        ->add("$busi/TransIn", "$busi/TransInRevert", $body);
    echo "saga {$saga->gid()}: submitting (TransIn " . ($refuse !== '' ? 'refuses' : 'succeeds') . ")\n";
    try {
        $saga->submit();
    } catch (FailureError $e) {
        echo "saga {$saga->gid()}: rolled back ({$e->getMessage()})\n";
    }
    $status = $dtm->waitFinal($saga->gid());
    $branches = [];
    foreach ($dtm->query($saga->gid())['branches'] ?? [] as $b) {
        $branches[] = basename($b['url']) . '=' . $b['status'];
    }
    echo "saga {$saga->gid()}: $status; branches: " . implode(', ', $branches) . "\n";
    return [$status, $branches];
}

$server = getenv('DTMX_SERVER') ?: 'http://localhost:36789/api/dtmsvr';
$busi = getenv('BUSI_URL') ?: 'http://127.0.0.1:8081/api/busi';
$dtm = new Client($server);
try {
    [$first] = transfer($dtm, $busi);
    [$second, $branches] = transfer($dtm, $busi, 'TransIn');
} catch (TransportError $e) {
    fwrite(STDERR, "cannot reach the dtmx server at $server: {$e->getMessage()}\n");
    exit(1);
}
echo "first saga: $first; second saga: $second\n";
$ok = $first === 'succeed' && $second === 'failed' && in_array('TransOutRevert=succeed', $branches, true);
echo $ok ? "quick start OK\n" : "quick start FAILED\n";
exit($ok ? 0 : 1);
