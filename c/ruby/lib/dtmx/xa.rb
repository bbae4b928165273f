# frozen_string_literal: true

module Dtmx
  # An XA global transaction (the client side): the caller's branch calls, each an XA
  # transaction of the branch's database, then dtm's commits or rollbacks.
  class Xa
    include Handle

    attr_reader :client, :gid

    # An XA transaction of `client` with `gid` (nil: a new local gid) and options.
    def initialize(client, gid: nil, **options)
      @client = client
      json = Dtmx.options_json(options)
      @ptr = Native.handle(:dtmx_xa_free) { |err| Native.dtmx_xa_new(client, gid, json, err) }
      @gid = Native.string(Native.dtmx_xa_gid(self))
    end

    # Registers the global transaction with dtm.
    def prepare
      Native.check { |err| Native.dtmx_xa_prepare(self, err) }
      self
    end

    # Calls a branch's `url` with `payload` (phase one runs there); returns its reply body.
    def call_branch(payload, url)
      text = Dtmx.payload_text(payload)
      Native.take_string(Native.check { |err| Native.dtmx_xa_call_branch(self, text, url, err) })
    end

    # Submits: dtm commits every branch.
    def submit
      Native.check { |err| Native.dtmx_xa_submit(self, err) }
      self
    end

    # Aborts: dtm rolls every branch back.
    def abort
      Native.check { |err| Native.dtmx_xa_abort(self, err) }
      self
    end

    # The whole transaction: prepare, the block (the branch calls), submit; aborts and
    # re-raises when the block raises.
    def run
      prepare
      begin
        yield self
      rescue Exception # rubocop:disable Lint/RescueException
        begin
          abort
        rescue Dtmx::Error
          nil
        end
        raise
      end
      submit
    end
  end
end
