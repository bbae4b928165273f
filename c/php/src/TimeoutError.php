<?php

declare(strict_types=1);

namespace Dtmx;

/** A deadline passed. (code 7, kind `timeout`) */
class TimeoutError extends DtmxError
{
    public const CODE = 7;
    public const KIND = 'timeout';

    public function __construct(string $message = '', ?\Throwable $previous = null)
    {
        parent::__construct($message, self::CODE, $previous);
    }
}
