<?php

declare(strict_types=1);

namespace Dtmx;

/** The work was already done (a duplicate request). (code 6, kind `duplicated`) */
class DuplicatedError extends DtmxError
{
    public const CODE = 6;
    public const KIND = 'duplicated';

    public function __construct(string $message = '', ?\Throwable $previous = null)
    {
        parent::__construct($message, self::CODE, $previous);
    }
}
