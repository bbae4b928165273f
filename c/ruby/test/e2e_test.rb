# frozen_string_literal: true

# End to end against the real dtmx server (DTMX_BIN): sagas (success, rollback), a msg
# with its local transaction and check-back, TCC (confirm, cancel) and XA (client side).
# The business service is a TestKit::HttpServer in this process whose branches move money
# between two accounts in SQLite, guarded by the barrier (Dtmx::Barrier#call), and
# answer with Dtmx::Branch.handle.
require_relative 'test_helper'
require 'sqlite3'

# The business service: accounts 1 (out) and 2 (in) in one SQLite file.
class Bank
  attr_reader :url

  def initialize
    @dir = Dir.mktmpdir('dtmx-ruby-bank-')
    @path = File.join(@dir, 'bank.db')
    @table = Dtmx::BarrierTable.new('sqlite')
    @calls = [] # [gid, name, op], under @calls_lock
    @calls_lock = Mutex.new
    @lock = Mutex.new
    db do |d|
      @table.ddl.each { |s| d.execute(s) }
      d.execute('create table accounts (id integer primary key, balance integer not null)')
      d.execute('insert into accounts values (1, 1000), (2, 0)')
      d.execute('create table outbox (gid text primary key)')
    end
    @server = TestKit::HttpServer.new { |req| handle(req) }
    @url = "#{@server.url}/api/busi"
  end

  def close
    @server.close
    FileUtils.rm_rf(@dir)
  end

  # One connection per use, in the lock (SQLite has one writer at a time anyway).
  def db
    @lock.synchronize do
      d = SQLite3::Database.new(@path)
      begin
        d.busy_timeout = 5000
        yield d
      ensure
        d.close
      end
    end
  end

  def balances
    db { |d| d.execute('select balance from accounts order by id').flatten }
  end

  def adjust(d, id, amount)
    d.execute('update accounts set balance = balance + ? where id = ?', [amount, id])
  end

  # What every branch call does: record it, then the guarded business code.
  def handle(req)
    name = req.path.delete_prefix('/api/busi/')
    branch = Dtmx::Branch.from_query(req.query)
    @calls_lock.synchronize { @calls << [branch.gid, name, branch.op] }
    payload = req.body.to_s.empty? ? {} : JSON.parse(req.body)
    Dtmx::Branch.handle do
      case name
      when 'QueryPrepared'
        db { |d| Dtmx::Barrier.from_query(req.query).query_prepared(d, @table) }
      when 'XaCommit', 'XaRollback', 'Plain'
        nil
      else
        guarded(req, name, payload)
      end
    end
  end

  def guarded(req, name, payload)
    barrier = Dtmx::Barrier.from_query(req.query)
    amount = payload.fetch('amount', 0)
    db do |d|
      barrier.call(d, @table) do
        case name
        when 'TransOut', 'TransOutTry' then adjust(d, 1, -amount)
        when 'TransOutRevert', 'TransOutCancel' then adjust(d, 1, amount)
        when 'TransIn', 'TransInTry'
          raise Dtmx::FailureError, 'refused' if payload['trans_in_result'] == 'FAILURE'

          adjust(d, 2, amount)
        when 'TransInRevert', 'TransInCancel' then adjust(d, 2, -amount)
        when 'TransOutConfirm', 'TransInConfirm' then nil
        else raise "unknown branch #{name}"
        end
      end
    end
  end

  # The calls of transaction `gid` so far, in order: [name, op].
  def calls_of(gid)
    @calls_lock.synchronize { @calls.select { |c| c[0] == gid }.map { |c| c.drop(1) } }
  end
end

