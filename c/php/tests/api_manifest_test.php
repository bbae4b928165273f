<?php

// The api manifest (tests/vectors/api.json) against the package, both ways: every class,
// member, module function (a static method of its php_home class) and error class the
// manifest asks of PHP exists under its PHP spelling (camelCase, or the entry's "php"),
// and every public class of namespace Dtmx and every public method, property and
// constant of the manifest's classes and homes is a manifest name or an extras.php entry
// (`Class.method`, `Class.$property`, `Class.CONST`, `Class` for a whole class; `*`
// globs). Magic methods (`__construct`, ...) do not count.

declare(strict_types=1);

final class ApiManifest
{
    public static function load(): array
    {
        return json_decode((string) file_get_contents(Env::repo() . '/tests/vectors/api.json'), true, 512, JSON_THROW_ON_ERROR);
    }

    public static function camel(string $snake): string
    {
        return lcfirst(str_replace(' ', '', ucwords(str_replace('_', ' ', $snake))));
    }

    /** The classes of namespace Dtmx: one per file of c/php/src. @return list<string> */
    public static function packageClasses(): array
    {
        $out = [];
        foreach (glob(Env::repo() . '/c/php/src/*.php') as $file) {
            $out[] = basename($file, '.php');
        }
        sort($out);
        return $out;
    }

    /** Everything that does not match, one line each (empty: the package matches). @return list<string> */
    public static function problems(array $manifest): array
    {
        $problems = [];
        $absent = static fn (array $entry): bool => isset($entry['absent']['php']);
        $globs = array_map(static fn ($e) => $e['name'], $manifest['extras']['php']);
        $extra = static function (string $name) use ($globs): bool {
            foreach ($globs as $g) {
                if (fnmatch($g, $name, FNM_NOESCAPE)) {
                    return true;
                }
            }
            return false;
        };
        // Names the manifest gives each class (classes and php homes), in PHP spelling.
        $named = [];
        $exists = static function (string $class, string $member, bool $static) use (&$problems): void {
            $fq = "Dtmx\\$class";
            if (method_exists($fq, $member)) {
                $m = new ReflectionMethod($fq, $member);
                if (!$m->isPublic()) {
                    $problems[] = "$class::$member is not public";
                } elseif ($m->isStatic() !== $static) {
                    $problems[] = "$class::$member should " . ($static ? '' : 'not ') . 'be static';
                }
            } elseif ($static || !property_exists($fq, $member) || !(new ReflectionProperty($fq, $member))->isPublic()) {
                $problems[] = "missing $class::$member" . ($static ? ' (static)' : '');
            }
        };
        foreach ($manifest['classes'] as $class) {
            $name = $class['name'];
            $named[$name] ??= [];
            if (!class_exists("Dtmx\\$name")) {
                $problems[] = "missing class Dtmx\\$name";
                continue;
            }
            foreach ($class['members'] as $m) {
                $php = $m['php'] ?? self::camel($m['name']);
                $named[$name][] = $php;
                if (!$absent($m)) {
                    $exists($name, $php, (bool) ($m['static'] ?? false));
                }
            }
        }
        foreach ($manifest['functions'] as $f) {
            $home = $f['php_home'];
            $php = $f['php'] ?? self::camel($f['name']);
            $named[$home][] = $php;
            if ($absent($f)) {
                continue;
            }
            if (!class_exists("Dtmx\\$home")) {
                $problems[] = "missing class Dtmx\\$home (home of function {$f['name']})";
                continue;
            }
            $exists($home, $php, true);
        }
        // Errors: the base, one class per kind, the attributes as getters.
        $errors = $manifest['errors'];
        $base = 'Dtmx\\' . $errors['base'];
        $errorClasses = [$errors['base']];
        if (!class_exists($base)) {
            $problems[] = "missing error base $base";
        }
        foreach ($errors['kinds'] as $kind) {
            $class = str_replace(' ', '', ucwords(str_replace('_', ' ', $kind))) . 'Error';
            $errorClasses[] = $class;
            $fq = "Dtmx\\$class";
            if (!class_exists($fq) || !is_subclass_of($fq, $base)) {
                $problems[] = "missing error class $fq (a subclass of $base) for kind $kind";
            } elseif ((new $fq('x'))->getKind() !== $kind) {
                $problems[] = "$fq's kind is " . (new $fq('x'))->getKind() . ", not $kind";
            }
        }
        foreach ($errors['attributes'] as $attribute) {
            $getter = 'get' . ucfirst(self::camel($attribute));
            $named[$errors['base']][] = $getter;
            if (!method_exists($base, $getter)) {
                $problems[] = "missing $base::$getter (error attribute $attribute)";
            }
        }
        // Reverse: the package's classes, and the public members of the manifest's.
        foreach (self::packageClasses() as $class) {
            if (!isset($named[$class]) && !in_array($class, $errorClasses, true) && !$extra($class)) {
                $problems[] = "class Dtmx\\$class is neither in the manifest nor in extras.php";
            }
        }
        foreach ($named as $class => $names) {
            $fq = "Dtmx\\$class";
            if (!class_exists($fq)) {
                continue;
            }
            $r = new ReflectionClass($fq);
            foreach ($r->getMethods(ReflectionMethod::IS_PUBLIC) as $m) {
                if ($m->getDeclaringClass()->getName() === $fq && !str_starts_with($m->getName(), '__')
                    && !in_array($m->getName(), $names, true) && !$extra("$class.{$m->getName()}")) {
                    $problems[] = "$class::{$m->getName()}() is neither in the manifest nor in extras.php";
                }
            }
            foreach ($r->getProperties(ReflectionProperty::IS_PUBLIC) as $p) {
                if ($p->getDeclaringClass()->getName() === $fq && !in_array($p->getName(), $names, true)
                    && !$extra("$class.\${$p->getName()}")) {
                    $problems[] = "$class::\${$p->getName()} is neither in the manifest nor in extras.php";
                }
            }
            foreach ($r->getReflectionConstants(ReflectionClassConstant::IS_PUBLIC) as $c) {
                if ($c->getDeclaringClass()->getName() === $fq && !$extra("$class.{$c->getName()}")) {
                    $problems[] = "$class::{$c->getName()} is neither in the manifest nor in extras.php";
                }
            }
        }
        return $problems;
    }
}

T::test('api manifest: the package has every name of tests/vectors/api.json, and only those or extras', static function (): void {
    T::eq([], ApiManifest::problems(ApiManifest::load()));
});

T::test('api manifest: a renamed or unlisted name fails, named', static function (): void {
    $manifest = ApiManifest::load();
    foreach ($manifest['classes'] as &$class) {
        if ($class['name'] === 'Client') {
            foreach ($class['members'] as &$m) {
                if ($m['name'] === 'new_gid') {
                    $m['name'] = 'fresh_gid';
                }
            }
        }
    }
    unset($class, $m);
    $problems = ApiManifest::problems($manifest);
    T::ok(in_array('missing Client::freshGid', $problems, true), 'the renamed member is missing: ' . T::show($problems));
    T::ok(in_array('Client::newGid() is neither in the manifest nor in extras.php', $problems, true), 'the old name is unlisted');
    $manifest = ApiManifest::load();
    $manifest['extras']['php'] = [];
    T::ok(in_array('class Dtmx\\Web is neither in the manifest nor in extras.php', ApiManifest::problems($manifest), true), 'an extra class needs its entry');
});
