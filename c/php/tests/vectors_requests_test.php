<?php

// Replays every case of tests/vectors/requests.json through the PHP API, with a client
// transport that records each request and answers with the case's scripted replies.
// `xa_local` cases (the RM side of XA) drive a Dtmx\XaLocal with the case's scripted SQL
// results, business outcome and replies, and compare what it did (its events).

declare(strict_types=1);

use Dtmx\Barrier;
use Dtmx\BarrierTable;
use Dtmx\Branch;
use Dtmx\Client;
use Dtmx\DatabaseError;
use Dtmx\DtmxError;
use Dtmx\FailureError;
use Dtmx\OngoingError;
use Dtmx\Saga;
use Dtmx\Tcc;
use Dtmx\XaLocal;

final class RequestRecorder
{
    public array $requests = [];
    private array $replies = [];

    public function __construct(array $case, private array $default)
    {
        foreach ($case['replies'] ?? [] as $r) {
            $this->replies[$r['url']] = $r;
        }
    }

    public function __invoke(string $method, string $url, array $headers, ?string $body, int $timeoutMs): array
    {
        [$path, $query] = array_pad(explode('?', $url, 2), 2, '');
        $params = [];
        foreach ($query === '' ? [] : explode('&', $query) as $pair) {
            [$k, $v] = array_pad(explode('=', $pair, 2), 2, '');
            $params[urldecode($k)] = urldecode($v);
        }
        $parsed = null;
        if ($body !== null && $body !== '') {
            try {
                $parsed = json_decode($body, true, 512, JSON_THROW_ON_ERROR);
            } catch (JsonException) {
                $parsed = $body;
            }
        }
        $this->requests[] = ['method' => $method, 'url' => $path, 'query' => $params, 'headers' => $headers, 'body' => $parsed];
        $r = $this->replies[$path] ?? $this->default;
        return [$r['status'], $r['body']];
    }
}

function vector_check_request(array $actual, array $expected, int $i): void
{
    T::eq($expected['method'], $actual['method'], "request $i method");
    T::eq($expected['url'], $actual['url'], "request $i url");
    $want = $expected['query'] ?? [];
    $have = $actual['query'];
    ksort($want);
    ksort($have);
    T::eq($want, $have, "request $i query");
    foreach ($expected['headers'] ?? [] as $name => $value) {
        $found = null;
        foreach ($actual['headers'] as [$k, $v]) {
            if (strcasecmp($k, $name) === 0) {
                $found = $v;
            }
        }
        T::eq($value, $found, "request $i header $name");
    }
    // === on decoded JSON: same keys in the same order, same values.
    T::eq($expected['body'], $actual['body'], "request $i body");
}

function vector_busi(string $name, string $gid): callable
{
    return static function (Barrier $b) use ($name, $gid): void {
        T::eq(['msg', $gid, '00', 'msg'], [$b->transType(), $b->gid(), $b->branchId(), $b->op()], 'busi barrier');
        match ($name) {
            'failure' => throw new FailureError('business failure FAILURE'),
            'ongoing' => throw new OngoingError('business ongoing'),
            'error' => throw new DatabaseError('business error'),
            default => null,
        };
    };
}

function vector_run_calls(object $target, array $calls, array $case): void
{
    foreach ($calls as $c) {
        match ($c['call']) {
            'add' => $target instanceof Saga
                ? $target->add($c['action'], $c['compensate'], $c['payload'])
                : $target->add($c['action'], $c['payload']),
            'add_branch_order' => $target->addBranchOrder($c['branch'], $c['pre_branches']),
            'enable_concurrent' => $target->enableConcurrent(),
            'add_topic' => $target->addTopic($c['topic'], $c['payload']),
            'set_delay' => $target->setDelay($c['seconds']),
            'prepare' => $target->prepare($c['query_prepared']),
            'submit' => $target->submit(),
            'abort' => $target->abort(),
            'do_and_submit' => $target->doAndSubmit($c['query_prepared'], vector_busi($c['busi'], $case['gid'])),
            'call_branch' => $target instanceof Tcc
                ? $target->callBranch($c['payload'], $c['try'], $c['confirm'], $c['cancel'])
                : $target->callBranch($c['payload'], $c['url']),
            default => throw new AssertionFailed("unknown call {$c['call']}"),
        };
    }
}

/**
 * The RM side of one XA branch call with the case's scripted SQL errors (every other
 * statement affects 1 row), business outcome and replies; what it did, as events.
 */
