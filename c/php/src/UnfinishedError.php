<?php

declare(strict_types=1);

namespace Dtmx;

/**
 * A transaction submitted with `wait_result` has not finished: dtm is still retrying it
 * and goes on with it; getStatus() says where it is (`submitted`, `aborting`,
 * `prepared`). (code 10, kind `unfinished`)
 */
class UnfinishedError extends DtmxError
{
    public const CODE = 10;
    public const KIND = 'unfinished';

    public function __construct(string $message = '', ?\Throwable $previous = null)
    {
        parent::__construct($message, self::CODE, $previous);
    }
}
