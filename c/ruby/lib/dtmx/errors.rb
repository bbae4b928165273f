# frozen_string_literal: true

module Dtmx
  # The base of every dtmx error. Each kind of error (DtmxCode of the C API) has its own
  # subclass, named as `dtmx_code_class` names it: InvalidArgumentError, TransportError,
  # ServerError, FailureError, OngoingError, DuplicatedError, TimeoutError, DatabaseError,
  # InternalError, UnfinishedError. `kind` is the stable name (`"failure"`, ...) and
  # `code` the number, the same in every dtmx binding.
  #
  # `notes` lists what else failed on the way without replacing the error (`abort
  # failed: ...` after a run whose block raised); `status` is the status of the
  # transaction the error is about (`"failed"` for a FailureError after a `wait_result`
  # submit; `"submitted"`, `"aborting"` or `"prepared"` for an UnfinishedError), nil
  # when none. `Dtmx.notes(e)` reads the notes of any exception.
  class Error < StandardError
    class << self
      # The stable name of the errors of this class (`"failure"`, ...).
      attr_reader :kind
      # Their code (DtmxCode).
      attr_reader :code
    end

    # The status of the transaction the error is about, or nil.
    attr_reader :status

    # An error with `message`, the notes and status libdtmx gave it.
    def initialize(message = nil, notes: [], status: nil)
      super(message)
      @dtmx_notes = notes
      @status = status
    end

    # What else failed on the way, oldest first.
    def notes
      Dtmx.notes(self)
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

  # The notes of any exception: a Dtmx::Error's own, or those Tcc#run, Xa#run and
  # Msg#do_and_submit added to the exception their block raised (kept in the exception's
  # `@dtmx_notes`). An empty Array when there are none.
  def self.notes(exception)
    exception.instance_variable_get(:@dtmx_notes) || []
  end

  # (internal) Adds `notes` to `exception`.
  def self.add_notes(exception, notes)
    return if notes.empty? || exception.frozen?

    exception.instance_variable_set(:@dtmx_notes, notes(exception) + notes)
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

  # A Dtmx::Error of `code` with `message` (and the notes and status libdtmx gave it).
  def self.error_for(code, message, notes: [], status: nil)
    (ERROR_CLASSES[code] || Error).new(message || Native.string(Native.dtmx_code_name(code)),
                                       notes: notes, status: status)
  end
end
