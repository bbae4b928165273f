# frozen_string_literal: true

# Ownership: handles are freed by the GC (FFI::AutoPointer) or explicitly with `free`;
# nothing crashes either way, a freed handle raises instead of touching freed memory, and
# what libdtmx still calls (a transport callback) stays alive as long as it is needed.
require_relative 'test_helper'

class GcTest < Minitest::Test
  DTM = 'http://dtm.test/api/dtmsvr'

  def ok_transport
    ->(_req) { [200, '{"dtm_result":"SUCCESS"}'] }
  end

  def make_everything(i)
    client = Dtmx::Client.with_transport(DTM, &ok_transport)
    saga = client.saga(gid: "g#{i}", retry_limit: 3).add('http://b/a', 'http://b/c', '{}')
    msg = client.msg.add('http://b/a', { n: i })
    tcc = client.tcc(branch_headers: { 'X' => 'y' })
    xa = client.xa
    table = Dtmx::BarrierTable.new(%w[mysql postgres sqlite][i % 3])
    barrier = Dtmx::Barrier.new('saga', "g#{i}", '01', 'action')
    call = barrier.call_machine(table)
    qp = Dtmx::Barrier.from_query("gid=g#{i}&trans_type=msg&branch_id=00&op=msg").query_prepared_machine(table)
    redis = barrier.redis_check_adjust_amount_call('k', -1, 60)
    fence = Dtmx::Barrier.new('xa', "g#{i}", '01', 'rollback').xa_rollback_fence(table)
    branch = Dtmx::Branch.from_query("gid=g#{i}&trans_type=saga&branch_id=01&op=action")
    [saga, msg, tcc, xa, call, qp, redis, fence, branch, table.ddl, client.local_gid]
  end

  def test_many_handles_dropped_then_collected
    3.times do |round|
      300.times { |i| make_everything(round * 1000 + i) }
      GC.start(full_mark: true, immediate_sweep: true)
    end
    GC.compact if GC.respond_to?(:compact)
    GC.start
    # Still working afterwards.
    assert_equal 'run_business',
                 Dtmx::Barrier.new('saga', 'g', '01', 'action').call_machine(Dtmx::BarrierTable.new('mysql')).feed_affected(1).result
  end

  def test_the_gc_calls_the_free_functions
    freed = Hash.new(0)
    fns = %i[dtmx_client_free dtmx_saga_free dtmx_barrier_free dtmx_barrier_call_free dtmx_barrier_table_free]
    originals = fns.to_h { |f| [f, Dtmx::Native.method(f)] }
    redefine = lambda do |&block|
      verbose = $VERBOSE
      $VERBOSE = nil # no "method redefined" warnings
      block.call
    ensure
      $VERBOSE = verbose
    end
    redefine.call do
      originals.each do |f, orig|
        Dtmx::Native.define_singleton_method(f) do |ptr|
          freed[f] += 1
          orig.call(ptr)
        end
      end
    end
    begin
      500.times do
        Dtmx::Client.with_transport(DTM, &ok_transport).saga
        Dtmx::Barrier.new('saga', 'g', '01', 'action').call_machine(Dtmx::BarrierTable.new('mysql'))
      end
      3.times { GC.start(full_mark: true, immediate_sweep: true) }
    ensure
      redefine.call { originals.each { |f, orig| Dtmx::Native.define_singleton_method(f, orig) } }
    end
    # A conservative GC may keep a few alive from the stack; almost all are gone.
    fns.each { |f| assert_operator freed[f], :>=, 450, "#{f}: #{freed[f]}" }
  end

  def test_handles_used_while_the_gc_runs
    saga = nil
    200.times do |i|
      saga = make_everything(i).first
      GC.start if (i % 50).zero?
    end
    saga.submit
  end

  def test_explicit_free
    client = Dtmx::Client.with_transport(DTM, &ok_transport)
    assert_equal DTM, client.server
    things = [client, client.saga, client.msg, client.tcc, client.xa, Dtmx::BarrierTable.new('sqlite'),
              Dtmx::Barrier.new('tcc', 'g', '01', 'try')]
    things << things.last.call_machine(things[5]) << things[6].redis_query_prepared_call(10)
    things.reverse_each do |h|
      refute h.freed?
      assert_nil h.free
      assert h.freed?
      assert_nil h.free # twice is fine
      h.close # alias
    end
    assert_raises(Dtmx::InvalidArgumentError) { things[1].submit }
    assert_raises(Dtmx::InvalidArgumentError) { things[0].local_gid }
    assert_raises(Dtmx::InvalidArgumentError) { things[5].ddl }
    assert_raises(Dtmx::InvalidArgumentError) { things[7].step }
    GC.start
  end

  def test_transactions_outlive_their_client
    seen = []
    client = Dtmx::Client.with_transport(DTM) do |req|
      seen << req.url
      [200, '{"dtm_result":"SUCCESS"}']
    end
    saga = client.saga.add('http://b/a', 'http://b/c', '{}')
    client.free
    client = nil # rubocop:disable Lint/UselessAssignment
    5.times { GC.start(full_mark: true, immediate_sweep: true) }
    saga.submit
    assert_equal ["#{DTM}/submit"], seen
  end

  def test_transport_callback_survives_gc_of_everything_but_the_transaction
    seen = 0
    tcc = Dtmx::Client.with_transport(DTM) { |_r| seen += 1; [200, '{"dtm_result":"SUCCESS"}'] }.tcc
    5.times { GC.start(full_mark: true, immediate_sweep: true) }
    tcc.run { |t| assert_equal '{"dtm_result":"SUCCESS"}', t.call_branch('{}', 'http://b/try', 'http://b/c', 'http://b/x') }
    assert_equal 4, seen # prepare, registerBranch, try, submit
  end

  def test_transport_exception_is_a_transport_error
    client = Dtmx::Client.with_transport(DTM) { |_r| raise IOError, 'wire cut' }
    e = assert_raises(Dtmx::TransportError) { client.new_gid }
    assert_includes e.message, 'wire cut'
  end

  def test_client_shared_between_threads
    client = Dtmx::Client.with_transport(DTM, &ok_transport)
    gids = 8.times.map { Thread.new { Array.new(200) { client.local_gid } } }.flat_map(&:value)
    assert_equal 1600, gids.uniq.size
  end

  def test_errors
    assert_equal Dtmx::Error, Dtmx::DtmxError
    Dtmx::ERROR_CLASSES.each do |code, klass|
      assert_operator klass, :<, Dtmx::Error
      assert_equal code, klass.new('m').code
      assert_equal klass, Dtmx.error_class(klass.kind)
      assert_equal "#{klass.kind.split('_').map(&:capitalize).join}Error", klass.name.split('::').last
    end
    assert_equal %w[invalid_argument transport server failure ongoing duplicated timeout database internal
                    unfinished],
                 Dtmx::ERROR_CLASSES.values.map(&:kind)
    e = assert_raises(Dtmx::InvalidArgumentError) { Dtmx::Saga.new(Dtmx::Client.with_transport(DTM, &ok_transport), nosuch: 1) }
    assert_equal 'invalid_argument', e.kind
    assert_equal 'unknown option "nosuch"', e.message
    assert_raises(Dtmx::InvalidArgumentError) { Dtmx::Barrier.new('saga', '', '01', 'action') }
    e = assert_raises(Dtmx::InvalidArgumentError) do
      Dtmx::Saga.new(Dtmx::Client.with_transport(DTM, &ok_transport)).add('http://b/a', '', { x: Float::NAN })
    end
    assert e.message.start_with?('invalid payload'), e.message
  end

  def test_notes_and_status
    e = Dtmx.error_for(10, 'g is not finished', notes: ['a note'], status: 'submitted')
    assert_instance_of Dtmx::UnfinishedError, e
    assert_equal ['a note'], e.notes
    assert_equal ['a note'], Dtmx.notes(e)
    assert_equal 'submitted', e.status
    assert_nil Dtmx::FailureError.new('x').status
    assert_equal [], Dtmx::FailureError.new('x').notes
    own = RuntimeError.new('mine')
    assert_equal [], Dtmx.notes(own)
    Dtmx.add_notes(own, ['abort failed: x'])
    Dtmx.add_notes(own, ['another'])
    assert_equal ['abort failed: x', 'another'], Dtmx.notes(own)
  end
end
