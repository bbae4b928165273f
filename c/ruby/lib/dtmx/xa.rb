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

    # The id of the last branch call_branch created ("00" before the first).
    def current_branch_id
      Native.take_string(Native.dtmx_xa_current_branch_id(self))
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

    # The whole transaction, as every dtmx binding runs it (libdtmx's `dtmx_xa_run`):
    # prepare, the block (the branch calls, made on the Xa it is given), submit. When the
    # block raises, aborts and re-raises the block's exception as is, with an abort that
    # failed as a note on it (`Dtmx.notes(e)`). Returns the block's value once the
    # submit succeeded; else raises the prepare's or the submit's error (as Tcc#run).
    def run(&block)
      raise ArgumentError, 'run needs a block' unless block

      Native.run_body(->(_lent) { block.call(self) }) do |fn, err|
        Native.dtmx_xa_run(self, fn, nil, err)
      end
    end
  end
end
