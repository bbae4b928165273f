<?php

declare(strict_types=1);

namespace Dtmx;

/** An argument was refused (NULL, not UTF-8, malformed, out of range). (code 1, kind `invalid_argument`) */
class InvalidArgumentError extends DtmxError
{
    public const CODE = 1;
    public const KIND = 'invalid_argument';

    public function __construct(string $message = '', ?\Throwable $previous = null)
    {
        parent::__construct($message, self::CODE, $previous);
    }
}
