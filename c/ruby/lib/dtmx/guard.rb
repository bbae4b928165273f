# frozen_string_literal: true

module Dtmx
  # One guarded barrier call or one msg check-back as the actions to carry out on a
  # database connection (libdtmx's DtmxGuard, the core's Guard): libdtmx decides every
  # action and who owns the transaction; #run does each one on a connection (see
  # Dtmx::Connection) and reports back. Made by Barrier#call and Barrier#query_prepared.
  class Guard
    include Handle

    # DtmxGuardAction, by number (checked against dtmx.h by the tests).
    ACTIONS = %i[begin execute query_reason run_business commit rollback return raise].freeze

    # (internal) A guard made by the block (a libdtmx call); keeps `keep` (the barrier
    # and table it may borrow from) alive.
    def self.make(keep, &block)
      guard = allocate
      guard.instance_variable_set(:@ptr, Native.handle(:dtmx_guard_free, &block))
      guard.instance_variable_set(:@keep, keep)
      guard
    end
    private_class_method :make

    # :own (the guard begins, commits and rolls back) or :join (the caller's transaction).
    def ownership
      Native.string(Native.dtmx_guard_ownership(self)).to_sym
    end

    # What to do now: one of ACTIONS.
    def action
      ACTIONS.fetch(Native.dtmx_guard_action(self))
    end

    # The barrier's decision once reached (:none before, and for a check-back).
    def decision
      BarrierCall::DECISIONS.fetch(Native.dtmx_guard_decision(self), :none)
    end

    # Carries out every action on `conn` (a Dtmx::Connection): the block, given `db`, is
    # the business code. Returns the block's value when it ran, else nil; raises the
    # first exception an action raised (the block's own, the driver's) with libdtmx's
    # notes (Dtmx.notes), or libdtmx's error (DuplicatedError, the check-back's
    # FailureError).
    def run(conn, db)
      value = nil
      failure = nil
      loop do
        action = self.action
        return decision == :run_business ? value : nil if action == :return
        raise_error(failure) if action == :raise

        begin
          case action
          when :begin then conn.begin
          when :commit then conn.commit
          when :rollback then conn.rollback
          when :run_business then value = yield db
          when :execute then rows = conn.execute(sql, params)
          when :query_reason then reason = conn.query_reason(sql, params)
          end
        rescue Exception => e # rubocop:disable Lint/RescueException
          failure ||= e
          failed(e)
          next
        end
        case action
        when :execute then Native.check { |err| Native.dtmx_guard_feed_affected(self, Integer(rows), err) }
        when :query_reason then Native.check { |err| Native.dtmx_guard_feed_reason(self, reason&.to_s, err) }
        else Native.check { |err| Native.dtmx_guard_ok(self, err) }
        end
      end
    end

    private

    # The SQL of :execute and :query_reason, in the table's dialect.
    def sql
      Native.string(Native.dtmx_guard_sql(self))
    end

    # Its parameters (Strings).
    def params
      Array.new(Native.dtmx_guard_param_count(self)) { |i| Native.string(Native.dtmx_guard_param(self, i)) }
    end

    # Reports exception `e` of the current action to libdtmx.
    def failed(exception)
      err = Native::Error.new
      begin
        Native.report(exception, err.pointer)
        Native.dtmx_guard_fail(self, err.pointer)
      ensure
        Native.dtmx_error_free(err.pointer)
      end
    end

    # Raises what :raise raises: `failure` (the first exception of an action) when it is
    # the error, with libdtmx's notes; else libdtmx's own error.
    def raise_error(failure)
      error = Native.made { |err| Native.dtmx_guard_error(self, err) }
      raise error unless failure && Native.dtmx_guard_raises_failure(self)

      Dtmx.add_notes(failure, error.notes)
      raise failure
    end
  end
end
