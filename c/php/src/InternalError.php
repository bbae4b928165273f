<?php

declare(strict_types=1);

namespace Dtmx;

/** A bug in dtmx (a caught panic, say). (code 9, kind `internal`) */
class InternalError extends DtmxError
{
    public const CODE = 9;
    public const KIND = 'internal';

    public function __construct(string $message = '', ?\Throwable $previous = null)
    {
        parent::__construct($message, self::CODE, $previous);
    }
}