class E2eTest < Minitest::Test
  class << self
    def shared
      @shared ||= begin
        server = TestKit::Server.new
        bank = begin
          Bank.new
        rescue StandardError
          server.stop
          raise
        end
        Minitest.after_run do
          bank.close
          server.stop
        end
        [server, bank]
      end
    end
  end

  def setup
    @server, @bank = self.class.shared
    @client = Dtmx::Client.new(@server.url)
    @before = @bank.balances
  end

  def busi
    @bank.url
  end

  def moved
    @bank.balances.zip(@before).map { |now, was| now - was }
  end

  def test_server_gids
    gid = @client.new_gid
    refute_empty gid
    refute_equal gid, @client.new_gid
    refute_equal @client.local_gid, @client.local_gid
  end

  def test_saga_success
    saga = Dtmx::Saga.new(@client, wait_result: true)
    saga.add("#{busi}/TransOut", "#{busi}/TransOutRevert", { amount: 30 })
        .add("#{busi}/TransIn", "#{busi}/TransInRevert", { amount: 30 })
    saga.submit
    assert_equal 'succeed', @client.wait_final(saga.gid, timeout: 10)
    assert_equal [-30, 30], moved
    assert_equal [%w[TransOut action], %w[TransIn action]], @bank.calls_of(saga.gid)
    q = @client.query(saga.gid)
    assert_equal 'succeed', q['transaction']['status']
    assert_equal saga.gid, q['transaction']['gid']
    assert_equal 'saga', q['transaction']['trans_type']
  end

  def test_saga_rollback
    saga = @client.saga(wait_result: true)
    saga.add("#{busi}/TransOut", "#{busi}/TransOutRevert", { amount: 30 })
    saga.add("#{busi}/TransIn", "#{busi}/TransInRevert", { amount: 30, trans_in_result: 'FAILURE' })
    e = assert_raises(Dtmx::FailureError) { saga.submit }
    assert_equal 'failure', e.kind
    assert_equal 'failed', @client.wait_final(saga.gid, timeout: 10)
    # TransIn refused (rolled back with its barrier row); its compensation is a null
    # compensation; TransOut's compensation gives the money back.
    assert_equal [0, 0], moved
    calls = @bank.calls_of(saga.gid)
    assert_includes calls, %w[TransOutRevert compensate]
    assert_equal %w[TransOut action], calls.first
  end

  def test_saga_without_wait_result
    saga = Dtmx::Saga.new(@client, retry_interval: 1)
    saga.add("#{busi}/TransOut", "#{busi}/TransOutRevert", '{"amount":5}')
    saga.submit
    assert_equal 'succeed', @client.wait_final(saga.gid, timeout: 10)
    assert_equal [-5, 0], moved
  end

  def test_msg_do_and_submit
    msg = Dtmx::Msg.new(@client)
    msg.add("#{busi}/TransIn", { amount: 7 })
    table = Dtmx::BarrierTable.new('sqlite')
    msg.do_and_submit("#{busi}/QueryPrepared") do |barrier|
      assert_equal ['msg', msg.gid, '00', 'msg'], [barrier.trans_type, barrier.gid, barrier.branch_id, barrier.op]
      @bank.db do |d|
        d.transaction do # the caller's transaction, joined by the barrier
          barrier.call(d, table) { @bank.adjust(d, 1, -7) }
        end
      end
    end
    assert_equal 'succeed', @client.wait_final(msg.gid, timeout: 10)
    assert_equal [-7, 7], moved
  end

  def test_msg_local_failure_aborts
    msg = Dtmx::Msg.new(@client)
    msg.add("#{busi}/TransIn", { amount: 7 })
    lent = nil
    e = assert_raises(Dtmx::FailureError) do
      msg.do_and_submit("#{busi}/QueryPrepared") do |barrier|
        lent = barrier
        raise Dtmx::FailureError, 'no money'
      end
    end
    assert_equal 'no money', e.message
    assert_equal 'failed', @client.wait_final(msg.gid, timeout: 10)
    assert_equal [0, 0], moved
    # The barrier was lent for the block only.
    assert lent.freed?
    assert_raises(Dtmx::InvalidArgumentError) { lent.gid }
  end

  def test_msg_check_back_fences_a_lost_local_transaction
    # Prepared, local transaction never committed, no submit: after timeout_to_fail dtm
    # asks the check-back, which fences the gid off and answers FAILURE.
    msg = Dtmx::Msg.new(@client, timeout_to_fail: 2)
    msg.add("#{busi}/TransIn", { amount: 3 })
    msg.prepare("#{busi}/QueryPrepared")
    assert_equal 'failed', @client.wait_final(msg.gid, timeout: 30)
    assert_equal [0, 0], moved
    assert_includes @bank.calls_of(msg.gid).map(&:first), 'QueryPrepared'
  end

  def test_msg_check_back_finds_a_committed_local_transaction
    # The local transaction committed, then the process "crashed" before the submit: the
    # check-back answers SUCCESS and dtm runs the steps.
    msg = Dtmx::Msg.new(@client, timeout_to_fail: 2)
    msg.add("#{busi}/TransIn", { amount: 4 })
    msg.prepare("#{busi}/QueryPrepared")
    table = Dtmx::BarrierTable.new('sqlite')
    barrier = Dtmx::Barrier.for_msg(msg.gid)
    @bank.db { |d| barrier.call(d, table) { @bank.adjust(d, 1, -4) } }
    assert_equal 'succeed', @client.wait_final(msg.gid, timeout: 30)
    assert_equal [-4, 4], moved
  end

  def test_msg_ruby_exception_is_reraised
    msg = Dtmx::Msg.new(@client)
    msg.add("#{busi}/TransIn", { amount: 1 })
    assert_raises(KeyError) do
      msg.do_and_submit("#{busi}/QueryPrepared") { {}.fetch(:missing) }
    end
  end

  def test_tcc_confirm
    tcc = Dtmx::Tcc.new(@client, wait_result: true)
    tcc.run do |t|
      assert_equal '00', t.current_branch_id
      t.call_branch({ amount: 11 }, "#{busi}/TransOutTry", "#{busi}/TransOutConfirm", "#{busi}/TransOutCancel")
      assert_equal '01', t.current_branch_id
      t.call_branch({ amount: 11 }, "#{busi}/TransInTry", "#{busi}/TransInConfirm", "#{busi}/TransInCancel")
    end
    assert_equal 'succeed', @client.wait_final(tcc.gid, timeout: 10)
    assert_equal [-11, 11], moved
    ops = @bank.calls_of(tcc.gid).map(&:last)
    assert_equal %w[try try], ops.first(2)
    assert_equal %w[confirm confirm], ops.drop(2)
  end

  def test_tcc_cancel
    tcc = Dtmx::Tcc.new(@client, wait_result: true)
    assert_raises(Dtmx::FailureError) do
      tcc.run do |t|
        t.call_branch({ amount: 11 }, "#{busi}/TransOutTry", "#{busi}/TransOutConfirm", "#{busi}/TransOutCancel")
        t.call_branch({ amount: 11, trans_in_result: 'FAILURE' }, "#{busi}/TransInTry", "#{busi}/TransInConfirm",
                      "#{busi}/TransInCancel")
      end
    end
    assert_equal 'failed', @client.wait_final(tcc.gid, timeout: 10)
    assert_equal [0, 0], moved
    assert_includes @bank.calls_of(tcc.gid), %w[TransOutCancel cancel]
  end

  def test_xa_client_side
    xa = Dtmx::Xa.new(@client, wait_result: true)
    xa.run do |x|
      x.call_branch({ amount: 1 }, "#{busi}/Plain")
      assert_equal '01', x.current_branch_id
    end
    assert_equal 'succeed', @client.wait_final(xa.gid, timeout: 10)
  end

  def test_wait_final_times_out
    e = assert_raises(Dtmx::TimeoutError) { @client.wait_final('no-such-gid', timeout: 0.3) }
    assert_equal 'timeout', e.kind
    assert_nil @client.query('no-such-gid')['transaction']
  end

  def test_unreachable_server_is_a_transport_error
    client = Dtmx::Client.new("http://127.0.0.1:#{TestKit.free_port}/api/dtmsvr")
    assert_raises(Dtmx::TransportError) { client.new_gid }
  end

  def test_business_service_runs_while_submit_blocks
    # The service runs on Ruby threads of this process: submit must release the GVL.
    t0 = Time.now
    Dtmx::Saga.new(@client, wait_result: true).add("#{busi}/TransOut", "#{busi}/TransOutRevert", { amount: 1 }).submit
    assert_operator Time.now - t0, :<, 10
  end
end
