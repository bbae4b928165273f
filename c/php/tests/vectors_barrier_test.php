<?php

// Replays every tests/vectors/barrier*.json file against Dtmx\Barrier and its step
// machines (each case with steps once per dialect).

declare(strict_types=1);

use Dtmx\Barrier;
use Dtmx\BarrierCall;
use Dtmx\BarrierTable;
use Dtmx\DtmxError;
use Dtmx\InvalidArgumentError;

function barrier_of(array $b): Barrier
{
    return new Barrier($b['trans_type'], $b['gid'], $b['branch_id'], $b['op']);
}

function barrier_default_table(array $data, string $dialect): array
{
    foreach ($data['tables'] as $t) {
        if ($t['dialect'] === $dialect && $t['table'] === null) {
            return $t;
        }
    }
    throw new AssertionFailed("no default table for $dialect");
}

function barrier_dialects(array $data): array
{
    $d = array_values(array_unique(array_column($data['tables'], 'dialect')));
    sort($d);
    return $d;
}

function barrier_replay(BarrierCall $m, array $steps, array $table): ?string
{
    foreach ($steps as $i => $s) {
        $want = $s['run'] === 'insert_ignore' ? BarrierCall::EXECUTE : BarrierCall::QUERY;
        T::eq($want, $m->step(), "step $i kind");
        T::eq($table[$s['run']], $m->sql(), "step $i sql");
        T::eq($s['params'], $m->params(), "step $i params");
        if ($want === BarrierCall::EXECUTE) {
            $m->feedAffected($s['affected']);
        } else {
            $m->feedReason($s['reason']);
        }
    }
    T::eq(BarrierCall::DONE, $m->step(), 'done');
    T::eq(null, $m->sql(), 'no sql when done');
    return $m->result();
}

function barrier_fields(Barrier $b): array
{
    return ['trans_type' => $b->transType(), 'gid' => $b->gid(), 'branch_id' => $b->branchId(), 'op' => $b->op()];
}

