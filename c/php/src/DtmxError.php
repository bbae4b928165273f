<?php

declare(strict_types=1);

namespace Dtmx;

/**
 * The base of every dtmx error. `getCode()` is the stable numeric code of the C API
 * (`DTMX_FAILURE` = 4, ...) and `getKind()` its stable name (`failure`, ...), the same in
 * every dtmx binding. Each kind has its own subclass, named as `dtmx_code_class` names it
 * (`FailureError`, `OngoingError`, ...); throw those from business code.
 */
class DtmxError extends \RuntimeException
{
    /** Code → [kind, class] of every kind, as libdtmx names them. */
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
    ];

    public function __construct(string $message = '', int $code = 9, ?\Throwable $previous = null)
    {
        parent::__construct($message, $code, $previous);
    }

    /** The stable name of the error's kind (`failure`, `ongoing`, ...). */
    public function getKind(): string
    {
        return self::KINDS[$this->getCode()][0] ?? 'internal';
    }

    /** The error of `code` with `message`, as the subclass of its kind. */
    public static function of(int $code, string $message): self
    {
        $class = __NAMESPACE__ . '\\' . (self::KINDS[$code][1] ?? '');
        if (isset(self::KINDS[$code]) && class_exists($class)) {
            return new $class($message);
        }
        return new self($message, $code);
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
