# frozen_string_literal: true

require 'net/http'
require 'uri'

module Dtmx
  # The RM side of XA: one branch call of an XA global transaction (libdtmx's
  # DtmxXaLocal, the core's XaLocal). dtm and the Xa client call the same URL for phase
  # one (`op=action`: run the business SQL in a new XA transaction, register the branch,
  # prepare) and phase two (`op=commit` / `rollback`).
  #
  # Dtmx.xa_local does the whole call on a connection dedicated to it, outside any
  # transaction (a PG::Connection, or any object answering `execute(sql, params)` and
  # `query_reason(sql, params)`, see Dtmx::Connection):
  #
  #   Dtmx.xa_local(pg, Dtmx::Branch.from_query(query)) { |db| db.exec('update ...') }
  #
  # For another database API make one (XaLocal.new(branch, table)) and loop on #step:
  # :execute (run #sql with #params, then #feed_affected, or #feed_sql_error with the
  # database's message), :query_reason (#feed_reason with the first column or nil),
  # :run_business (the business SQL, then #feed_business(nil) or its exception), :send
  # (send #request to dtm, then #feed_reply or #feed_send_error), :done (#finish raises the
  # error to answer dtm with, if any).
  class XaLocal
    include Handle

    # DtmxXaStep, by number (checked against dtmx.h by the tests).
    STEPS = %i[execute query_reason run_business send done].freeze
    # DtmxXaPhase, by number (checked against dtmx.h by the tests).
    PHASES = %i[action commit rollback].freeze

    # The call `branch` describes (a Dtmx::Branch, or a Hash of its fields), keeping its
    # barrier rows in `table` (MySQL or PostgreSQL; InvalidArgumentError for SQLite).
    def initialize(branch, table)
      fields = branch.to_h.transform_keys(&:to_sym)
      s = Native::BranchStruct.new
      keep = Native::BranchStruct.members.map do |m|
        s[m] = FFI::MemoryPointer.from_string(fields[m].to_s.delete("\0"))
      end
      @ptr = Native.handle(:dtmx_xa_local_free) { |err| Native.dtmx_xa_local_new(s.pointer, table, err) }
      keep.clear
    end

    # Dtmx.xa_local's body.
    def self.run_call(db, branch, table: nil, timeout: 10, transport: nil, &busi)
      raise ArgumentError, 'xa_local needs a block (the business SQL)' unless busi

      conn = connection(db)
      table ||= BarrierTable.new(conn.respond_to?(:dialect) ? conn.dialect : raise(ArgumentError, 'pass table:'))
      xa = new(branch, table)
      failure = xa.__send__(:drive, conn, db, timeout, transport, busi)
      begin
        xa.finish
      rescue Dtmx::Error => e
        raise unless failure

        # The business code's failure is the call's error: raise it as it was raised.
        Dtmx.add_notes(failure, e.notes)
        raise failure
      end
    ensure
      xa&.free
    end

    # The statements' runner for `db`: a PG::Connection's (Dtmx::Connection::PG), or `db`
    # itself when it answers `execute(sql, params)`, `query_reason(sql, params)` and
    # `dialect` (or pass `table:`).
    def self.connection(db)
      return Connection::PG.new(db) if defined?(::PG::Connection) && db.is_a?(::PG::Connection)

      missing = %i[execute query_reason].reject { |m| db.respond_to?(m) }
      raise ArgumentError, "#{db.class} is no XA connection: it has no #{missing.join(', ')}" unless missing.empty?

      db
    end
    private_class_method :run_call, :connection

    # :action, :commit or :rollback.
    def phase
      PHASES.fetch(Native.dtmx_xa_local_phase(self))
    end

    # The XA transaction id, `<gid>-<branch_id>`.
    def xid
      Native.string(Native.dtmx_xa_local_xid(self))
    end

    # What to do now: one of STEPS.
    def step
      STEPS.fetch(Native.dtmx_xa_local_step(self))
    end

    # The SQL of :execute and :query_reason, in the table's dialect (nil for other steps).
    def sql
      Native.string(Native.dtmx_xa_local_sql(self))
    end

    # Its parameters (Strings).
    def params
      Array.new(Native.dtmx_xa_local_param_count(self)) { |i| Native.string(Native.dtmx_xa_local_param(self, i)) }
    end

    # The request of :send (a Dtmx::HttpRequest); nil for other steps.
    def request
      req = Native.dtmx_xa_local_request(self)
      req.null? ? nil : Client.read_request(req)
    end

    # Feeds the rows affected by the statement of :execute.
    def feed_affected(rows)
      Native.check { |err| Native.dtmx_xa_local_feed_affected(self, [Integer(rows), 0].max, err) }
    end

    # Feeds the first column of the first row read by :query_reason (nil: no row).
    def feed_reason(reason)
      Native.check { |err| Native.dtmx_xa_local_feed_reason(self, reason&.to_s, err) }
    end

    # Feeds the database's error message for the statement of :execute or :query_reason.
    def feed_sql_error(message)
      Native.check { |err| Native.dtmx_xa_local_feed_sql_error(self, message.to_s.delete("\0"), err) }
    end

    # Feeds the business SQL's result: nil for success, else the exception it raised.
    def feed_business(exception)
      return Native.check { |err| Native.dtmx_xa_local_feed_business(self, nil, err) } if exception.nil?

      failure = Native::Error.new
      begin
        Native.report(exception, failure.pointer)
        Native.check { |err| Native.dtmx_xa_local_feed_business(self, failure.pointer, err) }
      ensure
        Native.dtmx_error_free(failure.pointer)
      end
    end

    # Feeds dtm's reply to :send.
    def feed_reply(status, body)
      buf, len = Native.bytes(body.to_s)
      Native.check { |err| Native.dtmx_xa_local_feed_reply(self, Integer(status), buf, len, err) }
    end

    # Feeds the failure to send the request of :send.
    def feed_send_error(message)
      Native.check { |err| Native.dtmx_xa_local_feed_send_error(self, message.to_s.delete("\0"), err) }
    end

    # Ends the call once :done: raises the error to answer dtm with, if any.
    def finish
      Native.check { |err| Native.dtmx_xa_local_finish(self, err) }
      nil
    end

    private

    # Carries out every step on `conn`; returns the business code's exception, if any.
    def drive(conn, db, timeout, transport, busi)
      failure = nil
      loop do
        case (step = self.step)
        when :done then return failure
        when :execute, :query_reason
          begin
            value = step == :execute ? conn.execute(sql, params) : conn.query_reason(sql, params)
          rescue StandardError => e
            feed_sql_error(e.message.empty? ? e.class.name : e.message)
            next
          end
          step == :execute ? feed_affected(value) : feed_reason(value)
        when :run_business
          begin
            busi.call(db)
          rescue Exception => e # rubocop:disable Lint/RescueException
            failure = e
          end
          feed_business(failure)
        when :send then deliver(request, timeout, transport)
        end
      end
    end

    # Sends `req` (through `transport`, else Net::HTTP) and feeds the reply.
    def deliver(req, timeout, transport)
      begin
        status, body = transport ? transport.call(req) : post(req, timeout)
      rescue StandardError => e
        feed_send_error("#{e.class}: #{e.message}")
        return
      end
      feed_reply(status, body)
    end

    def post(req, timeout)
      uri = URI(req.url)
      http = Net::HTTP.new(uri.host, uri.port)
      http.use_ssl = uri.scheme == 'https'
      http.open_timeout = http.read_timeout = timeout
      post = Net::HTTP::Post.new(uri)
      req.headers.each { |k, v| post[k] = v }
      post.body = req.body
      reply = http.request(post)
      [Integer(reply.code), reply.body.to_s]
    end
  end

  # Runs the XA branch call `branch` on `db` (in autocommit, outside any transaction:
  # a connection for this call only); the block, given `db`, is the business SQL of
  # phase one. The registration goes to dtm over Net::HTTP (`timeout` seconds), or
  # through `transport` (a callable given a Dtmx::HttpRequest, returning [status, body],
  # as Client.with_transport's block). Raises the error to answer dtm with
  # (Dtmx.reply): the block's own exception, FailureError for a refused or fenced
  # phase one, DatabaseError for SQL errors.
  def self.xa_local(db, branch, table: nil, timeout: 10, transport: nil, &busi)
    XaLocal.send(:run_call, db, branch, table: table, timeout: timeout, transport: transport, &busi)
  end
end
