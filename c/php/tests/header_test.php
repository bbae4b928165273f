<?php

// The package's numbers against libdtmx's header (c/include/dtmx.h): the error codes and
// their classes, the outcomes, the step kinds, the guard's actions and decisions, the XA
// call's steps and phases, and every libdtmx function the package calls. None of them is kept by hand unchecked.

declare(strict_types=1);

use Dtmx\BarrierCall;
use Dtmx\DtmxError;
use Dtmx\Guard;
use Dtmx\Native;
use Dtmx\XaLocal;

final class Header
{
    private static ?string $text = null;

    public static function text(): string
    {
        return self::$text ??= (string) file_get_contents(Env::repo() . '/c/include/dtmx.h');
    }

    /** @return array<string, int> the members of C enum `$name` */
    public static function enum(string $name): array
    {
        T::ok(preg_match('/enum ' . $name . ' \{(.*?)\}/s', self::text(), $m) === 1, "enum $name in dtmx.h");
        preg_match_all('/^\s*(\w+) = (\d+),?$/m', $m[1], $rows, PREG_SET_ORDER);
        $out = [];
        foreach ($rows as [, $member, $value]) {
            $out[$member] = (int) $value;
        }
        return $out;
    }
}

T::test('header: the error codes and classes are dtmx.h\'s DtmxCode', static function (): void {
    $codes = Header::enum('DtmxCode');
    T::eq(0, $codes['DTMX_OK']);
    unset($codes['DTMX_OK']);
    T::eq(count($codes), count(DtmxError::KINDS), 'one class per code');
    foreach ($codes as $member => $code) {
        $kind = strtolower(substr($member, 5));
        T::eq($kind, DtmxError::KINDS[$code][0] ?? null, "kind of $member");
        $class = 'Dtmx\\' . Native::ffi()->dtmx_code_class($code);
        T::eq($class, 'Dtmx\\' . DtmxError::KINDS[$code][1], "class of $member");
        T::eq($code, constant("$class::CODE"), "$class::CODE");
        T::eq($kind, constant("$class::KIND"), "$class::KIND");
    }
});

T::test('header: outcomes and step kinds are dtmx.h\'s', static function (): void {
    $outcomes = [];
    foreach (Header::enum('DtmxOutcome') as $member => $value) {
        $outcomes[strtolower(substr($member, strlen('DTMX_OUTCOME_')))] = $value;
    }
    T::eq($outcomes, Native::OUTCOMES);
    $names = ['DTMX_STEP_EXECUTE' => BarrierCall::EXECUTE, 'DTMX_STEP_QUERY_REASON' => BarrierCall::QUERY, 'DTMX_STEP_DONE' => BarrierCall::DONE];
    $steps = [];
    foreach (Header::enum('DtmxStepKind') as $member => $value) {
        $steps[$value] = $names[$member] ?? "unknown $member";
    }
    ksort($steps);
    T::eq($steps, BarrierCall::STEP_KINDS);
});

T::test('header: the guard\'s actions and decisions are dtmx.h\'s', static function (): void {
    $actions = [];
    foreach (Header::enum('DtmxGuardAction') as $member => $value) {
        $actions[$value] = strtolower(substr($member, strlen('DTMX_GUARD_')));
    }
    ksort($actions);
    T::eq($actions, Guard::ACTIONS);
    $decisions = [];
    foreach (Header::enum('DtmxDecision') as $member => $value) {
        $decisions[$value] = $member === 'DTMX_DECISION_NONE' ? null : strtolower(substr($member, strlen('DTMX_DECISION_')));
    }
    ksort($decisions);
    T::eq($decisions, Guard::DECISIONS);
});

T::test('header: the XA call\'s steps and phases are dtmx.h\'s', static function (): void {
    $steps = [];
    foreach (Header::enum('DtmxXaStep') as $member => $value) {
        $steps[$value] = strtolower(substr($member, strlen('DTMX_XA_')));
    }
    ksort($steps);
    T::eq($steps, XaLocal::STEPS);
    $phases = [];
    foreach (Header::enum('DtmxXaPhase') as $member => $value) {
        $phases[$value] = strtolower(substr($member, strlen('DTMX_XA_PHASE_')));
    }
    ksort($phases);
    T::eq($phases, XaLocal::PHASES);
});

T::test('header: every libdtmx function the package calls is declared', static function (): void {
    preg_match_all('/\b(dtmx_\w+)\(/', Header::text(), $m);
    $declared = array_flip($m[1]);
    $ffi = (string) file_get_contents(Env::repo() . '/c/include/dtmx_ffi.h');
    $called = [];
    foreach (glob(dirname(__DIR__) . '/src/*.php') as $file) {
        preg_match_all('/->(dtmx_\w+)\(/', (string) file_get_contents($file), $calls);
        $called = [...$called, ...$calls[1]];
    }
    $called = array_unique($called);
    T::ok(count($called) > 50, 'found the calls: ' . count($called));
    foreach ($called as $name) {
        T::ok(isset($declared[$name]), "$name is in dtmx.h");
        T::ok(preg_match('/\b' . $name . '\(/', $ffi) === 1, "$name is in dtmx_ffi.h (the FFI::cdef header)");
    }
});
