# frozen_string_literal: true

# The gem's bindings against libdtmx's header (c/include/dtmx.h): every function of the
# header attached with its parameters and return type, the callback types, the struct
# layouts, and every enum number the gem keeps (error codes, outcomes, step kinds,
# decisions, guard actions). Nothing is kept by hand unchecked.
require_relative 'test_helper'

class HeaderTest < Minitest::Test
  # The header without comments.
  CODE = File.read(File.join(REPO, 'c', 'include', 'dtmx.h')).gsub(%r{//[^\n]*}, '').gsub(%r{/\*.*?\*/}m, '')

  # What the ffi gem may bind a C type as (`param`: as a parameter).
  def ffi_types(c_type, param:)
    c = c_type.strip.gsub(/\s+/, ' ').sub(/\A(struct|enum) /, '')
    return param ? %i[string pointer] : [:pointer] if c == 'const char *'
    return [:pointer] if c.end_with?('*')

    callback = Dtmx::Native::CALLBACKS.find { |_name, (typedef, _p, _r)| typedef == c }
    return [callback.first] if callback

    { 'void' => [:void], 'bool' => [:bool], 'size_t' => [:size_t], 'uint16_t' => [:uint16],
      'int32_t' => %i[int32 int], 'int64_t' => [:int64], 'uint64_t' => [:uint64] }[c] ||
      (enum?(c) ? %i[int int32] : [])
  end

  def enum?(name)
    CODE.include?("typedef enum #{name} {")
  end

  # The types of a C parameter list (`void` or empty: none).
  def param_types(list)
    list = list.strip
    return [] if list.empty? || list == 'void'

    list.split(',').map { |p| p.strip.sub(/\w+\z/, '') }
  end

  # The members of C enum `name`: { "DTMX_OK" => 0, ... }.
  def enum(name)
    body = CODE[/enum #{name} \{(.*?)\}/m, 1]
    refute_nil body, "enum #{name} in dtmx.h"
    body.scan(/(\w+) = (\d+)/).to_h { |k, v| [k, Integer(v)] }
  end

  def test_every_function_is_attached_as_declared
    declared = CODE.scan(/^([A-Za-z_][\w ]*?[\s*]+)(dtmx_\w+)\(([^;]*?)\);/m)
    assert_operator declared.size, :>, 100
    assert_equal declared.map { |d| d[1].to_sym }.sort, Dtmx::Native::FUNCTIONS.keys.sort,
                 'dtmx.h and Native::FUNCTIONS list the same functions'
    declared.each do |ret, name, params|
      bound_params, bound_ret, = Dtmx::Native::FUNCTIONS.fetch(name.to_sym)
      c_params = param_types(params)
      assert_equal c_params.size, bound_params.size, "#{name}: parameter count"
      c_params.zip(bound_params).each_with_index do |(c, ffi), i|
        assert_includes ffi_types(c, param: true), ffi, "#{name}: parameter #{i} (#{c})"
      end
      assert_includes ffi_types(ret, param: false), bound_ret, "#{name}: return type (#{ret.strip})"
    end
  end

  def test_callback_types
    Dtmx::Native::CALLBACKS.each_value do |typedef, params, ret|
      m = CODE.match(/typedef (\w+) \(\*#{typedef}\)\(([^;]*?)\);/m)
      refute_nil m, "typedef #{typedef} in dtmx.h"
      assert_equal m[1].to_sym, ret, "#{typedef}: return type"
      c_params = param_types(m[2])
      assert_equal c_params.size, params.size, "#{typedef}: parameter count"
      c_params.zip(params).each { |c, ffi| assert_includes ffi_types(c, param: true), ffi, "#{typedef}: #{c}" }
    end
  end

  def test_struct_layouts
    { 'DtmxError' => Dtmx::Native::Error, 'DtmxBranch' => Dtmx::Native::BranchStruct }.each do |name, struct|
      body = CODE[/typedef struct #{name} \{(.*?)\} #{name};/m, 1]
      refute_nil body, "struct #{name} in dtmx.h"
      fields = body.scan(/([^;{}]+?)\s*\b(\w+);/).map { |type, field| [field.to_sym, type] }
      assert_equal fields.map(&:first), struct.members, "#{name}: fields"
      fields.each do |field, type|
        bound = %i[pointer int uint16 uint64 size_t].find { |t| FFI.find_type(t) == struct.new.layout[field].type }
        assert_includes ffi_types(type, param: false), bound, "#{name}.#{field} (#{type.strip})"
      end
    end
  end

  def test_error_codes_are_dtmx_code
    codes = enum('DtmxCode')
    assert_equal 0, codes.delete('DTMX_OK')
    assert_equal codes.values.sort, Dtmx::ERROR_CLASSES.keys.sort
    codes.each do |member, code|
      assert_equal member.delete_prefix('DTMX_').downcase, Dtmx::ERROR_CLASSES.fetch(code).kind, member
    end
  end

  def test_enum_tables
    { 'DtmxOutcome' => ['DTMX_OUTCOME_', Dtmx::OUTCOMES],
      'DtmxStepKind' => ['DTMX_STEP_', Dtmx::BarrierCall::STEPS],
      'DtmxDecision' => ['DTMX_DECISION_', Dtmx::BarrierCall::DECISIONS],
      'DtmxGuardAction' => ['DTMX_GUARD_', Dtmx::Guard::ACTIONS],
      'DtmxXaStep' => ['DTMX_XA_', Dtmx::XaLocal::STEPS],
      'DtmxXaPhase' => ['DTMX_XA_PHASE_', Dtmx::XaLocal::PHASES] }.each do |name, (prefix, table)|
      members = enum(name)
      assert_equal members.size, table.size, "#{name}: size"
      members.each do |member, value|
        assert_equal member.delete_prefix(prefix).downcase.to_sym, table[value], "#{name}: #{member}"
      end
    end
  end
end
