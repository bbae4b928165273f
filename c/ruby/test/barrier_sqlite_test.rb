# frozen_string_literal: true

# The barrier helpers (Barrier#guard, Barrier#check_prepared) on a real SQLite database
# (Debian's ruby-sqlite3): duplicates, null compensations, suspensions, rollbacks and
# the msg check-back, as DTM's barrier decides them.
require_relative 'test_helper'
require 'sqlite3'

class BarrierSqliteTest < Minitest::Test
  def setup
    @db = SQLite3::Database.new(':memory:')
    @table = Dtmx::BarrierTable.new('sqlite')
    @table.ddl.each { |s| @db.execute(s) }
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

  # One branch call: a new barrier from the query dtm would send, guarded in a transaction.
  def branch(op, amount, trans_type: 'saga', gid: 'g1', branch_id: '01')
    barrier = Dtmx::Barrier.from_query("gid=#{gid}&trans_type=#{trans_type}&branch_id=#{branch_id}&op=#{op}")
    decision = nil
    @db.transaction do # (sqlite3 1.4's transaction returns true, not the block's value)
      decision = barrier.guard(@table, @runner) { @db.execute('update account set balance = balance + ?', [amount]) }
    end
    decision
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
      @db.transaction do
        barrier.guard(@table, @runner) do
          @db.execute('update account set balance = balance - 1')
          raise Dtmx::FailureError, 'no money'
        end
      end
    end
    assert_equal 100, balance
    assert_equal 0, @db.get_first_value('select count(*) from barrier')
    # Delivered again, it runs (its barrier row went with the rollback).
    assert_equal :run_business, branch('try', -1, trans_type: 'tcc', gid: 'g2')
    assert_equal 99, balance
  end

  def test_msg_check_back
    msg = Dtmx::Barrier.for_msg('m1')
    @db.transaction { msg.guard(@table, @runner) { @db.execute('update account set balance = 50') } }
    # Committed: SUCCESS (nil); whatever branch the check-back request names.
    check = Dtmx::Barrier.from_query('gid=m1&trans_type=msg&branch_id=00&op=msg')
    assert_nil check.check_prepared(@table, @runner)

    # Never committed: fenced off (FAILURE), and a late local transaction is refused.
    e = assert_raises(Dtmx::FailureError) do
      Dtmx::Barrier.from_query('gid=m2&trans_type=msg&branch_id=00&op=msg').check_prepared(@table, @runner)
    end
    assert_equal 'failure', e.kind
    late = Dtmx::Barrier.for_msg('m2')
    assert_raises(Dtmx::DuplicatedError) do
      @db.transaction { late.guard(@table, @runner) { flunk 'must not run' } }
    end
    assert_equal 50, balance
  end

  def test_step_machine_by_hand
    b = Dtmx::Barrier.new('saga', 'g3', '01', 'action')
    assert_equal '01', b.next_id
    m = b.call(@table)
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
    m = Dtmx::Barrier.new('xa', 'x1', '01', 'action').xa_action(@table)
    assert_equal 'suspended', m.run(@runner)
  end
end
