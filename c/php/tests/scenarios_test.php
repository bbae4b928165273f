<?php

// Replays every scenario of tests/vectors/scenarios (see the README there) through the
// package's public API against judge.py, the scripted DTM server, branch service and
// judge: one test per scenario. The barrier scenarios run Barrier::call and
// Barrier::queryPrepared on a real SQLite database through PDO (a second PDO object on the
// same file reads what is committed).

declare(strict_types=1);

use Dtmx\Barrier;
use Dtmx\BarrierTable;
use Dtmx\Client;
use Dtmx\DtmxError;
use Dtmx\Tcc;
use Dtmx\Xa;

final class Scenarios
{
    /** @var ?resource judge.py */
    private static $judge = null;
    /** @var array<int, resource> its standard input (closing it stops the judge) and output */
    private static array $pipes = [];
    private static string $url = '';

    public static function dir(): string
    {
        return Env::repo() . '/tests/vectors/scenarios';
    }

    /** @return array<string, array> every scenario of every file, by name */
    public static function all(): array
    {
        $out = [];
        foreach (glob(self::dir() . '/*.json') as $file) {
            foreach (json_decode((string) file_get_contents($file), true, 512, JSON_THROW_ON_ERROR)['scenarios'] as $s) {
                $out[$s['name']] = $s;
            }
        }
        return $out;
    }

    /** POSTs `$body` to the judge (started on first use) and returns its JSON answer. */
    public static function post(string $route, array $body): array
    {
        if (self::$judge === null) {
            self::$judge = proc_open(['python3', self::dir() . '/judge.py'], [0 => ['pipe', 'r'], 1 => ['pipe', 'w'], 2 => STDERR], self::$pipes);
            if (self::$judge === false) {
                throw new RuntimeException('cannot start judge.py');
            }
            self::$url = json_decode((string) fgets(self::$pipes[1]), true, 512, JSON_THROW_ON_ERROR)['url'];
            register_shutdown_function(static function (): void {
                fclose(self::$pipes[0]);
                fclose(self::$pipes[1]);
                proc_close(self::$judge);
            });
        }
        $json = json_encode($body, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR);
        [$status, $answer] = Env::http('POST', self::$url . $route, $json, 30.0);
        T::eq(200, $status, "judge $route");
        return json_decode($answer, true, 512, JSON_THROW_ON_ERROR);
    }

    /** Runs scenario `$s` (URLs substituted) through the public API; its outcome value. */
    public static function run(array $s, array $urls): mixed
    {
        $client = new Client(($s['client']['server'] ?? '') === 'closed' ? $urls['closed'] : $urls['dtm']);
        $t = $s['transaction'];
        $options = $t['options'] ?? [];
        $out = null;
        switch ($t['type']) {
            case 'saga':
                $saga = $client->saga($t['gid'], $options);
                foreach ($s['steps'] as $step) {
                    match ($step['op']) {
                        'add' => $saga->add($step['action'], $step['compensate'], self::payload($step['payload'])),
                        'submit' => $saga->submit(),
                    };
                }
                break;
            case 'msg':
                $msg = $client->msg($t['gid'], $options);
                foreach ($s['steps'] as $step) {
                    match ($step['op']) {
                        'add' => $msg->add($step['action'], self::payload($step['payload'])),
                        'submit' => $msg->submit(),
                        'do_and_submit' => $out = $msg->doAndSubmit($step['query_prepared'], static fn (Barrier $b) => self::body($step['body'], null)),
                    };
                }
                break;
            case 'tcc':
                $out = $client->tcc($t['gid'], $options)->run(static fn (Tcc $tcc) => self::body($s['steps'][0]['body'], $tcc));
                break;
            case 'xa':
                $out = $client->xa($t['gid'], $options)->run(static fn (Xa $xa) => self::body($s['steps'][0]['body'], $xa));
                break;
            default:
                throw new AssertionFailed("unknown transaction type {$t['type']}");
        }
        return $out;
    }

    /** Runs barrier scenario `$s` on a new SQLite file; the outcome for the judge. */
    public static function runBarrier(array $s): array
    {
        T::eq('sqlite', $s['database']);
        $path = Env::tmp() . '/scenario-' . $s['name'] . '.db';
        $pdo = Env::sqlite($path);
        BarrierTable::forPdo($pdo)->create($pdo);
        $pdo->exec('create table ledger (gid text, value text)');
        $outcomes = [];
        foreach ($s['steps'] as $step) {
            try {
                $outcomes[] = ['result' => self::barrierStep($pdo, $step)];
            } catch (AssertionFailed $e) {
                throw $e;
            } catch (\Throwable $e) {
                $outcomes[] = ['error' => self::error($e)];
            }
        }
        $reader = Env::sqlite($path);
        $ledger = $reader->query("select gid || ' ' || value from ledger order by 1")->fetchAll(PDO::FETCH_COLUMN);
        $rows = $reader->query('select trans_type, gid, branch_id, op, barrier_id, reason from barrier order by 1, 2, 3, 4, 5, 6')->fetchAll(PDO::FETCH_NUM);
        return ['host' => 'php', 'outcomes' => $outcomes, 'ledger' => $ledger, 'barrier_rows' => $rows, 'in_transaction' => $pdo->inTransaction()];
    }

