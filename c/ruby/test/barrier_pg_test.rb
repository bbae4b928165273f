# frozen_string_literal: true

# Barrier#call and Barrier#query_prepared on a real PostgreSQL (the pg gem, Debian's
# ruby-pg; the server of scripts/services): the barrier's own transaction on a bare
# connection, the caller's joined after BEGIN (pg's transaction_status), the check-back.
# Tables: DTM's default dtm_barrier.barrier and public.dtmx_ruby_ledger.
require_relative 'test_helper'
require 'pg'
require 'securerandom'

class BarrierPgTest < Minitest::Test
  def setup
    @db = PG.connect(host: '127.0.0.1', user: 'postgres', password: ENV.fetch('PGPASSWORD', 'mysecretpassword'),
                     dbname: 'postgres')
    @db.exec('set client_min_messages = warning')
    Dtmx::BarrierTable.new('postgres').ddl.each { |sql| @db.exec(sql) }
    @db.exec('create table if not exists dtmx_ruby_ledger (gid text, op text)')
    @gid = "ruby-#{SecureRandom.hex(8)}"
  end

  def teardown
    @db.close
  end

  def ops
    @db.exec_params('select op from dtmx_ruby_ledger where gid = $1 order by op', [@gid]).column_values(0)
  end

  def rows
    @db.exec_params('select count(*) from dtm_barrier.barrier where gid = $1', [@gid]).getvalue(0, 0).to_i
  end

  # A guarded call that writes `op` into the ledger.
  def branch(op, trans_type = 'tcc')
    barrier = op == 'msg' ? Dtmx::Barrier.for_msg(@gid) : Dtmx::Barrier.new(trans_type, @gid, '01', op)
    value = barrier.call(@db) do |db|
      db.exec_params('insert into dtmx_ruby_ledger (gid, op) values ($1, $2)', [@gid, op])
      :ran
    end
    [value, barrier.last_decision]
  end

  def test_owned_calls_commit_and_skip
    assert_equal %i[ran run_business], branch('try')
    assert_equal [nil, :duplicate], branch('try')
    assert_equal PG::PQTRANS_IDLE, @db.transaction_status
    assert_equal [nil, :null_compensation], branch('compensate', 'saga')
    assert_equal [nil, :suspended], branch('action', 'saga')
    assert_equal %w[try], ops
  end

  def test_a_failure_rolls_back
    e = assert_raises(Dtmx::FailureError) do
      Dtmx::Barrier.new('saga', @gid, '01', 'action').call(@db) do |db|
        db.exec_params('insert into dtmx_ruby_ledger (gid, op) values ($1, $2)', [@gid, 'action'])
        raise Dtmx::FailureError, 'no money'
      end
    end
    assert_equal 'no money', e.message
    assert_equal PG::PQTRANS_IDLE, @db.transaction_status
    assert_equal [], ops
    assert_equal 0, rows
  end

  def test_joins_the_callers_transaction
    @db.exec('begin')
    assert_equal %i[ran run_business], branch('try')
    assert_equal PG::PQTRANS_INTRANS, @db.transaction_status, 'still the caller\'s'
    @db.exec('rollback')
    assert_equal [], ops
    assert_equal 0, rows

    # A failed transaction (PQTRANS_INERROR) is still the caller's: the barrier joins it
    # and the driver's error is raised; the caller rolls back.
    @db.exec('begin')
    assert_raises(PG::Error) { @db.exec('select 1/0') }
    assert_raises(PG::InFailedSqlTransaction) { branch('try') }
    assert_equal PG::PQTRANS_INERROR, @db.transaction_status
    @db.exec('rollback')
    assert_equal %i[ran run_business], branch('try')
  end

  def test_check_back
    assert_equal %i[ran run_business], branch('msg')
    assert_nil Dtmx::Barrier.for_msg(@gid).query_prepared(@db)
    lost = Dtmx::Barrier.for_msg("#{@gid}-lost")
    assert_raises(Dtmx::FailureError) { lost.query_prepared(@db) }
    assert_equal PG::PQTRANS_IDLE, @db.transaction_status, 'the fence is committed'
    late = Dtmx::Barrier.for_msg("#{@gid}-lost")
    assert_raises(Dtmx::DuplicatedError) { late.call(@db) { flunk 'must not run' } }
  end
end
