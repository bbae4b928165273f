<?php

declare(strict_types=1);

namespace Dtmx;

/** The DTM server answered with an error. (code 3, kind `server`) */
class ServerError extends DtmxError
{
    public const CODE = 3;
    public const KIND = 'server';

    public function __construct(string $message = '', ?\Throwable $previous = null)
    {
        parent::__construct($message, self::CODE, $previous);
    }
}
