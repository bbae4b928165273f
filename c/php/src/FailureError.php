<?php

declare(strict_types=1);

namespace Dtmx;

/** A branch or the server refused: the transaction rolls back. (code 4, kind `failure`) */
class FailureError extends DtmxError
{
    public const CODE = 4;
    public const KIND = 'failure';

    public function __construct(string $message = '', ?\Throwable $previous = null)
    {
        parent::__construct($message, self::CODE, $previous);
    }
}
