# frozen_string_literal: true

# Replays every case of tests/vectors/requests.json through the Ruby API, with a client
# whose transport (an FFI callback) records each request and answers with the case's
# scripted replies. xa_local cases (the RM side of XA) drive a Dtmx::XaLocal with the
# case's scripted SQL results, business outcome and replies, and compare its events.
require_relative 'test_helper'

class VectorsRequestsTest < Minitest::Test
  FILE = TestKit.load_vectors('requests.json')

  # Records what the transport sees of one case.
  class Recorder
    attr_reader :requests

    def initialize(replies, default_reply)
      @replies = (replies || []).to_h { |r| [r['url'], r] }
      @default = default_reply
      @requests = []
    end

    def call(req)
      url, query = req.url.split('?', 2)
      @requests << {
        'method' => req.method,
        'url' => url,
        'query' => TestKit.query_hash(query),
        'headers' => req.headers.to_h { |k, v| [k.downcase, v] },
        'body' => parse_body(req.body)
      }
      r = @replies[url] || @default
      [r['status'], r['body']]
    end

    def parse_body(body)
      return nil if body.nil? || body.empty?

      JSON.parse(body)
    rescue JSON::ParserError
      body
    end
  end

  def options(c)
    (c['options'] || {}).transform_keys(&:to_sym)
  end

  def busi(name, gid)
    lambda do |barrier|
      assert_equal ['msg', gid, '00', 'msg'], [barrier.trans_type, barrier.gid, barrier.branch_id, barrier.op]
      case name
      when 'failure' then raise Dtmx::FailureError, 'business failure FAILURE'
      when 'ongoing' then raise Dtmx::OngoingError, 'business ongoing'
      when 'error' then raise Dtmx::DatabaseError, 'business error'
      end
    end
  end

  def run_calls(target, calls, c)
    calls.each do |call|
      case call['call']
      when 'add'
        if target.is_a?(Dtmx::Saga)
          target.add(call['action'], call['compensate'], call['payload'])
        else
          target.add(call['action'], call['payload'])
        end
      when 'add_branch_order' then target.add_branch_order(call['branch'], call['pre_branches'])
      when 'enable_concurrent' then target.enable_concurrent
      when 'add_topic' then target.add_topic(call['topic'], call['payload'])
      when 'set_delay' then target.set_delay(call['seconds'])
      when 'prepare' then target.prepare(call['query_prepared'])
      when 'submit' then target.submit
      when 'abort' then target.abort
      when 'do_and_submit' then target.do_and_submit(call['query_prepared'], &busi(call['busi'], c['gid']))
      when 'call_branch'
        if target.is_a?(Dtmx::Tcc)
          target.call_branch(call['payload'], call['try'], call['confirm'], call['cancel'])
        else
          target.call_branch(call['payload'], call['url'])
        end
      else flunk "unknown call #{call['call']}"
      end
    end
    nil
  end

  def run_case(c, client)
    case c['kind']
    when 'saga' then run_calls(Dtmx::Saga.new(client, gid: c['gid'], **options(c)), c['calls'], c)
    when 'msg' then run_calls(Dtmx::Msg.new(client, gid: c['gid'], **options(c)), c['calls'], c)
    when 'tcc' then Dtmx::Tcc.new(client, gid: c['gid'], **options(c)).run { |t| run_calls(t, c['calls'], c) }
    when 'tcc_nested'
      tcc = client.tcc_from_branch(Dtmx::Branch.from_query_pairs(c['branch']))
      run_calls(tcc, c['calls'], c)
    when 'xa' then Dtmx::Xa.new(client, gid: c['gid'], **options(c)).run { |x| run_calls(x, c['calls'], c) }
    when 'new_gid' then client.new_gid
    else flunk "unknown kind #{c['kind']}"
    end
  end

  def check_request(got, want, i)
    assert_equal want['method'], got['method'], "request #{i} method"
    assert_equal want['url'], got['url'], "request #{i} url"
    assert_equal want['query'] || {}, got['query'], "request #{i} query"
    (want['headers'] || {}).each do |name, value|
      assert_equal value, got['headers'][name.downcase], "request #{i} header #{name}"
    end
    if want['body'].nil?
      assert_nil got['body'], "request #{i} body"
    else
      assert_equal want['body'], got['body'], "request #{i} body"
    end
    return unless want['body'].is_a?(Hash)

    assert_equal want['body'].keys, got['body'].keys, "request #{i} key order"
  end

  # The RM side of one XA branch call with the case's scripted SQL errors (every other
  # statement affects 1 row), business outcome and replies; what it did, as events.
  def run_xa_local(c, rec, events)
    xa = Dtmx::XaLocal.new(c['branch'], Dtmx::BarrierTable.new(c['dialect']))
    errors = c['sql_errors'] || {}
    loop do
      case xa.step
      when :done then break
      when :execute
        sql = xa.sql
        events << (sql.start_with?('insert') ? { 'barrier_insert' => xa.params } : { 'sql' => sql })
        errors.key?(sql) ? xa.feed_sql_error(errors[sql]) : xa.feed_affected(1)
      when :query_reason
        events << { 'query_reason' => xa.params }
        xa.feed_reason(nil)
      when :run_business
        events << { 'business' => true }
        xa.feed_business(case c['business'] || 'ok'
                         when 'ok' then nil
                         when 'failure' then Dtmx::FailureError.new('business failure')
                         else Dtmx::DatabaseError.new('business error')
                         end)
      when :send
        status, body = rec.call(xa.request)
        events << { 'request' => rec.requests.last }
        xa.feed_reply(status, body)
      end
    end
    xa.finish
  ensure
    xa&.free
  end

  def check_xa_local(c, rec)
    events = []
    result = 'ok'
    begin
      run_xa_local(c, rec, events)
    rescue Dtmx::Error => e
      result = e.kind
    end
    assert_equal c['result'], result, "result of #{c['name']}"
    assert_equal c['events'].size, events.size, events.inspect
    c['events'].each_with_index do |want, i|
      if want['request']
        check_request(events[i]['request'], want['request'], i)
      else
        assert_equal want, events[i], "event #{i}"
      end
    end
  end

  FILE['cases'].each do |c|
    define_method("test_requests_#{c['name'].gsub(/\W+/, '_')}") do
      rec = Recorder.new(c['replies'], FILE['default_reply'])
      next check_xa_local(c, rec) if c['kind'] == 'xa_local'

      client = Dtmx::Client.with_transport(c['dtm'] || FILE['dtm']) { |req| rec.call(req) }
      result = 'ok'
      value = nil
      begin
        value = run_case(c, client)
      rescue Dtmx::Error => e
        result = e.kind
      end
      assert_equal c['result'], result, "result of #{c['name']}"
      assert_equal c['value'], value if c['kind'] == 'new_gid'
      want = c['requests']
      assert_equal want.size, rec.requests.size, rec.requests.map { |r| r['url'] }.inspect
      want.each_with_index { |w, i| check_request(rec.requests[i], w, i) }
    end
  end
end