function vector_run_xa_local(array $case, RequestRecorder $recorder, array &$events): void
{
    $b = $case['branch'];
    $branch = new Branch($b['gid'] ?? '', $b['trans_type'] ?? '', $b['branch_id'] ?? '', $b['op'] ?? '',
        $b['dtm'] ?? '', $b['phase2_url'] ?? '');
    $xa = new XaLocal($branch, new BarrierTable($case['dialect']));
    $errors = $case['sql_errors'] ?? [];
    while (($step = $xa->step()) !== XaLocal::DONE) {
        switch ($step) {
            case XaLocal::EXECUTE:
                $sql = (string) $xa->sql();
                $events[] = str_starts_with($sql, 'insert') ? ['barrier_insert' => $xa->params()] : ['sql' => $sql];
                isset($errors[$sql]) ? $xa->feedSqlError($errors[$sql]) : $xa->feedAffected(1);
                break;
            case XaLocal::QUERY_REASON:
                $events[] = ['query_reason' => $xa->params()];
                $xa->feedReason(null);
                break;
            case XaLocal::RUN_BUSINESS:
                $events[] = ['business' => true];
                $xa->feedBusiness(match ($case['business'] ?? 'ok') {
                    'ok' => null,
                    'failure' => new FailureError('business failure'),
                    default => new DatabaseError('business error'),
                });
                break;
            case XaLocal::SEND:
                [$method, $url, $headers, $body, $timeoutMs] = $xa->request();
                [$status, $reply] = $recorder($method, $url, $headers, $body, $timeoutMs);
                $events[] = ['request' => $recorder->requests[count($recorder->requests) - 1]];
                $xa->feedReply($status, $reply);
                break;
        }
    }
    $xa->finish();
}

(static function (): void {
    $file = Env::vectors('requests.json');
    foreach ($file['cases'] as $case) {
        if ($case['kind'] === 'xa_local') {
            T::test("vectors requests: {$case['name']}", static function () use ($case, $file): void {
                $recorder = new RequestRecorder($case, $file['default_reply']);
                $events = [];
                try {
                    vector_run_xa_local($case, $recorder, $events);
                    $result = 'ok';
                } catch (DtmxError $e) {
                    $result = $e->getKind();
                }
                T::eq($case['result'], $result, 'result');
                T::eq(count($case['events']), count($events), 'event count ' . T::show($events));
                foreach ($case['events'] as $i => $expected) {
                    if (isset($expected['request'])) {
                        vector_check_request($events[$i]['request'] ?? [], $expected['request'], $i);
                    } else {
                        T::eq($expected, $events[$i], "event $i");
                    }
                }
            });
            continue;
        }
        T::test("vectors requests: {$case['name']}", static function () use ($case, $file): void {
            $recorder = new RequestRecorder($case, $file['default_reply']);
            $client = new Client($file['dtm'], $recorder);
            $options = $case['options'] ?? [];
            $gid = $case['gid'] ?? null;
            $calls = $case['calls'] ?? [];
            $value = null;
            try {
                $value = match ($case['kind']) {
                    'saga' => vector_run_calls($client->saga($gid, $options), $calls, $case),
                    'msg' => vector_run_calls($client->msg($gid, $options), $calls, $case),
                    'tcc' => $client->tcc($gid, $options)->run(static fn (Tcc $t) => vector_run_calls($t, $calls, $case)),
                    'tcc_nested' => vector_run_calls(
                        $client->tccFromBranch(new Branch($case['branch']['gid'], $case['branch']['trans_type'],
                            $case['branch']['branch_id'], $case['branch']['op'], $case['branch']['dtm'])),
                        $calls,
                        $case,
                    ),
                    'xa' => $client->xa($gid, $options)->run(static fn ($x) => vector_run_calls($x, $calls, $case)),
                    'new_gid' => $client->newGid(),
                };
                $result = 'ok';
            } catch (DtmxError $e) {
                $result = $e->getKind();
            }
            T::eq($case['result'], $result, 'result');
            if (array_key_exists('value', $case)) {
                T::eq($case['value'], $value, 'value');
            }
            T::eq(count($case['requests']), count($recorder->requests),
                'request count ' . T::show(array_column($recorder->requests, 'url')));
            foreach ($case['requests'] as $i => $expected) {
                vector_check_request($recorder->requests[$i], $expected, $i);
            }
        });
    }
})();