(static function (): void {
    $files = glob(Env::repo() . '/tests/vectors/barrier*.json');
    sort($files);
    foreach ($files as $path) {
        $f = basename($path);
        $data = Env::vectors($f);
        $dialects = isset($data['tables']) ? barrier_dialects($data) : [];
        foreach ($data['dialects'] ?? [] as $case) {
            T::test("vectors $f: dialects {$case['name']}", static function () use ($case): void {
                foreach ([$case['name'], ...$case['aliases']] as $name) {
                    T::eq($case['name'], (new BarrierTable($name))->dialect(), $name);
                }
            });
        }
        foreach ($data['invalid_dialects'] ?? [] as $case) {
            T::test("vectors $f: invalid_dialects \"$case\"", static function () use ($case): void {
                T::throws(InvalidArgumentError::class, static fn () => new BarrierTable($case));
            });
        }
        foreach ($data['tables'] ?? [] as $i => $case) {
            T::test("vectors $f: tables $i ({$case['dialect']} {$case['name']})", static function () use ($case): void {
                $t = new BarrierTable($case['dialect'], $case['table']);
                T::eq($case['name'], $t->name(), 'name');
                T::eq($case['insert_ignore'], $t->insertIgnoreSql(), 'insert_ignore');
                T::eq($case['select_reason'], $t->selectReasonSql(), 'select_reason');
                T::eq($case['ddl'], $t->ddl(), 'ddl');
            });
        }
        foreach ($data['invalid_table_names'] ?? [] as $case) {
            T::test("vectors $f: invalid_table_names \"$case\"", static function () use ($case): void {
                foreach (['mysql', 'postgres', 'sqlite'] as $d) {
                    T::throws(InvalidArgumentError::class, static fn () => new BarrierTable($d, $case), $d);
                }
            });
        }
        foreach ($data['construction'] ?? [] as $case) {
            T::test("vectors $f: construction {$case['name']}", static function () use ($case): void {
                $builds = [];
                if (isset($case['fields'])) {
                    $builds['fields'] = static fn () => barrier_of($case['fields']);
                } elseif (isset($case['query'])) {
                    $builds['pairs'] = static fn () => Barrier::fromQueryPairs($case['query']);
                    $q = implode('&', array_map(static fn ($p) => rawurlencode($p[0]) . '=' . rawurlencode($p[1]), $case['query']));
                    $builds['query string'] = static fn () => Barrier::fromQuery($q);
                } else {
                    $builds['metadata'] = static fn () => Barrier::fromGrpcMetadata($case['grpc_metadata']);
                }
                foreach ($builds as $how => $build) {
                    if (isset($case['expect'])) {
                        $b = $build();
                        T::eq($case['expect'], array_intersect_key(barrier_fields($b), $case['expect']), $how);
                    } else {
                        $e = T::throws(DtmxError::classOf($case['error_kind']), $build, $how);
                        T::ok(str_starts_with($e->getMessage(), $case['error_prefix']),
                            "$how: message \"{$e->getMessage()}\" starts with \"{$case['error_prefix']}\"");
                    }
                }
            });
        }
        foreach ($data['calls'] ?? [] as $case) {
            T::test("vectors $f: calls {$case['name']}", static function () use ($case, $data, $dialects): void {
                foreach ($dialects as $dialect) {
                    $b = barrier_of($case['barrier']);
                    for ($i = 1; $i < ($case['call_index'] ?? 1); $i++) {
                        $b->nextBarrierId();
                    }
                    $m = $b->callMachine(new BarrierTable($dialect));
                    T::eq(sprintf('%02d', $case['call_index'] ?? 1), $m->barrierId(), "$dialect barrier id");
                    T::eq($case['decision'], barrier_replay($m, $case['steps'], barrier_default_table($data, $dialect)), "$dialect decision");
                    if (!empty($case['error_kind'])) {
                        $e = T::throws(DtmxError::classOf($case['error_kind']), static fn () => $m->check(), $dialect);
                        T::eq($case['error_kind'], $e->getKind());
                    } else {
                        $m->check();
                    }
                }
            });
        }
        foreach ($data['query_prepared'] ?? [] as $case) {
            T::test("vectors $f: query_prepared {$case['name']}", static function () use ($case, $data, $dialects): void {
                foreach ($dialects as $dialect) {
                    $m = barrier_of($case['barrier'])->queryPreparedMachine(new BarrierTable($dialect));
                    $table = barrier_default_table($data, $dialect);
                    if (isset($case['result'])) {
                        T::eq($case['result'], barrier_replay($m, $case['steps'], $table), $dialect);
                    } else {
                        T::throws(DtmxError::classOf($case['error_kind']), static fn () => barrier_replay($m, $case['steps'], $table), $dialect);
                    }
                }
            });
        }
        foreach ($data['xa'] ?? [] as $case) {
            T::test("vectors $f: xa {$case['name']}", static function () use ($case, $data, $dialects): void {
                foreach ($dialects as $dialect) {
                    $b = barrier_of($case['barrier']);
                    $t = new BarrierTable($dialect);
                    $table = barrier_default_table($data, $dialect);
                    if ($case['kind'] === 'action') {
                        T::eq($case['decision'], barrier_replay($b->xaActionMachine($t), $case['steps'], $table), $dialect);
                    } else {
                        [$sql, $params] = $b->xaRollbackFence($t);
                        T::eq($table[$case['statement']['run']], $sql, "$dialect sql");
                        T::eq($case['statement']['params'], $params, "$dialect params");
                    }
                }
            });
        }
        foreach ($data['redis_check_adjust_amount'] ?? [] as $case) {
            T::test("vectors $f: redis_check_adjust_amount {$case['name']}", static function () use ($case): void {
                $b = barrier_of($case['barrier']);
                for ($i = 1; $i < ($case['call_index'] ?? 1); $i++) {
                    $b->nextBarrierId();
                }
                $build = static fn () => $b->redisCheckAdjustAmountCall($case['key'], $case['amount'], $case['expire']);
                if (($case['keys'] ?? null) === null) {
                    T::throws(DtmxError::classOf($case['error_kind']), $build);
                    return;
                }
                $call = $build();
                T::eq($case['keys'], $call->keys(), 'keys');
                T::eq($case['args'], $call->args(), 'args');
                T::ok($call->script() !== '', 'script');
                if (isset($case['decision'])) {
                    T::eq($case['decision'], $call->decide($case['reply']));
                } else {
                    T::throws(DtmxError::classOf($case['error_kind']), static fn () => $call->decide($case['reply']));
                }
            });
        }
        foreach ($data['redis_query_prepared'] ?? [] as $case) {
            T::test("vectors $f: redis_query_prepared {$case['name']}", static function () use ($case): void {
                $b = barrier_of($case['barrier']);
                $build = static fn () => $b->redisQueryPreparedCall($case['expire']);
                if (($case['keys'] ?? null) === null) {
                    T::throws(DtmxError::classOf($case['error_kind']), $build);
                    return;
                }
                $q = $build();
                T::eq($case['keys'], $q->keys(), 'keys');
                T::eq($case['args'], $q->args(), 'args');
                if (isset($case['result'])) {
                    T::eq($case['result'], $q->decide($case['reply']));
                } else {
                    T::throws(DtmxError::classOf($case['error_kind']), static fn () => $q->decide($case['reply']));
                }
            });
        }
    }
})();
