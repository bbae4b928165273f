# frozen_string_literal: true

require 'json'

module Dtmx
  # What every wrapper of a libdtmx handle shares: the handle lives in an
  # FFI::AutoPointer whose releaser is the handle's `_free` function, so the garbage
  # collector frees it; `free` frees it now (later calls then raise InvalidArgumentError
  # instead of touching freed memory).
  module Handle
    # Frees the handle now. Safe to call more than once.
    def free
      p = @ptr
      @ptr = nil
      p.free if p.is_a?(FFI::AutoPointer)
      nil
    end
    alias close free

    # Whether `free` was called (or the handle was borrowed and its lending call ended).
    def freed?
      @ptr.nil?
    end

    # The raw pointer, for Native calls. Raises InvalidArgumentError once freed.
    def to_ptr
      @ptr || raise(InvalidArgumentError, "#{self.class.name} was freed")
    end
  end

  # Transaction options (wait_result:, timeout_to_fail:, retry_interval:,
  # request_timeout:, retry_limit:, branch_headers:, concurrent:) as the JSON text of the
  # C API, which reads and checks them (`unknown option "wait_reslt"`); nil when none.
  def self.options_json(options)
    return nil if options.nil? || options.empty?

    JSON.generate(options.transform_keys(&:to_s))
  end

  # A payload as the C API takes it: a String passes verbatim, nil is none, anything
  # else is encoded as JSON. A value JSON.generate refuses (NaN, Infinity, ...) is
  # libdtmx's invalid payload (InvalidArgumentError, `invalid payload: ...`).
  def self.payload_text(payload)
    case payload
    when nil then nil
    when String then payload
    else JSON.generate(payload)
    end
  rescue JSON::GeneratorError => e
    raise Native.made { |err| Native.dtmx_error_set_invalid_payload(err, e.message.delete("\0")) }
  end
end
