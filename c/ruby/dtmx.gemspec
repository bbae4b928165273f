# frozen_string_literal: true

require_relative 'lib/dtmx/version'

Gem::Specification.new do |s|
  s.name = 'dtmx'
  s.version = Dtmx::VERSION
  s.summary = 'dtmx client, branch helpers and sub-transaction barrier (DTM-compatible) over libdtmx'
  s.description = <<~TEXT
    Sagas, two-phase messages, TCC and XA transactions for a DTM (or dtmx) server, DTM's
    sub-transaction barrier and the branch reply helpers, from Ruby. A thin wrapper over
    libdtmx's C API (the shared Rust core of every dtmx binding) with the ffi gem. The
    x86_64-linux gem carries libdtmx; elsewhere set DTMX_LIB to the library's path when it
    is not on the loader's path.
  TEXT
  s.authors = ['dtmx contributors']
  s.license = 'Apache-2.0'
  s.required_ruby_version = '>= 2.7'
  s.files = Dir['lib/**/*.rb'] + ['dtmx.gemspec']
  # The platform gem (scripts/packaging/ruby.sh): DTMX_GEM_PLATFORM=x86_64-linux gem build
  # with libdtmx in lib/dtmx/native/x86_64-linux/, found there without DTMX_LIB.
  if (platform = ENV['DTMX_GEM_PLATFORM'])
    s.platform = platform
    s.files += Dir["lib/dtmx/native/#{platform}/*"]
  end
  s.require_paths = ['lib']
  s.add_dependency 'ffi', '>= 1.12'
  s.add_development_dependency 'minitest', '>= 5'
end
