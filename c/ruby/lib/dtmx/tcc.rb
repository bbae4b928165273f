# frozen_string_literal: true

module Dtmx
  # A TCC global transaction: the caller's try calls, then dtm's confirms or cancels.
  #
  #   Dtmx::Tcc.new(client).run do |tcc|
  #     tcc.call_branch({ amount: 30 }, "#{busi}/TransOutTry", "#{busi}/TransOutConfirm",
  #                     "#{busi}/TransOutCancel")
  #   end
  class Tcc
    include Handle

    attr_reader :client, :gid

    # A TCC of `client` with `gid` (nil: a new local gid) and options (as Saga.new).
    def initialize(client, gid: nil, **options)
      @client = client
      json = Dtmx.options_json(options)
      @ptr = Native.handle(:dtmx_tcc_free) { |err| Native.dtmx_tcc_new(client, gid, json, err) }
      @gid = Native.string(Native.dtmx_tcc_gid(self))
    end

    # The id of the last branch call_branch created ("00" before the first).
    def current_branch_id
      Native.take_string(Native.dtmx_tcc_current_branch_id(self))
    end

    # Registers the global transaction with dtm.
    def prepare
      Native.check { |err| Native.dtmx_tcc_prepare(self, err) }
      self
    end

    # Registers a branch (confirm, cancel) and calls its try URL with `payload`; returns
    # the try's reply body. A FailureError when the branch refused.
    def call_branch(payload, try_url, confirm_url, cancel_url)
      text = Dtmx.payload_text(payload)
      Native.take_string(Native.check do |err|
        Native.dtmx_tcc_call_branch(self, text, try_url, confirm_url, cancel_url, err)
      end)
    end

    # Submits: dtm confirms every branch.
    def submit
      Native.check { |err| Native.dtmx_tcc_submit(self, err) }
      self
    end

    # Aborts with `reason` (nil: none): dtm cancels every branch.
    def abort(reason = nil)
      Native.check { |err| Native.dtmx_tcc_abort(self, reason&.to_s&.delete("\0"), err) }
      self
    end

    # The whole transaction, as every dtmx binding runs it (libdtmx's `dtmx_tcc_run`):
    # prepare, the block (the try calls, made on the Tcc it is given), submit. When the
    # block raises (a try refused is a FailureError), aborts with the exception's message
    # as the rollback reason and re-raises the block's exception as is, whatever happens
    # after: an abort that failed is a note on it (`Dtmx.notes(e)`). Returns the block's
    # value once the submit succeeded; else raises the prepare's or the submit's error
    # (with `wait_result`: FailureError with status `"failed"` when it rolled back,
    # UnfinishedError when dtm still retries it).
    def run(&block)
      raise ArgumentError, 'run needs a block' unless block

      Native.run_body(->(_lent) { block.call(self) }) do |fn, err|
        Native.dtmx_tcc_run(self, fn, nil, err)
      end
    end
  end
end
