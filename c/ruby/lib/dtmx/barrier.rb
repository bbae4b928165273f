# frozen_string_literal: true

module Dtmx
  # A barrier table: a dialect (`mysql`, `postgres`, `sqlite` and their aliases) and a
  # table name (nil: the dialect's default, `dtm_barrier.barrier`, or `barrier` on
  # SQLite). Immutable; may be shared between threads.
  class BarrierTable
    include Handle

    def initialize(dialect, name = nil)
      @ptr = Native.handle(:dtmx_barrier_table_free) do |err|
        Native.dtmx_barrier_table_new(dialect.to_s, name, err)
      end
    end

    # The dialect's stable name (`"mysql"`, `"postgres"`, `"sqlite"`).
    def dialect
      Native.string(Native.dtmx_barrier_table_dialect(self))
    end

    # The table's name.
    def name
      Native.string(Native.dtmx_barrier_table_name(self))
    end

    # The statements that create the table (and its schema).
    def ddl
      Array.new(Native.dtmx_barrier_table_ddl_count(self)) do |i|
        Native.take_string(Native.dtmx_barrier_table_ddl(self, i))
      end
    end

    # The insert-ignore statement of a barrier row (6 parameters).
    def insert_ignore_sql
      Native.take_string(Native.dtmx_barrier_table_insert_ignore_sql(self))
    end

    # The query of a barrier row's reason (4 parameters).
    def select_reason_sql
      Native.take_string(Native.dtmx_barrier_table_select_reason_sql(self))
    end

    # `sql` (in the dialect's placeholders) with the placeholders of a driver's `style`:
    # `qmark` (`?`), `format` (`%s`), `dollar` (`$1`) or `numeric` (`:1`).
    def render(sql, style)
      Native.take_string(Native.check { |err| Native.dtmx_barrier_table_render(self, sql, style.to_s, err) })
    end

    # Creates the table (and its schema) unless it exists: runs every statement of #ddl
    # with `runner`, a SQLite3::Database, a PG::Connection, a Dtmx::Connection, or a
    # callable (or the block) given each statement.
    def create(runner = nil, &block)
      runner ||= block
      raise ArgumentError, 'create needs a connection, a callable or a block' unless runner

      run = runner.respond_to?(:call) ? runner : ->(sql) { Connection.for(runner).execute(sql, []) }
      ddl.each { |sql| run.call(sql) }
      nil
    end
  end

  # One SQL statement and its parameters (Strings).
  Statement = Struct.new(:sql, :params)

  # The barrier of one branch call (DTM's BarrierFrom): trans type, gid, branch id, op,
  # and a counter of barrier ids. Used by one thread at a time.
  #
  # Guard a branch's business code on the branch's database connection:
  #
  #   barrier = Dtmx::Barrier.from_query(request.query_string)
  #   barrier.call(db) { |db| debit(db, amount) }   # db: SQLite3::Database, PG::Connection
  class Barrier
    include Handle

    # A barrier from its fields. InvalidArgumentError when one is empty or unknown.
    def initialize(trans_type, gid, branch_id, op)
      @ptr = Native.handle(:dtmx_barrier_free) do |err|
        Native.dtmx_barrier_new(trans_type, gid, branch_id, op, err)
      end
    end

    # The barrier of the branch call whose URL had this query string (`gid=..&
    # trans_type=..&branch_id=..&op=..`, as dtm sends it).
    def self.from_query(query)
      wrap(Native.handle(:dtmx_barrier_free) { |err| Native.dtmx_barrier_from_query(query.to_s, err) })
    end

    # The barrier of the local transaction of msg `gid` and of its check-back (trans type
    # `msg`, branch `00`, op `msg`): what Msg#do_and_submit lends its block.
    def self.for_msg(gid)
      wrap(Native.handle(:dtmx_barrier_free) { |err| Native.dtmx_barrier_for_msg(gid.to_s, err) })
    end

    # How long Redis barrier keys live by default (libdtmx's: 7 days, as DTM).
    def self.redis_default_expire
      Native.dtmx_barrier_redis_default_expire
    end

    # The barrier from decoded query pairs: a Hash or a list of [key, value].
    def self.from_query_pairs(pairs)
      from_pairs(:dtmx_barrier_from_query_pairs, pairs)
    end

    # The barrier of a parsed Branch (Branch.from_query, ...).
    def self.from_branch(branch)
      new(branch.trans_type, branch.gid, branch.branch_id, branch.op)
    end

    # The barrier from gRPC metadata (`dtm-gid`, ...): a Hash or a list of [key, value].
    def self.from_grpc_metadata(pairs)
      from_pairs(:dtmx_barrier_from_grpc_metadata, pairs)
    end

    # (internal) A barrier libdtmx lends to a callback; `release` ends the loan.
    def self.borrow(ptr)
      wrap(ptr)
    end

    # (internal) Ends a loan: the barrier can no longer be used.
    def release
      @ptr = nil
    end

    def self.wrap(ptr)
      barrier = allocate
      barrier.instance_variable_set(:@ptr, ptr)
      barrier
    end

    def self.from_pairs(fn, pairs)
      pairs = pairs.to_a
      keys, keep_k = Native.string_array(pairs.map(&:first))
      values, keep_v = Native.string_array(pairs.map(&:last))
      wrap(Native.handle(:dtmx_barrier_free) { |err| Native.send(fn, keys, values, pairs.size, err) })
    ensure
      [keep_k, keep_v] # kept alive until here
    end
    private_class_method :wrap, :from_pairs

    def trans_type
      Native.string(Native.dtmx_barrier_trans_type(self))
    end

    def gid
      Native.string(Native.dtmx_barrier_gid(self))
    end

    def branch_id
      Native.string(Native.dtmx_barrier_branch_id(self))
    end

    def op
      Native.string(Native.dtmx_barrier_op(self))
    end

    # Hands out the next barrier id (`"01"`, `"02"`, ...), as a guarded call does.
    def next_barrier_id
      Native.take_string(Native.dtmx_barrier_next_barrier_id(self))
    end

    # A guarded call's step machine (takes the next barrier id); #call drives it on a
    # database.
    def call_machine(table)
      BarrierCall.send(:make, self, table) { |err| Native.dtmx_barrier_call_machine(self, table, err) }
    end

    # The msg check-back's step machine (its result is `"SUCCESS"` or `"FAILURE"`);
    # #query_prepared drives it on a database.
    def query_prepared_machine(table)
      BarrierCall.send(:make, self, table) { |err| Native.dtmx_barrier_query_prepared_machine(self, table, err) }
    end

    # XA phase one's guarded call (always barrier id 01).
    def xa_action_machine(table)
      BarrierCall.send(:make, self, table) { |err| Native.dtmx_barrier_xa_action_machine(self, table, err) }
    end

    # The Statement to run after an XA rollback so that a late phase one is fenced off.
    def xa_rollback_fence(table)
      ptr = Native.check { |err| Native.dtmx_barrier_xa_rollback_fence(self, table, err) }
      begin
        params = Array.new(Native.dtmx_statement_param_count(ptr)) do |i|
          Native.string(Native.dtmx_statement_param(ptr, i))
        end
        Statement.new(Native.string(Native.dtmx_statement_sql(ptr)), params)
      ensure
        Native.dtmx_statement_free(ptr)
      end
    end

    # The Redis script of a TCC/saga branch adding `amount` to `key` (takes the next
    # barrier id; barrier keys expire after `expire` seconds). #redis_check_adjust_amount
    # runs it.
    def redis_check_adjust_amount_call(key, amount, expire = Barrier.redis_default_expire)
      RedisCall.send(:make) do |err|
        Native.dtmx_barrier_redis_check_adjust_amount_call(self, key, Integer(amount), Integer(expire), err)
      end
    end

    # The Redis msg check-back script of the barrier's gid (its result goes to
    # #check_back). #redis_query_prepared runs it.
    def redis_query_prepared_call(expire = Barrier.redis_default_expire)
      RedisCall.send(:make) do |err|
        Native.dtmx_barrier_redis_query_prepared_call(self, Integer(expire), err)
      end
    end

    # Adds `amount` to the integer at `key` at most once for this branch, in one Redis
    # script. `redis_or_eval` runs it: a Redis client (redis-rb: `eval(script, keys:,
    # argv:)`), or a callable (nil: the block) given (script, keys, args) that returns the
    # script's reply. Returns `"applied"`, `"null_compensation"`, `"duplicate"` or
    # `"suspended"`; FailureError when the key is missing or the amount would go below 0.
    def redis_check_adjust_amount(redis_or_eval, key, amount, expire = Barrier.redis_default_expire, &block)
      redis_check_adjust_amount_call(key, amount, expire).run(redis_or_eval || block)
    end

    # The Redis msg check-back (`redis_or_eval` as for #redis_check_adjust_amount):
    # nil when the local transaction committed, FailureError when not (#check_back).
    def redis_query_prepared(redis_or_eval, expire = Barrier.redis_default_expire, &block)
      check_back(redis_query_prepared_call(expire).run(redis_or_eval || block))
    end

    # Runs the business code (the block, given `db`) at most once for this branch, in one
    # database transaction with the barrier's rows, as libdtmx's guard decides. `db` is a
    # SQLite3::Database, a PG::Connection or another Dtmx::Connection; `table` the barrier
    # table (default: the dialect's default table of a built-in connection).
    #
    # The transaction, by the rule of every dtmx package: when `db` is inside one (its
    # driver says so: a `db.transaction do ... end` block, a `BEGIN`; or, for a
    # connection whose driver cannot tell, `in_transaction: true`), the barrier joins it
    # and committing or rolling back stays with the caller (roll back when this raises).
    # When none is open, the barrier begins its own, commits it when the block returns or
    # is skipped, and rolls it back when anything raises.
    #
    # Returns the block's value, or nil when the barrier skipped it (`last_decision` says
    # why: :null_compensation, :duplicate, :suspended). Raises what the block raised (a
    # failed rollback is a note on it, Dtmx.notes), the driver's exception, or
    # DuplicatedError for a msg whose local transaction already ran or was fenced off by
    # the check-back.
    def call(db, table = nil, in_transaction: nil, &busi)
      raise ArgumentError, 'call needs a block' unless busi

      guarded(db, table, in_transaction, :dtmx_guard_new) do |guard, conn|
        guard.run(conn, db, &busi)
      ensure
        @last_decision = guard.decision
      end
    end

    # The decision of the last #call: :run_business, :null_compensation, :duplicate,
    # :suspended or :msg_duplicated (nil before).
    attr_reader :last_decision

    # The msg check-back (the `query_prepared` handler) for the barrier's gid on `db`, as
    # #call takes it (the same rule for the transaction: its own, committed with either
    # answer, unless `db` is inside one). Returns nil when the local transaction
    # committed; raises FailureError (dtm aborts the message) when it never did, which
    # also fences it off (a late local transaction is then a DuplicatedError).
    def query_prepared(db, table = nil, in_transaction: nil)
      guarded(db, table, in_transaction, :dtmx_guard_check_back) { |guard, conn| guard.run(conn, db) { nil } }
    end

    # What a check-back handler answers for `result` (`"SUCCESS"` or `"FAILURE"`, the
    # result of a check-back machine or Redis script): nil when the local transaction
    # committed, else libdtmx's FailureError.
    def check_back(result)
      Native.check { |err| Native.dtmx_barrier_check_back(self, result.to_s, err) }
      nil
    end

    private

    # Yields the guard libdtmx's `make` (dtmx_guard_new, dtmx_guard_check_back) builds
    # for `db` and its connection, then frees it.
    def guarded(db, table, in_transaction, make)
      conn = Connection.for(db)
      table ||= BarrierTable.new(conn.respond_to?(:dialect) ? conn.dialect : raise(ArgumentError, "#{db.class}: pass the barrier table"))
      joined = Connection.in_transaction?(conn, in_transaction)
      guard = Guard.send(:make, [self, table]) { |err| Native.send(make, self, table, joined, err) }
      begin
        yield guard, conn
      ensure
        guard.free
      end
    end
  end

  # A barrier step machine: a guarded call, XA phase one or a msg check-back. Ask
  # `step`; run `sql` with `params` and feed the result back, until `:done`; then read
  # `decision` / `result`. `run` does the loop with a runner.
  class BarrierCall
    include Handle

    # DtmxStepKind and DtmxDecision, by number (checked against dtmx.h by the tests).
    STEPS = %i[execute query_reason done].freeze
    DECISIONS = %i[none run_business null_compensation duplicate suspended msg_duplicated].freeze

    def self.make(barrier, table, &block)
      call = allocate
      call.instance_variable_set(:@ptr, Native.handle(:dtmx_barrier_call_free, &block))
      # The machine may borrow from both: keep them alive while it is.
      call.instance_variable_set(:@keep, [barrier, table])
      call
    end
    private_class_method :make

    # What the machine asks for: :execute (run `sql`, feed the rows affected),
    # :query_reason (run `sql`, feed the `reason` column or nil) or :done.
    def step
      STEPS.fetch(Native.dtmx_barrier_call_step(self))
    end

    def done?
      step == :done
    end

    # The SQL of the current step (nil when done).
    def sql
      Native.string(Native.dtmx_barrier_call_sql(self))
    end

    # The parameters of the current step's SQL (Strings).
    def params
      Array.new(Native.dtmx_barrier_call_param_count(self)) do |i|
        Native.string(Native.dtmx_barrier_call_param(self, i))
      end
    end

    # Feeds the rows affected by an :execute step.
    def feed_affected(rows)
      Native.check { |err| Native.dtmx_barrier_call_feed_affected(self, Integer(rows), err) }
      self
    end

    # Feeds the reason read by a :query_reason step (nil: no row).
    def feed_reason(reason)
      Native.check { |err| Native.dtmx_barrier_call_feed_reason(self, reason&.to_s, err) }
      self
    end

    # The decision of a finished guarded call (:none before, and for a check-back).
    def decision
      DECISIONS.fetch(Native.dtmx_barrier_call_decision(self), :none)
    end

    # The result's name: a decision (`"run_business"`, ...) or a check-back's
    # `"SUCCESS"` / `"FAILURE"`; nil before the machine is done.
    def result
      Native.string(Native.dtmx_barrier_call_result(self))
    end

    # Raises the error the decision carries (DuplicatedError for msg_duplicated).
    def check
      Native.check { |err| Native.dtmx_barrier_call_check(self, err) }
      nil
    end

    # The barrier id the call uses (nil for a check-back).
    def barrier_id
      Native.take_string(Native.dtmx_barrier_call_barrier_id(self))
    end

    # Drives the machine to the end: `runner` (or the block) gets (kind, sql, params)
    # for every step and returns the rows affected (:execute) or the reason (nil: no
    # row) (:query_reason). Returns `result`.
    def run(runner = nil, &block)
      runner ||= block
      raise ArgumentError, 'run needs a runner or a block' unless runner

      loop do
        kind = step
        break if kind == :done

        value = runner.call(kind, sql, params)
        kind == :execute ? feed_affected(value) : feed_reason(value)
      end
      result
    end
  end

  # A Redis barrier script: run `EVAL script keys args`, then `decide(reply)`.
  class RedisCall
    include Handle

    def self.make(&block)
      call = allocate
      call.instance_variable_set(:@ptr, Native.handle(:dtmx_redis_call_free, &block))
      call
    end
    private_class_method :make

    # The Lua script.
    def script
      Native.string(Native.dtmx_redis_call_script(self))
    end

    # The script's KEYS.
    def keys
      Array.new(Native.dtmx_redis_call_key_count(self)) { |i| Native.string(Native.dtmx_redis_call_key(self, i)) }
    end

    # The script's ARGV.
    def args
      Array.new(Native.dtmx_redis_call_arg_count(self)) { |i| Native.string(Native.dtmx_redis_call_arg(self, i)) }
    end

    # What the script's reply (nil for nil) means: `"applied"`, `"null_compensation"`,
    # `"duplicate"`, `"suspended"`, or a check-back's `"SUCCESS"` / `"FAILURE"`. Raises
    # the error (FailureError for a refused amount).
    def decide(reply)
      Native.string(Native.check { |err| Native.dtmx_redis_call_decide(self, reply&.to_s, err) })
    end

    # Runs the script with `redis_or_eval` (a Redis client answering `eval(script,
    # keys:, argv:)`, or a callable given (script, keys, args)) and decides its reply.
    def run(redis_or_eval)
      raise ArgumentError, 'pass a Redis client, a callable or a block' unless redis_or_eval

      reply = if redis_or_eval.respond_to?(:call)
                redis_or_eval.call(script, keys, args)
              else
                redis_or_eval.eval(script, keys: keys, argv: args)
              end
      decide(reply)
    end
  end
end
