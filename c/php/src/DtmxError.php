<?php

declare(strict_types=1);

namespace Dtmx;

/**
 * The base of every dtmx error. `getCode()` is the stable numeric code of the C API
 * (`DTMX_FAILURE` = 4, ...) and `getKind()` its stable name (`failure`, ...), the same in
 * every dtmx binding. Each kind has its own subclass, named as `dtmx_code_class` names it
 * (`FailureError`, `OngoingError`, ...); throw those from business code.
 *
 * `getNotes()` lists what else failed on the way without replacing the error (`abort
 * failed: ...` after a run whose body threw); `getStatus()` is the status of the
 * transaction the error is about (`failed` for a FailureError after a `wait_result`
 * submit; `submitted`, `aborting` or `prepared` for an UnfinishedError). The notes of an
 * exception that is not a DtmxError (your own, thrown by a run's body and rethrown by
 * run()) are read with `DtmxError::notesOf($e)`.
 */
class DtmxError extends \RuntimeException
{
    /** Code → [kind, class] of every kind, as libdtmx names them (checked against dtmx.h by the tests). */
    public const KINDS = [
        1 => ['invalid_argument', 'InvalidArgumentError'],
        2 => ['transport', 'TransportError'],
        3 => ['server', 'ServerError'],
        4 => ['failure', 'FailureError'],
        5 => ['ongoing', 'OngoingError'],
        6 => ['duplicated', 'DuplicatedError'],
        7 => ['timeout', 'TimeoutError'],
        8 => ['database', 'DatabaseError'],
        9 => ['internal', 'InternalError'],
        10 => ['unfinished', 'UnfinishedError'],
    ];

    /** @var list<string> */
    private array $notes = [];
    private ?string $status = null;
    /** @var ?\WeakMap<\Throwable, list<string>> the notes of exceptions that are not DtmxErrors */
    private static ?\WeakMap $foreignNotes = null;

    public function __construct(string $message = '', int $code = 9, ?\Throwable $previous = null)
    {
        parent::__construct($message, $code, $previous);
    }

    /** The stable name of the error's kind (`failure`, `ongoing`, ...). */
    public function getKind(): string
    {
        return self::KINDS[$this->getCode()][0] ?? 'internal';
    }

    /** @return list<string> what else failed on the way, oldest first */
    public function getNotes(): array
    {
        return $this->notes;
    }

    /** The status of the transaction the error is about, null when none. */
    public function getStatus(): ?string
    {
        return $this->status;
    }

    /**
     * The notes of any exception: a DtmxError's own, or those run() and doAndSubmit()
     * attached to the exception your body threw.
     *
     * @return list<string>
     */
    public static function notesOf(\Throwable $e): array
    {
        if ($e instanceof self) {
            return $e->notes;
        }
        return self::$foreignNotes[$e] ?? [];
    }

    /** @internal Adds `$notes` to `$e` (kept beside it when it is not a DtmxError). */
    public static function addNotes(\Throwable $e, array $notes): void
    {
        if ($notes === []) {
            return;
        }
        if ($e instanceof self) {
            array_push($e->notes, ...$notes);
            return;
        }
        self::$foreignNotes ??= new \WeakMap();
        self::$foreignNotes[$e] = [...(self::$foreignNotes[$e] ?? []), ...$notes];
    }

    /**
     * The error of `code` with `message` (and the notes and status libdtmx gave it), as
     * the subclass of its kind.
     *
     * @param list<string> $notes
     */
    public static function of(int $code, string $message, array $notes = [], ?string $status = null): self
    {
        $class = __NAMESPACE__ . '\\' . (self::KINDS[$code][1] ?? '');
        $e = isset(self::KINDS[$code]) && class_exists($class) ? new $class($message) : new self($message, $code);
        $e->notes = $notes;
        $e->status = $status;
        return $e;
    }

    /** The class of the errors of `kind` (`failure` → FailureError::class); null if unknown. */
    public static function classOf(string $kind): ?string
    {
        foreach (self::KINDS as [$k, $class]) {
            if ($k === $kind) {
                return __NAMESPACE__ . '\\' . $class;
            }
        }
        return null;
    }
}
