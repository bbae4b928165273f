# frozen_string_literal: true

# The api manifest (tests/vectors/api.json) against the gem, both ways: every class,
# member (class methods for "static" ones, public instance methods otherwise), module
# function (on Dtmx, or the constant of its "ruby" spelling) and error class the manifest
# asks of Ruby exists under its Ruby spelling, and every constant and module function of
# Dtmx and every public method of the manifest's classes is a manifest name or an
# extras.ruby entry (`Class.method` for class and instance methods, `Name` for a constant
# or module function of Dtmx; `*` globs). Struct's and Object's own methods (and
# Ruby's protocol a Struct redefines: `inspect`, `==`, ...) and the constructors (`new`,
# Struct's `[]`, `members`, `keyword_init?`) do not count.
require_relative 'test_helper'

module ApiManifest
  CONSTRUCTORS = %i[new [] members keyword_init?].freeze
  # Ruby's own protocol, which a Struct redefines.
  PROTOCOL = %i[inspect to_s == eql? hash].freeze

  module_function

  def load
    JSON.parse(File.read(File.join(TestKit::VECTORS, 'api.json')))
  end

  def pascal(snake)
    snake.split('_').map(&:capitalize).join
  end

  def absent?(entry)
    entry.fetch('absent', {}).key?('ruby')
  end

  # The public instance and class methods `klass` itself adds.
  def instance_names(klass)
    klass.public_instance_methods - klass.superclass.public_instance_methods - PROTOCOL
  end

  def class_names(klass)
    klass.singleton_methods - klass.superclass.singleton_methods - CONSTRUCTORS - PROTOCOL
  end

  # Everything that does not match, one line each (empty: the gem matches).
  def problems(manifest)
    problems = []
    globs = manifest['extras']['ruby'].map { |e| e['name'] }
    extra = ->(name) { globs.any? { |g| File.fnmatch?(g, name, File::FNM_NOESCAPE) } }
    named = Hash.new { |h, k| h[k] = [] }
    manifest['classes'].each do |c|
      name = c['name']
      klass = Dtmx.const_defined?(name, false) ? Dtmx.const_get(name, false) : nil
      problems << "missing class Dtmx::#{name}" unless klass.is_a?(Class)
      c['members'].each do |m|
        ruby = m.fetch('ruby', m['name'])
        named[name] << ruby
        next if absent?(m) || !klass.is_a?(Class)

        if m['static']
          problems << "missing Dtmx::#{name}.#{ruby} (class method)" unless klass.respond_to?(ruby)
        elsif !klass.public_method_defined?(ruby)
          problems << "missing Dtmx::#{name}##{ruby}"
        end
      end
    end
    functions = []
    manifest['functions'].each do |f|
      ruby = f.fetch('ruby', f['name'])
      functions << ruby
      next if absent?(f)

      found = ruby.match?(/\A[A-Z]/) ? Dtmx.const_defined?(ruby, false) : Dtmx.respond_to?(ruby)
      problems << "missing Dtmx.#{ruby} (function #{f['name']})" unless found
    end
    errors = manifest['errors']
    error_names = [errors['base']] + errors['kinds'].map { |k| "#{pascal(k)}Error" }
    base = Dtmx.const_defined?(errors['base'], false) ? Dtmx.const_get(errors['base'], false) : nil
    problems << "missing error base Dtmx::#{errors['base']}" unless base.is_a?(Class)
    errors['kinds'].each do |kind|
      name = "#{pascal(kind)}Error"
      klass = Dtmx.const_defined?(name, false) ? Dtmx.const_get(name, false) : nil
      if !klass.is_a?(Class) || !base.is_a?(Class) || !(klass < base)
        problems << "missing error class Dtmx::#{name} (a subclass of #{errors['base']}) for kind #{kind}"
      elsif klass.new('x').kind != kind
        problems << "Dtmx::#{name}'s kind is #{klass.new('x').kind}, not #{kind}"
      end
    end
    errors['attributes'].each do |attribute|
      problems << "missing Dtmx::#{errors['base']}##{attribute} (error attribute)" unless base&.public_method_defined?(attribute)
    end
    # Reverse: the constants and module functions of Dtmx, the members of the classes.
    Dtmx.constants.map(&:to_s).sort.each do |name|
      next if named.key?(name) || error_names.include?(name) || functions.include?(name) || extra.call(name)

      problems << "Dtmx::#{name} is neither in the manifest nor in extras.ruby"
    end
    Dtmx.singleton_methods.map(&:to_s).sort.each do |name|
      next if functions.include?(name) || extra.call(name)

      problems << "Dtmx.#{name} is neither in the manifest nor in extras.ruby"
    end
    named.each do |name, members|
      klass = Dtmx.const_defined?(name, false) ? Dtmx.const_get(name, false) : nil
      next unless klass.is_a?(Class)

      (instance_names(klass) + class_names(klass)).map(&:to_s).uniq.sort.each do |m|
        next if members.include?(m) || extra.call("#{name}.#{m}")

        problems << "Dtmx::#{name}.#{m} is neither in the manifest nor in extras.ruby"
      end
    end
    problems
  end
end

class ApiManifestTest < Minitest::Test
  def test_the_gem_has_the_manifest_names_and_only_those_or_extras
    assert_equal [], ApiManifest.problems(ApiManifest.load)
  end

  def test_a_renamed_or_unlisted_name_fails_named
    manifest = ApiManifest.load
    client = manifest['classes'].find { |c| c['name'] == 'Client' }
    client['members'].find { |m| m['name'] == 'new_gid' }['name'] = 'fresh_gid'
    problems = ApiManifest.problems(manifest)
    assert_includes problems, 'missing Dtmx::Client#fresh_gid'
    assert_includes problems, 'Dtmx::Client.new_gid is neither in the manifest nor in extras.ruby'
    manifest = ApiManifest.load
    manifest['extras']['ruby'] = []
    assert_includes ApiManifest.problems(manifest), 'Dtmx::Native is neither in the manifest nor in extras.ruby'
  end
end
