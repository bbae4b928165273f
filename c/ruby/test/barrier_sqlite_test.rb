# frozen_string_literal: true

# The barrier helpers (Barrier#call, Barrier#query_prepared) on a real SQLite database
# (Debian's ruby-sqlite3): duplicates, null compensations, suspensions, rollbacks and
# the msg check-back, as DTM's barrier decides them; the barrier's own transaction on a
# bare connection, the caller's joined inside `db.transaction`.
require_relative 'test_helper'
require 'sqlite3'

class BarrierSqliteTest < Minitest::Test
  def setup
    @db = SQLite3::Database.new(':memory:')
    @table = Dtmx::BarrierTable.new('sqlite')
    @table.create(@db)
    @db.execute('create table account (balance integer)')
    @db.execute('insert into account values (100)')
    @runner = lambda do |kind, sql, params|
      if kind == :execute
        @db.execute(sql, params)
        @db.changes
      else
        @db.get_first_value(sql, params)
      end
    end
  end

  def teardown
    @db.close
  end

  def balance
    @db.get_first_value('select balance from account')
  end

  # One branch call: a new barrier from the query dtm would send, guarded in the
  # barrier's own transaction. Returns the decision.
  def branch(op, amount, trans_type: 'saga', gid: 'g1', branch_id: '01')
    barrier = Dtmx::Barrier.from_query("gid=#{gid}&trans_type=#{trans_type}&branch_id=#{branch_id}&op=#{op}")
    ran = barrier.call(@db) { |db| db.execute('update account set balance = balance + ?', [amount]) && :ran }
    if barrier.last_decision == :run_business
      assert_equal :ran, ran
    else
      assert_nil ran, 'skipped'
    end
    refute @db.transaction_active?, 'committed'
    barrier.last_decision
  end

  def test_action_then_duplicate
    assert_equal :run_business, branch('action', -10)
    assert_equal :duplicate, branch('action', -10)
    assert_equal 90, balance
    assert_equal :run_business, branch('compensate', 10)
    assert_equal :duplicate, branch('compensate', 10)
    assert_equal 100, balance
  end

  def test_null_compensation_then_suspended_action
    assert_equal :null_compensation, branch('compensate', 10)
    assert_equal :suspended, branch('action', -10)
    assert_equal 100, balance
  end

  def test_failed_business_rolls_the_barrier_back
    barrier = Dtmx::Barrier.new('tcc', 'g2', '01', 'try')
    assert_raises(Dtmx::FailureError) do
      barrier.call(@db) do
        @db.execute('update account set balance = balance - 1')
        raise Dtmx::FailureError, 'no money'
      end
    end
    refute @db.transaction_active?, 'rolled back'
    assert_equal 100, balance
    assert_equal 0, @db.get_first_value('select count(*) from barrier')
    # Delivered again, it runs (its barrier row went with the rollback).
    assert_equal :run_business, branch('try', -1, trans_type: 'tcc', gid: 'g2')
    assert_equal 99, balance
  end

  def test_msg_check_back
    msg = Dtmx::Barrier.for_msg('m1')
    msg.call(@db, @table) { @db.execute('update account set balance = 50') }
    # Committed: SUCCESS (nil); whatever branch the check-back request names.
    check = Dtmx::Barrier.from_query('gid=m1&trans_type=msg&branch_id=00&op=msg')
    assert_nil check.query_prepared(@db)

    # Never committed: fenced off (FAILURE, the fence committed), and a late local
    # transaction is refused.
    e = assert_raises(Dtmx::FailureError) do
      Dtmx::Barrier.from_query('gid=m2&trans_type=msg&branch_id=00&op=msg').query_prepared(@db)
    end
    assert_equal 'failure', e.kind
    refute @db.transaction_active?
    late = Dtmx::Barrier.for_msg('m2')
    assert_raises(Dtmx::DuplicatedError) { late.call(@db) { flunk 'must not run' } }
    assert_equal :msg_duplicated, late.last_decision
    assert_equal 50, balance
  end

  def test_joins_the_callers_transaction
    barrier = Dtmx::Barrier.new('tcc', 'g4', '01', 'try')
    @db.transaction
    assert_equal :ran, barrier.call(@db) { @db.execute('update account set balance = 1') && :ran }
    assert @db.transaction_active?, 'still the caller\'s'
    @db.rollback
    assert_equal 100, balance
    assert_equal 0, @db.get_first_value('select count(*) from barrier'), 'the barrier row went with it'

    # A raise inside the caller's transaction leaves it open for the caller to roll back.
    @db.transaction
    assert_raises(Dtmx::FailureError) { barrier.call(@db) { raise Dtmx::FailureError, 'no money' } }
    assert @db.transaction_active?
    assert_equal 1, @db.get_first_value('select count(*) from barrier')
    @db.rollback
    assert_equal 0, @db.get_first_value('select count(*) from barrier')
  end

  def test_the_blocks_own_exception_is_raised_as_is
    boom = KeyError.new('disk on fire')
    e = assert_raises(KeyError) do
      Dtmx::Barrier.new('saga', 'g5', '01', 'action').call(@db) do
        @db.execute('update account set balance = 0')
        raise boom
      end
    end
    assert_same boom, e
    assert_empty Dtmx.notes(e)
    refute @db.transaction_active?
    assert_equal 100, balance
  end

  def test_in_transaction_keyword
    e = assert_raises(ArgumentError) { Dtmx::Barrier.new('saga', 'g6', '01', 'action').call(@db, in_transaction: true) { nil } }
    assert_match(/driver cannot tell/, e.message)
    # A connection whose driver cannot tell: not in a transaction unless the caller says so.
    conn = Recorder.new(@db)
    Dtmx::Barrier.new('saga', 'g6', '01', 'action').call(conn, @table) { nil }
    assert_equal %i[begin execute commit], conn.calls
    conn = Recorder.new(@db)
    @db.transaction
    Dtmx::Barrier.new('saga', 'g6', '01', 'compensate').call(conn, @table, in_transaction: true) { nil }
    @db.commit
    assert_equal %i[execute execute], conn.calls, 'a null compensation: two rows, no transaction of its own'
    assert_raises(ArgumentError) { Dtmx::Barrier.new('saga', 'g6', '01', 'action').call(conn) { nil } }
    assert_raises(ArgumentError) { Dtmx::Barrier.new('saga', 'g6', '01', 'action').call(Object.new, @table) { nil } }
  end

  # A connection of a driver that cannot tell whether it is in a transaction; records
  # what it is asked to do.
  class Recorder
    attr_reader :calls

    def initialize(db)
      @db = db
      @calls = []
    end

    def begin
      @calls << :begin
      @db.transaction
    end

    def commit
      @calls << :commit
      @db.commit
    end

    def rollback
      @calls << :rollback
      @db.rollback
    end

    def execute(sql, params)
      @calls << :execute
      @db.execute(sql, params)
      @db.changes
    end

    def query_reason(sql, params)
      @calls << :query_reason
      @db.get_first_value(sql, params)
    end
  end

  def test_step_machine_by_hand
    b = Dtmx::Barrier.new('saga', 'g3', '01', 'action')
    assert_equal '01', b.next_barrier_id
    m = b.call_machine(@table)
    assert_equal '02', m.barrier_id
    assert_nil m.result
    assert_equal :none, m.decision
    until m.done?
      assert_equal :execute, m.step
      @db.execute(m.sql, m.params)
      m.feed_affected(@db.changes)
    end
    assert_equal 'run_business', m.result
    assert_nil m.sql
    assert_empty m.params
  end

  def test_create_is_idempotent_and_takes_a_callable
    @table.create(@db)
    seen = []
    @table.create { |sql| seen << sql }
    assert_equal @table.ddl, seen
    assert_raises(ArgumentError) { @table.create }
  end

  def test_from_branch
    branch = Dtmx::Branch.from_query_pairs('gid' => 'g9', 'trans_type' => 'tcc', 'branch_id' => '01', 'op' => 'try')
    b = Dtmx::Barrier.from_branch(branch)
    assert_equal %w[tcc g9 01 try], [b.trans_type, b.gid, b.branch_id, b.op]
    assert_equal branch, Dtmx::Branch.from_query(branch.to_query)
  end

  def test_redis_helpers_run_the_script
    b = Dtmx::Barrier.new('tcc', 'gid-t1', '01', 'try')
    seen = nil
    eval = lambda do |script, keys, args|
      seen = [script, keys, args]
      'SUCCESS'
    end
    assert_equal 'applied', b.redis_check_adjust_amount(eval, 'acct:1', -30, 86_400)
    assert_equal [%w[acct:1 gid-t1-01-try-01], %w[-30 try 86400]], seen.drop(1)
    redis = Object.new
    redis.define_singleton_method(:eval) { |_script, keys:, argv:| keys.size == 1 && argv == ['600'] ? 'SUCCESS' : 'FAILURE' }
    assert_nil Dtmx::Barrier.for_msg('gid-m1').redis_query_prepared(redis, 600)
    assert_raises(Dtmx::FailureError) { Dtmx::Barrier.for_msg('gid-m2').redis_query_prepared(nil, 600) { 'FAILURE' } }
  end

  def test_render
    pg = Dtmx::BarrierTable.new('postgres')
    assert_equal 'select 1 where a = %s and b = %s', pg.render('select 1 where a = $1 and b = $2', 'format')
    assert_equal 'select 1 where a = ? and b = ?', pg.render('select 1 where a = $1 and b = $2', :qmark)
    assert_raises(Dtmx::InvalidArgumentError) { pg.render('select 1', 'nosuch') }
  end

  def test_xa_rollback_fence_runs
    fence = Dtmx::Barrier.new('xa', 'x1', '01', 'rollback').xa_rollback_fence(@table)
    @db.execute(fence.sql, fence.params)
    assert_equal 1, @db.changes
    m = Dtmx::Barrier.new('xa', 'x1', '01', 'action').xa_action_machine(@table)
    assert_equal 'suspended', m.run(@runner)
  end
end
