# frozen_string_literal: true

module Dtmx
  # The base of every dtmx error. Each kind of error (DtmxCode of the C API) has its own
  # subclass, named as `dtmx_code_class` names it: InvalidArgumentError, TransportError,
  # ServerError, FailureError, OngoingError, DuplicatedError, TimeoutError, DatabaseError,
  # InternalError. `kind` is the stable name (`"failure"`, ...) and `code` the number,
  # the same in every dtmx binding.
  class Error < StandardError
    class << self
      # The stable name of the errors of this class (`"failure"`, ...).
      attr_reader :kind
      # Their code (DtmxCode).
      attr_reader :code
    end

    # The stable name of the error's kind.
    def kind
      self.class.kind
    end

    # The error's code (DtmxCode).
    def code
      self.class.code
    end
  end

  # The class name `dtmx_code_class` gives for code 0 and unknown codes.
  DtmxError = Error

  # The error classes by code (1 and up), read from libdtmx.
  ERROR_CLASSES = {}.tap do |classes|
    code = 1
    loop do
      class_name = Native.string(Native.dtmx_code_class(code))
      break if class_name.nil? || class_name == 'DtmxError' || code > 64

      kind = Native.string(Native.dtmx_code_name(code))
      klass = Class.new(Error)
      klass.instance_variable_set(:@kind, kind)
      klass.instance_variable_set(:@code, code)
      const_set(class_name, klass)
      classes[code] = klass
      code += 1
    end
  end.freeze

  Error.instance_variable_set(:@kind, 'internal')
  Error.instance_variable_set(:@code, ERROR_CLASSES.key(InternalError))

  # The error class of a kind's stable name (`"failure"` → FailureError), or nil.
  def self.error_class(kind)
    ERROR_CLASSES.each_value.find { |c| c.kind == kind.to_s }
  end

  # A Dtmx::Error of `code` with `message`.
  def self.error_for(code, message)
    (ERROR_CLASSES[code] || Error).new(message || Native.string(Native.dtmx_code_name(code)))
  end
end
