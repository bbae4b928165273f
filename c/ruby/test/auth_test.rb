# frozen_string_literal: true

# A server with authentication on (AUTH_SUBMIT_TOKENS): without a token, or with an
# unknown one, the server refuses (HTTP 401, ServerError); with
# `Dtmx::Client.new(url, token: ...)` the saga succeeds; a malformed token is refused
# before any request.
require_relative 'test_helper'

class AuthTest < Minitest::Test
  TOKEN = 'ruby-submit-token-0123456789'

  class << self
    def shared
      @shared ||= begin
        server = TestKit::Server.new('AUTH_SUBMIT_TOKENS' => TOKEN)
        calls = Queue.new
        branch = TestKit::HttpServer.new do |req|
          calls << [req.path, req.headers['authorization']]
          [200, '{"dtm_result":"SUCCESS"}']
        end
        Minitest.after_run do
          branch.close
          server.stop
        end
        [server, branch, calls]
      end
    end
  end

  def setup
    @server, @branch, @calls = self.class.shared
  end

  def saga(client)
    client.saga(wait_result: true).add("#{@branch.url}/TransOut", "#{@branch.url}/TransOutRevert", { amount: 30 })
  end

  def test_without_a_token_the_server_refuses
    client = Dtmx::Client.new(@server.url)
    e = assert_raises(Dtmx::ServerError) { saga(client).submit }
    assert_equal 'server', e.kind
    assert_raises(Dtmx::ServerError) { client.new_gid }
  end

  def test_an_unknown_token_is_refused
    client = Dtmx::Client.new(@server.url, token: 'not-a-known-token-0123456789')
    assert_raises(Dtmx::ServerError) { saga(client).submit }
  end

  def test_with_the_token_the_saga_succeeds
    client = Dtmx::Client.new(@server.url, token: TOKEN)
    s = saga(client)
    s.submit
    assert_equal 'succeed', client.wait_final(s.gid)
    assert_equal 'succeed', client.query(s.gid)['transaction']['status']
    refute_empty client.new_gid
    # Branch calls come from the server and never carry the client's token.
    path, authorization = @calls.pop
    assert_equal '/TransOut', path
    assert_nil authorization
  end

  def test_a_custom_transport_sees_the_header
    seen = nil
    client = Dtmx::Client.with_transport(@server.url, token: TOKEN) do |req|
      seen = req.headers
      [200, '{"gid":"g-from-transport","dtm_result":"SUCCESS"}']
    end
    assert_equal 'g-from-transport', client.new_gid
    assert_includes seen, ['Authorization', "Bearer #{TOKEN}"]
  end

  def test_malformed_tokens_are_invalid
    ['', 'a b', "tok\n", "tok\r\nX-Evil: 1", "\ttok"].each do |bad|
      e = assert_raises(Dtmx::InvalidArgumentError, bad.inspect) { Dtmx::Client.new(@server.url, token: bad) }
      assert_match(/token/, e.message)
    end
    assert_raises(Dtmx::InvalidArgumentError) { Dtmx::Client.new(@server.url, token: 42) }
  end
end
