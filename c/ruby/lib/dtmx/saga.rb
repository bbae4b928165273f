# frozen_string_literal: true

module Dtmx
  # A saga: steps of an action and its compensation that dtm runs in order (or as ordered
  # by add_branch_order) after submit.
  #
  #   saga = Dtmx::Saga.new(client, wait_result: true)
  #   saga.add("#{busi}/TransOut", "#{busi}/TransOutRevert", { amount: 30 })
  #   saga.submit
  class Saga
    include Handle

    attr_reader :client

    # A saga of `client` with `gid` (nil: a new local gid) and options (wait_result:,
    # timeout_to_fail:, retry_interval:, request_timeout:, retry_limit:,
    # branch_headers:, concurrent:), checked by libdtmx (InvalidArgumentError).
    def initialize(client, gid: nil, **options)
      @client = client
      json = Dtmx.options_json(options)
      @ptr = Native.handle(:dtmx_saga_free) { |err| Native.dtmx_saga_new(client, gid, json, err) }
      @gid = Native.string(Native.dtmx_saga_gid(self))
    end

    # The saga's gid.
    attr_reader :gid

    # Adds a step: dtm POSTs `payload` (a String as is, anything else as JSON, nil: none)
    # to `action`, and to `compensate` (may be empty) when the saga rolls back.
    def add(action, compensate, payload = nil)
      text = Dtmx.payload_text(payload)
      Native.check { |err| Native.dtmx_saga_add(self, action, compensate.to_s, text, err) }
      self
    end

    # Makes step `branch` (0-based) wait for the steps `pre_branches`.
    def add_branch_order(branch, pre_branches)
      ids = FFI::MemoryPointer.new(:size_t, [pre_branches.size, 1].max)
      pre_branches.each_with_index { |b, i| ids.put(:size_t, i * FFI.type_size(:size_t), b) }
      Native.check do |err|
        Native.dtmx_saga_add_branch_order(self, branch, ids, pre_branches.size, err)
      end
      self
    end

    # Lets dtm run the steps concurrently (ordered by add_branch_order).
    def enable_concurrent
      Native.check { |err| Native.dtmx_saga_enable_concurrent(self, err) }
      self
    end

    # Submits; returns once dtm accepted it. With wait_result, once it finished: a
    # FailureError (status "failed") when it rolled back, an UnfinishedError (status
    # "submitted", "aborting" or "prepared") when dtm still retries it.
    def submit
      Native.check { |err| Native.dtmx_saga_submit(self, err) }
      self
    end
  end
end
