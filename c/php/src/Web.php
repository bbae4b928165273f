<?php

declare(strict_types=1);

namespace Dtmx;

/**
 * Branch handlers for PHP's web SAPIs (php-fpm, PHP's built-in server, mod_php):
 *
 *     Web::handle(function (mixed $body, Dtmx\Branch $branch) {
 *         // the business code; throw FailureError to refuse (dtm rolls back),
 *         // OngoingError to be retried later
 *     });
 *
 * reads the branch from the query string and the JSON body from php://input, runs the
 * handler and answers dtm with the reply of its outcome (`http_response_code` + echo).
 */
final class Web
{
    private function __construct()
    {
    }

    /**
     * Runs `$handler($body, $branch)` for a request with `$query` and `$rawBody`, and
     * returns the reply: null from the handler is DTM's SUCCESS reply, any other value
     * is sent as JSON with status 200; an exception is the reply of its outcome
     * (Reply::reply).
     *
     * @return array{0: int, 1: string}
     */
    public static function run(callable $handler, string $query, string $rawBody): array
    {
        try {
            $branch = Branch::fromQuery($query);
            $body = null;
            if (trim($rawBody) !== '') {
                try {
                    $body = json_decode($rawBody, true, 512, JSON_THROW_ON_ERROR);
                } catch (\JsonException) {
                    $body = $rawBody;
                }
            }
            $result = $handler($body, $branch);
            return $result === null ? Reply::success() : [200, Native::json($result)];
        } catch (\Throwable $e) {
            return Reply::reply($e);
        }
    }

    /** Runs `$handler` for the current request and sends its reply. */
    public static function handle(callable $handler): void
    {
        self::send(self::run($handler, (string) ($_SERVER['QUERY_STRING'] ?? ''), (string) file_get_contents('php://input')));
    }

    /** Sends a reply `[status, body]` as the response of the current request. */
    public static function send(array $reply): void
    {
        [$status, $body] = $reply;
        if (!headers_sent()) {
            http_response_code($status);
            header('Content-Type: application/json');
        }
        echo $body;
    }
}
