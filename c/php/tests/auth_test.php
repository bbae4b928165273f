<?php

// A server with authentication on (AUTH_SUBMIT_TOKENS): without a token, or with an
// unknown one, the server refuses (HTTP 401, ServerError); with `new Client($url, token:
// ...)` the saga succeeds; a malformed token is refused before any request.

declare(strict_types=1);

use Dtmx\Client;
use Dtmx\InvalidArgumentError;
use Dtmx\ServerError;

function auth_saga(Client $client): Dtmx\Saga
{
    [$busi] = Env::busi();
    return $client->saga(null, ['wait_result' => true])
        ->add("$busi/TransOut", "$busi/TransOutRevert", ['amount' => 30]);
}

T::test('auth: without a token the server refuses', static function (): void {
    $client = new Client(Env::dtmAuth());
    $e = T::throws(ServerError::class, static fn () => auth_saga($client)->submit());
    T::eq('server', $e->getKind());
    T::throws(ServerError::class, static fn () => $client->newGid());
});

T::test('auth: an unknown token is refused', static function (): void {
    $client = new Client(Env::dtmAuth(), token: 'not-a-known-token-0123456789');
    T::throws(ServerError::class, static fn () => auth_saga($client)->submit());
});

T::test('auth: with the token the saga succeeds', static function (): void {
    $client = new Client(Env::dtmAuth(), token: Env::AUTH_TOKEN);
    $saga = auth_saga($client);
    $saga->submit();
    T::eq('succeed', $client->waitFinal($saga->gid()));
    T::eq('succeed', $client->query($saga->gid())['transaction']['status']);
    T::ok(strlen($client->newGid()) > 0, 'a gid');
    T::eq(['TransOut action'], e2e_calls($saga->gid()));
});

T::test('auth: a custom transport sees the header', static function (): void {
    $seen = [];
    $client = new Client(Env::dtmAuth(), static function (string $method, string $url, array $headers) use (&$seen): array {
        $seen = $headers;
        return [200, '{"gid":"g-from-transport","dtm_result":"SUCCESS"}'];
    }, Env::AUTH_TOKEN);
    T::eq('g-from-transport', $client->newGid());
    T::ok(in_array(['Authorization', 'Bearer ' . Env::AUTH_TOKEN], $seen, true), 'Authorization header: ' . T::show($seen));
});

T::test('auth: malformed tokens are invalid', static function (): void {
    foreach (['', 'a b', "tok\n", "tok\r\nX-Evil: 1", "\ttok"] as $bad) {
        $e = T::throws(InvalidArgumentError::class, static fn () => new Client(Env::dtmAuth(), token: $bad), json_encode($bad));
        T::ok(str_contains($e->getMessage(), 'token'), $e->getMessage());
    }
    T::throws(InvalidArgumentError::class, static fn () => new Client(Env::dtmAuth(), static fn () => [200, ''], "a b"));
});
