# frozen_string_literal: true

require 'uri'

module Dtmx
  # The outcomes a branch reports to dtm, by their DtmxOutcome number (checked against
  # dtmx.h by the tests).
  OUTCOMES = %i[success failure ongoing unknown].freeze

  # Who a branch request is for, read from its query string or gRPC metadata (every
  # field a String, empty when absent). The replies a branch handler gives are module
  # functions of Dtmx (outcome_reply, reply, ...).
  #
  #   status, body = Dtmx::Branch.handle { transfer(params) }   # 200, 409, 425 or 500
  Branch = Struct.new(:gid, :trans_type, :branch_id, :op, :dtm, :phase2_url, keyword_init: true) do
    # The branch of a request whose URL had query string `query`.
    def self.from_query(query)
      read(Native.check { |err| Native.dtmx_branch_from_query(query.to_s, err) })
    end

    # The branch of a request from its decoded query (a Hash or a list of [key, value]),
    # as a web framework hands it over.
    def self.from_query_pairs(pairs)
      pairs = pairs.to_a
      keys, _keep_k = Native.string_array(pairs.map { |k, _| k.to_s })
      values, _keep_v = Native.string_array(pairs.map { |_, v| v.to_s })
      read(Native.check { |err| Native.dtmx_branch_from_query_pairs(keys, values, pairs.size, err) })
    end

    # The branch of a gRPC request from its metadata (a Hash or a list of [key, value]).
    def self.from_grpc_metadata(pairs)
      pairs = pairs.to_a
      keys, _keep_k = Native.string_array(pairs.map(&:first))
      values, _keep_v = Native.string_array(pairs.map(&:last))
      read(Native.check { |err| Native.dtmx_branch_from_grpc_metadata(keys, values, pairs.size, err) })
    end

    def self.read(ptr)
      raise InternalError, 'libdtmx returned no branch' if ptr.null?

      s = Native::BranchStruct.new(ptr)
      new(**members.to_h { |m| [m, Native.string(s[m]) || ''] })
    ensure
      Native.dtmx_branch_free(ptr) unless ptr.nil?
    end
    private_class_method :read

    # The query string of this branch, as a caller passes it on (the fields that are not
    # empty, in the order dtm writes them).
    def to_query
      URI.encode_www_form(%i[dtm gid trans_type branch_id op phase2_url].filter_map do |k|
        v = self[k].to_s
        [k.to_s, v] unless v.empty?
      end)
    end

    # Runs the handler's block: [200, success body] when it returns, the reply for its
    # exception (Dtmx.reply) when it raises a StandardError.
    def self.handle
      yield
      Dtmx.outcome_reply(:success)
    rescue StandardError => e
      Dtmx.reply(e)
    end
  end

  # The HTTP reply for `outcome` (:success, :failure, :ongoing, :unknown) with
  # `message`: [status, body] (200, 409, 425 or 500 and DTM's JSON body).
  def self.outcome_reply(outcome, message = '')
    status = FFI::MemoryPointer.new(:uint16)
    body = FFI::MemoryPointer.new(:pointer)
    Native.check do |err|
      Native.dtmx_outcome_reply(Dtmx.outcome_number(outcome), message.to_s.delete("\0"), status, body, err)
    end
    [status.read(:uint16), Native.take_out_string(body)]
  end

  # The outcome an exception stands for: only FailureError and OngoingError keep their
  # meaning; every other error (any Ruby exception) is :unknown, retried by dtm, never a
  # rollback. Returns [outcome, message].
  def self.outcome_of_error(error)
    code = error.is_a?(Dtmx::Error) ? error.code : 0
    out = FFI::MemoryPointer.new(:pointer)
    o = Native.dtmx_outcome_of_error(code, error.message.to_s.delete("\0"), out)
    [OUTCOMES.fetch(o), Native.take_out_string(out)]
  end

  # The HTTP reply for an exception a handler raised: [status, body].
  def self.reply(error)
    outcome_reply(*outcome_of_error(error))
  end

  # How dtm reads a branch's HTTP reply: [outcome, message].
  def self.outcome_from_http(status, body)
    buf, len = Native.bytes(body || '')
    out = FFI::MemoryPointer.new(:pointer)
    o = Native.dtmx_outcome_from_http(Integer(status), buf, len, out)
    [OUTCOMES.fetch(o), Native.take_out_string(out)]
  end

  # The gRPC status code a branch answers for `outcome`.
  def self.grpc_code(outcome)
    Native.dtmx_grpc_code(Dtmx.outcome_number(outcome))
  end

  # How dtm reads a gRPC status: [outcome, message].
  def self.outcome_from_grpc(code, message)
    out = FFI::MemoryPointer.new(:pointer)
    o = Native.dtmx_outcome_from_grpc(Integer(code), message.to_s.delete("\0"), out)
    [OUTCOMES.fetch(o), Native.take_out_string(out)]
  end

  # Raises the error a branch's reply to the caller's own call (TCC try, msg
  # check-back) stands for; nil when it succeeded.
  def self.check_branch_reply(status, body)
    buf, len = Native.bytes(body || '')
    Native.check { |err| Native.dtmx_check_branch_reply(Integer(status), buf, len, err) }
    nil
  end

  # Raises the error a reply of the DTM server stands for; nil when it succeeded.
  def self.check_server_reply(status, body)
    buf, len = Native.bytes(body || '')
    Native.check { |err| Native.dtmx_check_server_reply(Integer(status), buf, len, err) }
    nil
  end

  # The DtmxOutcome number of an outcome Symbol/String (or number).
  def self.outcome_number(outcome)
    return outcome if outcome.is_a?(Integer)

    OUTCOMES.index(outcome.to_s.downcase.to_sym) || raise(InvalidArgumentError, "unknown outcome #{outcome.inspect}")
  end
end