    /** One barrier scenario step on `$pdo`; its result. */
    private static function barrierStep(PDO $pdo, array $step): mixed
    {
        switch ($step['op']) {
            case 'begin':
                $pdo->beginTransaction();
                return null;
            case 'commit':
                $pdo->commit();
                return null;
            case 'rollback':
                $pdo->rollBack();
                return null;
            case 'check_back':
                Barrier::forMsg($step['gid'])->queryPrepared($pdo);
                return null;
            case 'barrier_call':
                $b = $step['barrier'];
                return (new Barrier($b['trans_type'], $b['gid'], $b['branch_id'], $b['op']))->call(
                    $pdo,
                    static function (PDO $db) use ($step, $b): mixed {
                        foreach ($step['body'] as $busi) {
                            if ($busi['op'] !== 'write') {
                                return self::body([$busi], null); // return or raise
                            }
                            $db->prepare('insert into ledger (gid, value) values (?, ?)')->execute([$b['gid'], $busi['value']]);
                        }
                        return null;
                    },
                );
            default:
                throw new AssertionFailed("unknown barrier step {$step['op']}");
        }
    }

    /** Runs body steps on the transaction the body was given. */
    private static function body(array $steps, Tcc|Xa|null $trans): mixed
    {
        foreach ($steps as $step) {
            switch ($step['op']) {
                case 'call_branch':
                    $trans instanceof Tcc
                        ? $trans->callBranch(self::payload($step['payload']), $step['try'], $step['confirm'], $step['cancel'])
                        : $trans->callBranch(self::payload($step['payload']), $step['url']);
                    break;
                case 'return':
                    return $step['value'];
                case 'raise':
                    if ($step['kind'] === 'host') {
                        throw new RuntimeException($step['message']);
                    }
                    $class = DtmxError::classOf($step['kind']) ?? throw new AssertionFailed("unknown kind {$step['kind']}");
                    throw new $class($step['message']);
                default:
                    throw new AssertionFailed("unknown body step {$step['op']}");
            }
        }
        return null;
    }

    /** A step's payload: `$unserializable` is a value json_encode refuses. */
    private static function payload(mixed $payload): mixed
    {
        return is_array($payload) && isset($payload['$unserializable']) ? NAN : $payload;
    }

    /** The error as the judge reads it. */
    public static function error(\Throwable $e): array
    {
        $dtmx = $e instanceof DtmxError;
        $class = get_class($e);
        return [
            'kind' => $dtmx ? $e->getKind() : 'host',
            'class' => substr($class, (int) strrpos('\\' . $class, '\\')),
            'message' => $e->getMessage(),
            'notes' => DtmxError::notesOf($e),
            'status' => $dtmx ? $e->getStatus() : null,
        ];
    }
}

T::test('scenarios: every file holds scenarios', static function (): void {
    T::ok(count(Scenarios::all()) >= 30, 'only ' . count(Scenarios::all()) . ' scenarios');
});

foreach (Scenarios::all() as $name => $scenario) {
    T::test("scenarios: $name", static function () use ($name, $scenario): void {
        $urls = Scenarios::post('/__scenario', ['name' => $name]);
        $text = json_encode($scenario, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR);
        foreach (['dtm', 'branch', 'closed'] as $key) {
            $text = str_replace('{' . $key . '}', $urls[$key], $text);
        }
        $s = json_decode($text, true, 512, JSON_THROW_ON_ERROR);
        if (isset($s['database'])) {
            $verdict = Scenarios::post('/__outcome', Scenarios::runBarrier($s));
            T::ok($verdict['ok'] === true, implode('; ', $verdict['problems']));
            return;
        }
        try {
            $outcome = ['host' => 'php', 'result' => Scenarios::run($s, $urls), 'error' => null];
        } catch (AssertionFailed $e) {
            throw $e;
        } catch (\Throwable $e) {
            $outcome = ['host' => 'php', 'result' => null, 'error' => Scenarios::error($e)];
        }
        $verdict = Scenarios::post('/__outcome', $outcome);
        T::ok($verdict['ok'] === true, implode('; ', $verdict['problems']));
    });
}
