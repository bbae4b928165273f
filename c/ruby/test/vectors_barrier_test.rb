# frozen_string_literal: true

# Replays every tests/vectors/barrier*.json file against the Ruby barrier API (every
# case with steps once per dialect).
require_relative 'test_helper'

class VectorsBarrierTest < Minitest::Test
  FILES = Dir[File.join(TestKit::VECTORS, 'barrier*.json')].sort.map { |f| [File.basename(f), TestKit.load_vectors(File.basename(f))] }

  def barrier(b)
    Dtmx::Barrier.new(b['trans_type'], b['gid'], b['branch_id'], b['op'])
  end

  def default_table(data, dialect)
    data['tables'].find { |t| t['dialect'] == dialect && t['table'].nil? }
  end

  def dialects(data)
    data['tables'].map { |t| t['dialect'] }.uniq.sort
  end

  def advance(b, c)
    ((c['call_index'] || 1) - 1).times { b.next_barrier_id }
  end

  # Drives the machine through the steps; returns its result.
  def replay(machine, steps, table)
    steps.each do |s|
      assert_equal(s['run'] == 'insert_ignore' ? :execute : :query_reason, machine.step)
      assert_equal table[s['run']], machine.sql
      assert_equal s['params'], machine.params
      machine.step == :execute ? machine.feed_affected(s['affected']) : machine.feed_reason(s['reason'])
    end
    assert_equal :done, machine.step
    machine.result
  end

  # The same replay through BarrierCall#run (the runner the helpers use).
  def replay_run(machine, steps, table)
    queue = steps.dup
    machine.run do |kind, sql, params|
      s = queue.shift
      refute_nil s, 'more steps than expected'
      assert_equal(s['run'] == 'insert_ignore' ? :execute : :query_reason, kind)
      assert_equal table[s['run']], sql
      assert_equal s['params'], params
      kind == :execute ? s['affected'] : s['reason']
    end.tap { assert_empty queue }
  end

  def assert_kind(kind, &block)
    e = assert_raises(Dtmx::Error, &block)
    assert_equal kind, e.kind, e.message
    e
  end

  def self.cases(file, data, section)
    (data[section] || []).each_with_index do |c, i|
      label = c.is_a?(Hash) ? (c['name'] || i) : c
      define_method("test_#{file}_#{section}_#{i}_#{label.to_s.gsub(/\W+/, '_')}") { send("check_#{section}", data, c) }
    end
  end

  def check_dialects(_data, c)
    [c['name'], *c['aliases']].each { |n| assert_equal c['name'], Dtmx::BarrierTable.new(n).dialect }
  end

  def check_invalid_dialects(_data, c)
    assert_raises(Dtmx::InvalidArgumentError) { Dtmx::BarrierTable.new(c) }
  end

  def check_tables(_data, c)
    t = Dtmx::BarrierTable.new(c['dialect'], c['table'])
    assert_equal c['name'], t.name
    assert_equal c['insert_ignore'], t.insert_ignore_sql
    assert_equal c['select_reason'], t.select_reason_sql
    assert_equal c['ddl'], t.ddl
  end

  def check_invalid_table_names(_data, c)
    %w[mysql postgres sqlite].each do |d|
      assert_raises(Dtmx::InvalidArgumentError) { Dtmx::BarrierTable.new(d, c) }
    end
  end

  def check_construction(_data, c)
    build = lambda do
      if c['fields'] then barrier(c['fields'])
      elsif c['query'] then Dtmx::Barrier.from_query_pairs(c['query'])
      else Dtmx::Barrier.from_grpc_metadata(c['grpc_metadata'])
      end
    end
    if c['expect']
      b = build.call
      c['expect'].each { |k, v| assert_equal v, b.public_send(k), k }
    else
      e = assert_kind(c['error_kind'], &build)
      assert e.message.start_with?(c['error_prefix']), e.message
    end
  end

  def check_calls(data, c)
    dialects(data).each do |d|
      [:replay, :replay_run].each do |how|
        b = barrier(c['barrier'])
        advance(b, c)
        m = b.call_machine(Dtmx::BarrierTable.new(d))
        assert_equal format('%02d', c['call_index'] || 1), m.barrier_id
        assert_equal c['decision'], send(how, m, c['steps'], default_table(data, d))
        assert_equal c['decision'].to_sym, m.decision
        if c['error_kind']
          assert_kind(c['error_kind']) { m.check }
        else
          assert_nil m.check
        end
      end
    end
  end

  def check_query_prepared(data, c)
    dialects(data).each do |d|
      [:replay, :replay_run].each do |how|
        q = barrier(c['barrier']).query_prepared_machine(Dtmx::BarrierTable.new(d))
        if c.key?('result')
          assert_equal c['result'], send(how, q, c['steps'], default_table(data, d))
          assert_equal :none, q.decision
        else
          assert_kind(c['error_kind']) { send(how, q, c['steps'], default_table(data, d)) }
        end
      end
    end
  end

  def check_xa(data, c)
    dialects(data).each do |d|
      b = barrier(c['barrier'])
      t = Dtmx::BarrierTable.new(d)
      table = default_table(data, d)
      if c['kind'] == 'action'
        advance(b, c)
        assert_equal c['decision'], replay(b.xa_action_machine(t), c['steps'], table)
      else
        s = b.xa_rollback_fence(t)
        assert_equal table[c['statement']['run']], s.sql
        assert_equal c['statement']['params'], s.params
      end
    end
  end

  def check_redis(c, make, want_key)
    if c['keys'].nil?
      assert_kind(c['error_kind'], &make)
      return
    end
    r = make.call
    assert_equal c['keys'], r.keys
    assert_equal c['args'], r.args
    refute_empty r.script
    if c.key?(want_key)
      assert_equal c[want_key], r.decide(c['reply'])
    else
      assert_kind(c['error_kind']) { r.decide(c['reply']) }
    end
  end

  def check_redis_check_adjust_amount(_data, c)
    b = barrier(c['barrier'])
    advance(b, c)
    check_redis(c, -> { b.redis_check_adjust_amount_call(c['key'], c['amount'], c['expire']) }, 'decision')
  end

  def check_redis_query_prepared(_data, c)
    b = barrier(c['barrier'])
    check_redis(c, -> { b.redis_query_prepared_call(c['expire']) }, 'result')
  end

  SECTIONS = %w[dialects invalid_dialects tables invalid_table_names construction calls query_prepared xa
                redis_check_adjust_amount redis_query_prepared].freeze

  FILES.each do |file, data|
    name = file.sub(/\.json\z/, '').gsub(/\W+/, '_')
    SECTIONS.each { |section| cases(name, data, section) }
    define_method("test_#{name}_has_no_unknown_section") do
      assert_empty data.keys - SECTIONS - %w[about version]
    end
  end
end
