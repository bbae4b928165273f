# frozen_string_literal: true

# Replays every scenario of tests/vectors/scenarios (see the README there) through the
# gem's public API against judge.py, the scripted DTM server, branch service and judge:
# one test per scenario. The barrier scenarios run Barrier#call and
# Barrier#query_prepared on a real SQLite database (the sqlite3 gem), read back on a
# second connection.
require_relative 'test_helper'
require 'net/http'
require 'sqlite3'

module Scenarios
  DIR = File.join(REPO, 'tests', 'vectors', 'scenarios')

  module_function

  # Every scenario of every file.
  def all
    Dir[File.join(DIR, '*.json')].sort.flat_map { |f| JSON.parse(File.read(f))['scenarios'] }
  end

  # The judge's URL; the judge starts on first use and stops after the run (its standard
  # input closes).
  def judge_url
    @judge_url ||= begin
      judge = IO.popen(['python3', File.join(DIR, 'judge.py')], 'r+')
      Minitest.after_run { judge.close }
      JSON.parse(judge.gets)['url']
    end
  end

  # POSTs `body` to the judge and returns its JSON answer.
  def post(route, body)
    reply = Net::HTTP.post(URI("#{judge_url}#{route}"), JSON.generate(body), 'Content-Type' => 'application/json')
    raise "judge #{route}: #{reply.code} #{reply.body}" unless reply.code == '200'

    JSON.parse(reply.body)
  end

  # Runs scenario `s` (URLs substituted) through the public API; its outcome value.
  def run(s, urls)
    client = Dtmx::Client.new(s.dig('client', 'server') == 'closed' ? urls['closed'] : urls['dtm'])
    t = s['transaction']
    options = (t['options'] || {}).transform_keys(&:to_sym)
    steps = s['steps']
    case t['type']
    when 'saga' then run_saga(client.saga(gid: t['gid'], **options), steps)
    when 'msg' then run_msg(client.msg(gid: t['gid'], **options), steps)
    when 'tcc' then client.tcc(gid: t['gid'], **options).run { |tcc| body(steps[0]['body'], tcc) }
    when 'xa' then client.xa(gid: t['gid'], **options).run { |xa| body(steps[0]['body'], xa) }
    else raise ArgumentError, "unknown transaction type #{t['type']}"
    end
  end

  def run_saga(saga, steps)
    steps.each do |step|
      case step['op']
      when 'add' then saga.add(step['action'], step['compensate'], payload(step['payload']))
      when 'submit' then saga.submit
      else raise ArgumentError, "unknown step #{step['op']}"
      end
    end
    nil
  end

  def run_msg(msg, steps)
    out = nil
    steps.each do |step|
      case step['op']
      when 'add' then msg.add(step['action'], payload(step['payload']))
      when 'submit' then msg.submit
      when 'do_and_submit' then out = msg.do_and_submit(step['query_prepared']) { body(step['body'], nil) }
      else raise ArgumentError, "unknown step #{step['op']}"
      end
    end
    out
  end

  # Runs barrier scenario `s` on a new SQLite file; the outcome for the judge.
  def run_barrier(s, dir)
    path = File.join(dir, "#{s['name']}.db")
    db = SQLite3::Database.new(path)
    db.busy_timeout = 10_000
    db.execute('pragma journal_mode = wal')
    Dtmx::BarrierTable.new('sqlite').ddl.each { |sql| db.execute(sql) }
    db.execute('create table ledger (gid text, value text)')
    outcomes = s['steps'].map do |step|
      { result: barrier_step(db, step) }
    rescue ArgumentError
      raise
    rescue StandardError => e
      { error: error_json(e) }
    end
    reader = SQLite3::Database.new(path)
    ledger = reader.execute("select gid || ' ' || value from ledger order by 1").flatten
    rows = reader.execute('select trans_type, gid, branch_id, op, barrier_id, reason from barrier order by 1, 2, 3, 4, 5, 6')
    { host: 'ruby', outcomes: outcomes, ledger: ledger, barrier_rows: rows, in_transaction: db.transaction_active? }
  ensure
    reader&.close
    db&.close
  end

  # One barrier scenario step on `db`; its result.
  def barrier_step(db, step)
    case step['op']
    when 'begin' then db.transaction && nil
    when 'commit' then db.commit && nil
    when 'rollback' then db.rollback && nil
    when 'check_back' then Dtmx::Barrier.for_msg(step['gid']).query_prepared(db)
    when 'barrier_call'
      b = step['barrier']
      Dtmx::Barrier.new(b['trans_type'], b['gid'], b['branch_id'], b['op']).call(db) do |conn|
        value = nil
        step['body'].each do |busi|
          next conn.execute('insert into ledger (gid, value) values (?, ?)', [b['gid'], busi['value']]) if busi['op'] == 'write'

          value = body([busi], nil) # return or raise
          break
        end
        value
      end
    else raise ArgumentError, "unknown barrier step #{step['op']}"
    end
  end

  # Runs body steps on the transaction the body was given.
  def body(steps, trans)
    steps.each do |step|
      case step['op']
      when 'call_branch'
        if trans.is_a?(Dtmx::Tcc)
          trans.call_branch(payload(step['payload']), step['try'], step['confirm'], step['cancel'])
        else
          trans.call_branch(payload(step['payload']), step['url'])
        end
      when 'return' then return step['value']
      when 'raise'
        raise step['message'] if step['kind'] == 'host' # a RuntimeError, the host's own

        raise Dtmx.error_class(step['kind']), step['message']
      else raise ArgumentError, "unknown body step #{step['op']}"
      end
    end
    nil
  end

  # A step's payload: `$unserializable` is a value JSON.generate refuses.
  def payload(value)
    value.is_a?(Hash) && value.key?('$unserializable') ? Float::NAN : value
  end

  # The error as the judge reads it.
  def error_json(e)
    dtmx = e.is_a?(Dtmx::Error)
    { kind: dtmx ? e.kind : 'host', class: e.class.name.split('::').last, message: e.message,
      notes: Dtmx.notes(e), status: dtmx ? e.status : nil }
  end
end

class ScenariosTest < Minitest::Test
  def test_there_are_scenarios
    assert_operator Scenarios.all.size, :>=, 30
  end

  Scenarios.all.each do |scenario|
    define_method("test_#{scenario['name']}") do
      urls = Scenarios.post('/__scenario', { name: scenario['name'] })
      text = JSON.generate(scenario)
      %w[dtm branch closed].each { |k| text = text.gsub("{#{k}}", urls[k]) }
      s = JSON.parse(text)
      outcome = s['database'] ? barrier_outcome(s) : outcome(s, urls)
      verdict = Scenarios.post('/__outcome', outcome)
      assert verdict['ok'], verdict['problems'].join('; ')
    end
  end

  # The outcome of a transaction scenario.
  def outcome(scenario, urls)
    { host: 'ruby', result: Scenarios.run(scenario, urls), error: nil }
  rescue ArgumentError
    raise
  rescue StandardError => e
    { host: 'ruby', result: nil, error: Scenarios.error_json(e) }
  end

  # The outcome of a barrier scenario, on SQLite.
  def barrier_outcome(scenario)
    assert_equal 'sqlite', scenario['database']
    Dir.mktmpdir('dtmx-ruby-scenario-') { |dir| Scenarios.run_barrier(scenario, dir) }
  end
end
