# frozen_string_literal: true

# Dtmx.xa_local on a real PostgreSQL (the pg gem; scripts/services sets
# max_prepared_transactions): phase one prepares the business SQL and registers the branch
# (through a recording transport), phase two commits it or rolls it back and fences a late
# phase one; the business code's own exception is what run raises.
require_relative 'test_helper'
require 'pg'
require 'securerandom'

class XaLocalPgTest < Minitest::Test
  def connect
    db = PG.connect(host: '127.0.0.1', user: 'postgres', password: ENV.fetch('PGPASSWORD', 'mysecretpassword'),
                    dbname: 'postgres')
    db.exec('set client_min_messages = warning')
    db
  end

  def setup
    @db = connect
    Dtmx::BarrierTable.new('postgres').ddl.each { |sql| @db.exec(sql) }
    @db.exec('create table if not exists dtmx_ruby_xa_ledger (gid text)')
    @gid = "dtmx-ruby-xa-#{SecureRandom.hex(6)}"
    @sent = []
  end

  def teardown
    @db.close
  end

  def rows(gid = @gid)
    @db.exec_params('select count(*) from dtmx_ruby_xa_ledger where gid = $1', [gid]).getvalue(0, 0).to_i
  end

  # Phase `op` of branch 01 of `gid` on a connection of its own.
  def xa(op, gid = @gid, &busi)
    busi ||= ->(db) { db.exec_params('insert into dtmx_ruby_xa_ledger (gid) values ($1)', [gid]) }
    branch = Dtmx::Branch.new(gid: gid, trans_type: 'xa', branch_id: '01', op: op,
                              dtm: 'http://dtm.test/api/dtmsvr', phase2_url: 'http://busi.test/xa')
    transport = lambda do |req|
      @sent << [req.method, req.url, JSON.parse(req.body)]
      [200, '{"dtm_result":"SUCCESS"}']
    end
    db = connect
    begin
      Dtmx.xa_local(db, branch, transport: transport, &busi)
    ensure
      db.close
    end
  end

  def test_phase_one_prepares_and_registers_phase_two_commits
    xa('action')
    assert_equal [['POST', 'http://dtm.test/api/dtmsvr/registerBranch',
                   { 'branch_id' => '01', 'gid' => @gid, 'trans_type' => 'xa', 'url' => 'http://busi.test/xa' }]], @sent
    assert_equal 0, rows, 'prepared, not committed'
    xa('commit')
    assert_equal 1, rows
    xa('commit') # done already: no such XA transaction is success
  end

  def test_the_business_exception_is_raised_and_a_rollback_fences_a_late_phase_one
    boom = RuntimeError.new('boom')
    raised = assert_raises(RuntimeError) { xa('action') { raise boom } }
    assert_same boom, raised
    assert_equal 0, rows
    other = "#{@gid}-late"
    xa('rollback', other)
    error = assert_raises(Dtmx::FailureError) { xa('action', other) }
    assert_match(/rolled back/, error.message)
    assert_equal 0, rows(other)
  end

  def test_machine_accessors
    xa = Dtmx::XaLocal.new({ gid: @gid, trans_type: 'xa', branch_id: '01', op: 'commit' },
                           Dtmx::BarrierTable.new('mysql'))
    assert_equal :commit, xa.phase
    assert_equal "#{@gid}-01", xa.xid
    assert_equal :execute, xa.step
    assert_equal "xa commit '#{@gid}-01'", xa.sql
    assert_nil xa.request
    assert_raises(Dtmx::InvalidArgumentError) { xa.finish }
    xa.feed_affected(0)
    assert_equal :done, xa.step
    xa.finish
    assert_raises(Dtmx::InvalidArgumentError) { Dtmx::XaLocal.new({ gid: 'g', branch_id: '01', op: 'commit' }, Dtmx::BarrierTable.new('sqlite')) }
  end
end
