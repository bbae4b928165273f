# frozen_string_literal: true

require_relative 'test_helper'
require 'open3'
require 'rbconfig'

# Loading the gem where libdtmx cannot be found.
class LoadTest < Minitest::Test
  def test_a_missing_library_says_how_to_fix_it
    script = "require 'dtmx'"
    env = { 'DTMX_LIB' => '/nonexistent/libdtmx.so' }
    out, status = Open3.capture2e(env, RbConfig.ruby, '-I', File.join(RUBY_ROOT, 'lib'), '-e', script)
    refute status.success?, out
    assert_includes out, 'cannot load libdtmx'
    assert_includes out, '/nonexistent/libdtmx.so'
    assert_includes out, 'set DTMX_LIB'
    assert_includes out, 'c/install'
  end
end
