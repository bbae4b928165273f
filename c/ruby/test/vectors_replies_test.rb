# frozen_string_literal: true

# Replays every list of tests/vectors/replies.json: replies to outcomes and errors,
# outcomes to replies, handler errors to outcomes, branch identities.
require_relative 'test_helper'

class VectorsRepliesTest < Minitest::Test
  FILE = TestKit.load_vectors('replies.json')

  def self.each_case(list)
    (FILE[list] || []).each_with_index { |c, i| define_method("test_#{list}_#{i}") { yield_case(list, c) } }
  end

  def kind_of_call
    yield
    ['ok', nil]
  rescue Dtmx::Error => e
    [e.kind, e.message]
  end

  def check_kind(c, &block)
    kind, message = kind_of_call(&block)
    assert_equal c['kind'], kind
    assert_equal c['message'], message if c.key?('message') && kind != 'ok'
  end

  def yield_case(list, c)
    send("check_#{list}", c)
  end

  def check_branch_replies(c)
    outcome, message = Dtmx.outcome_from_http(c['status'], c['body'])
    assert_equal c['outcome'], outcome.to_s
    assert_equal c.fetch('message', c['body']), message if %w[failure ongoing].include?(c['outcome'])
  end

  def check_client_branch_replies(c)
    check_kind(c) { Dtmx.check_branch_reply(c['status'], c['body']) }
  end

  def check_server_replies(c)
    check_kind(c) { Dtmx.check_server_reply(c['status'], c['body']) }
  end

  def check_outcome_replies(c)
    status, body = Dtmx.outcome_reply(c['outcome'].to_sym, c['message'] || '')
    assert_equal c['http_status'], status
    assert_equal c['http_body'], JSON.parse(body)
    assert_equal c['grpc_code'], Dtmx.grpc_code(c['outcome'])
    assert_equal c['outcome'], Dtmx.outcome_from_http(status, body).first.to_s
  end

  def check_grpc_replies(c)
    assert_equal c['outcome'], Dtmx.outcome_from_grpc(c['code'], c['message']).first.to_s
  end

  def check_error_outcomes(c)
    klass = Dtmx.error_class(c['kind'])
    refute_nil klass, "no error class for #{c['kind']}"
    e = klass.new(c['message'])
    assert_equal c['kind'], e.kind
    assert_equal c['outcome'], Dtmx.outcome_of_error(e).first.to_s
    status, body = Dtmx.reply(e)
    assert_equal c['outcome'], Dtmx.outcome_from_http(status, body).first.to_s
  end

  def check_branch_requests(c)
    b = c.key?('query') ? Dtmx::Branch.from_query(c['query']) : Dtmx::Branch.from_grpc_metadata(c['metadata'])
    assert_equal c['branch'], b.to_h.transform_keys(&:to_s)
    assert_equal b, Dtmx::Branch.from_query(b.to_query)
    assert_equal b, Dtmx::Branch.from_query_pairs(URI.decode_www_form(b.to_query))
  end

  %w[branch_replies client_branch_replies server_replies outcome_replies grpc_replies error_outcomes
     branch_requests].each { |list| each_case(list) }

  def test_every_list_is_replayed
    lists = FILE.keys - %w[about version]
    assert_empty lists - %w[branch_replies client_branch_replies server_replies outcome_replies grpc_replies
                            error_outcomes branch_requests]
  end

  def test_a_ruby_exception_is_retried
    assert_equal :unknown, Dtmx.outcome_of_error(RuntimeError.new('boom')).first
    status, = Dtmx::Branch.handle { raise ArgumentError, 'bad' }
    assert_equal 500, status
    assert_equal 200, Dtmx::Branch.handle { 42 }.first
    assert_equal 409, Dtmx::Branch.handle { raise Dtmx::FailureError, 'no money' }.first
  end
end
