# frozen_string_literal: true

module Dtmx
  # A two-phase message: steps dtm runs once the local transaction committed.
  #
  #   msg = Dtmx::Msg.new(client)
  #   msg.add("#{busi}/TransIn", { amount: 30 })
  #   msg.do_and_submit("#{busi}/QueryPrepared") do |barrier|
  #     barrier.call(db) { |db| debit(db) }
  #   end
  class Msg
    include Handle

    attr_reader :client, :gid

    # A message of `client` with `gid` (nil: a new local gid) and options (as Saga.new).
    def initialize(client, gid: nil, **options)
      @client = client
      json = Dtmx.options_json(options)
      @ptr = Native.handle(:dtmx_msg_free) { |err| Native.dtmx_msg_new(client, gid, json, err) }
      @gid = Native.string(Native.dtmx_msg_gid(self))
    end

    # Adds a step: dtm POSTs `payload` to `action`.
    def add(action, payload = nil)
      text = Dtmx.payload_text(payload)
      Native.check { |err| Native.dtmx_msg_add(self, action, text, err) }
      self
    end

    # Adds a step for every subscriber of `topic`.
    def add_topic(topic, payload = nil)
      text = Dtmx.payload_text(payload)
      Native.check { |err| Native.dtmx_msg_add_topic(self, topic, text, err) }
      self
    end

    # Delays the steps by `seconds` after the submit.
    def set_delay(seconds)
      Native.check { |err| Native.dtmx_msg_set_delay(self, Integer(seconds), err) }
      self
    end

    # Lets dtm run the steps concurrently.
    def enable_concurrent
      Native.check { |err| Native.dtmx_msg_enable_concurrent(self, err) }
      self
    end

    # Phase one: registers the message as prepared (dtm asks `query_prepared` when no
    # submit or abort follows).
    def prepare(query_prepared)
      Native.check { |err| Native.dtmx_msg_prepare(self, query_prepared, err) }
      self
    end

    # Phase two: dtm runs the steps.
    def submit
      Native.check { |err| Native.dtmx_msg_submit(self, err) }
      self
    end

    # Aborts a prepared message.
    def abort
      Native.check { |err| Native.dtmx_msg_abort(self, err) }
      self
    end

    # Prepares, runs the block (the local transaction) with the msg's Barrier, then
    # submits, as every dtmx binding does (libdtmx's `dtmx_msg_do_and_submit`). When the
    # block raises a FailureError the message is aborted; after any other exception
    # dtm's check-back (`query_prepared`) decides (abort, submit, or leave it to dtm).
    # The block's exception is re-raised as is, whatever happens after: what failed
    # after it (the abort, the check-back, the submit) is a note on it (`Dtmx.notes(e)`).
    # Returns the block's value once the submit succeeded; else raises the submit's error
    # (with `wait_result`: FailureError with status `"failed"`, UnfinishedError). The
    # barrier is lent for the block only.
    def do_and_submit(query_prepared, &busi)
      raise ArgumentError, 'do_and_submit needs a block' unless busi

      lend = lambda do |barrier_ptr|
        barrier = Barrier.borrow(barrier_ptr)
        begin
          busi.call(barrier)
        ensure
          barrier.release
        end
      end
      Native.run_body(lend) do |fn, err|
        Native.dtmx_msg_do_and_submit(self, query_prepared, fn, nil, err)
      end
    end
  end
end
