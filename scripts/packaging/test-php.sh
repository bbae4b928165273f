# PHP: a temporary composer project that requires dtmx/dtmx from the package archive in
# dist/ (an `artifact` repository, packagist off), `composer install` with no toolchain on
# PATH, then a saga that succeeds and one that is compensated, through vendor/autoload.php
# and the package's own libdtmx (no DTMX_LIB), against the packaged server; the branches
# are served by PHP's built-in server.
# Sourced by scripts/test-packages (see the variables it sets there).
php_zip="$dist/dtmx-php-$version-$platform.zip"
[ -f "$php_zip" ] || { echo "test-packages: no $php_zip" >&2; exit 1; }
# PHP with FFI, composer, and the zip extension composer's artifact repository reads
# archives with (Debian: php-cli, composer, php-zip).
if ! command -v composer >/dev/null || ! php -m 2>/dev/null | grep -qx FFI ||
  ! php -m 2>/dev/null | grep -qx zip; then
  php_sudo=""
  [ "$(id -u)" = 0 ] || php_sudo=sudo
  $php_sudo apt-get update -qq
  $php_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq php-cli composer php-zip >/dev/null
fi
# The artifact repository: a directory of package archives, as a user downloads them.
mkdir -p "$work/php-artifacts" "$work/php-app"
cp "$php_zip" "$work/php-artifacts/"
cat >"$work/php-app/composer.json" <<JSON
{
    "name": "example/dtmx-saga",
    "repositories": [
        {"type": "artifact", "url": "$work/php-artifacts"},
        {"packagist.org": false}
    ],
    "require": {"dtmx/dtmx": "$version"}
}
JSON
(cd "$work/php-app" && COMPOSER_HOME="$work/composer-home" PATH=$bare_path \
  composer install --no-interaction --no-progress --quiet)
# The business service: SUCCESS for every branch, FAILURE (409) for TransIn when the
# payload says "fail"; each call appended to calls.log.
cat >"$work/php-app/busi.php" <<'PHP'
<?php
$step = basename(parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH));
$body = json_decode((string) file_get_contents('php://input'), true) ?: [];
file_put_contents(__DIR__ . '/calls.log', "$step\n", FILE_APPEND | LOCK_EX);
$fail = $step === 'TransIn' && !empty($body['fail']);
http_response_code($fail ? 409 : 200);
header('Content-Type: application/json');
echo json_encode(['dtm_result' => $fail ? 'FAILURE' : 'SUCCESS']);
PHP
cat >"$work/php-app/saga.php" <<'PHP'
<?php
// A saga that succeeds and one that is compensated, against the server in $argv[1], with
// the branches at $argv[2].
require __DIR__ . '/vendor/autoload.php';

[, $server, $busi] = $argv;
$lib = Dtmx\Native::bundledLibrary();
if ($lib === null || !str_starts_with($lib, __DIR__ . '/vendor/dtmx/dtmx/lib/')) {
    fwrite(STDERR, "libdtmx is not the package's: " . var_export($lib, true) . "\n");
    exit(1);
}
$dtm = new Dtmx\Client($server);
$run = static function (array $payload) use ($dtm, $busi): array {
    @unlink(__DIR__ . '/calls.log');
    $saga = $dtm->saga();
    $saga->add("$busi/TransOut", "$busi/TransOutRevert", $payload)
        ->add("$busi/TransIn", "$busi/TransInRevert", $payload)
        ->submit();
    $status = $dtm->waitFinal($saga->gid(), 20000);
    $calls = file(__DIR__ . '/calls.log', FILE_IGNORE_NEW_LINES) ?: [];
    return [$saga->gid(), $status, $calls];
};
[$gid, $status, $calls] = $run(['amount' => 30]);
if ($status !== 'succeed' || $calls !== ['TransOut', 'TransIn']) {
    fwrite(STDERR, "saga $gid: $status, calls " . implode(', ', $calls) . "\n");
    exit(1);
}
echo "saga $gid: $status (", implode(', ', $calls), ")\n";
[$gid, $status, $calls] = $run(['amount' => 30, 'fail' => true]);
if ($status !== 'failed' || array_diff(['TransOut', 'TransIn', 'TransOutRevert'], $calls) !== []) {
    fwrite(STDERR, "saga $gid: $status, calls " . implode(', ', $calls) . "\n");
    exit(1);
}
echo "saga $gid: $status, compensated (", implode(', ', $calls), ")\n";
echo 'dtmx/dtmx, libdtmx ', Dtmx\Native::version(), " from $lib\n";
PHP
busi_port=$(free_port)
(cd "$work/php-app" && PATH=$bare_path exec php -S "127.0.0.1:$busi_port" busi.php \
  >"$work/php-busi.log" 2>&1) &
php_busi=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$busi_port") 2>/dev/null && break; sleep 0.1; done
php_ok=0
(cd "$work/php-app" && env -u DTMX_LIB -u DTMX_HEADER PATH=$bare_path \
  php saga.php "$dtm_url" "http://127.0.0.1:$busi_port/api/busi") || php_ok=$?
kill "$php_busi" 2>/dev/null || true
wait "$php_busi" 2>/dev/null || true
[ $php_ok = 0 ] || { cat "$work/php-busi.log" >&2; exit 1; }
if readelf -S "$work/php-app/vendor/dtmx/dtmx/lib/$platform/libdtmx.so" | grep -q '\.debug_info'; then
  echo "test-packages: libdtmx.so in the PHP package is not stripped" >&2
  exit 1
fi
echo "php composer package (dtmx/dtmx, $platform) installed without a toolchain: 1 passed, 0 failed"
