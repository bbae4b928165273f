<?php

declare(strict_types=1);

namespace Dtmx;

/** The host's database reported an error. (code 8, kind `database`) */
class DatabaseError extends DtmxError
{
    public const CODE = 8;
    public const KIND = 'database';

    public function __construct(string $message = '', ?\Throwable $previous = null)
    {
        parent::__construct($message, self::CODE, $previous);
    }
}
