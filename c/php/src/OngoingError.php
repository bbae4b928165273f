<?php

declare(strict_types=1);

namespace Dtmx;

/** Not done yet: retried later. (code 5, kind `ongoing`) */
class OngoingError extends DtmxError
{
    public const CODE = 5;
    public const KIND = 'ongoing';

    public function __construct(string $message = '', ?\Throwable $previous = null)
    {
        parent::__construct($message, self::CODE, $previous);
    }
}
