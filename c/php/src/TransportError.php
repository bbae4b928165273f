<?php

declare(strict_types=1);

namespace Dtmx;

/** The request could not be sent or its reply not read. (code 2, kind `transport`) */
class TransportError extends DtmxError
{
    public const CODE = 2;
    public const KIND = 'transport';

    public function __construct(string $message = '', ?\Throwable $previous = null)
    {
        parent::__construct($message, self::CODE, $previous);
    }
}
