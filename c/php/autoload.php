<?php

// The package's autoloader for use without Composer: `require 'c/php/autoload.php';`
// (Composer users get the same PSR-4 mapping from composer.json).

declare(strict_types=1);

spl_autoload_register(static function (string $class): void {
    if (str_starts_with($class, 'Dtmx\\')) {
        $file = __DIR__ . '/src/' . str_replace('\\', '/', substr($class, 5)) . '.php';
        if (is_file($file)) {
            require $file;
        }
    }
});
