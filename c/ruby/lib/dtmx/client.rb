# frozen_string_literal: true

require 'json'

module Dtmx
  # An HTTP request libdtmx asks a custom transport to send (Client.with_transport).
  # `headers` is a list of [name, value] pairs, `body` a binary String or nil,
  # `timeout_ms` the time the whole exchange may take (0: the host's default).
  HttpRequest = Struct.new(:method, :url, :headers, :body, :timeout_ms, keyword_init: true)

  # A DTM server to talk to (`http://host:36789/api/dtmsvr`). Thread-safe: share one.
  # Transactions made from a client keep it alive while they are.
  #
  # `token:` is the bearer token for a server with authentication on: every request to
  # the server (not to branches) then carries `Authorization: Bearer <token>`. An empty
  # token or one with whitespace or control characters raises InvalidArgumentError.
  class Client
    include Handle

    # The server URL, as libdtmx holds it.
    def server
      Native.take_string(Native.check { |err| Native.dtmx_client_server(self, err) })
    end

    # A client sending over libdtmx's own HTTP client.
    def initialize(server, token: nil)
      @server = server
      @ptr = Native.handle(:dtmx_client_free) { |err| Native.dtmx_client_new(server, err) }
      set_token(token) unless token.nil?
    end

    # A client that sends every request through the block, for hosts with their own HTTP
    # stack and for tests: the block gets a Dtmx::HttpRequest and returns [status, body];
    # an exception it raises fails the request (a TransportError with its message).
    def self.with_transport(server, token: nil, &transport)
      raise ArgumentError, 'with_transport needs a block' unless transport

      client = allocate
      client.send(:init_transport, server, transport)
      client.send(:set_token, token) unless token.nil?
      client
    end

    # A new gid from the server (`GET /newGid`).
    def new_gid
      Native.take_string(Native.check { |err| Native.dtmx_client_new_gid(self, err) })
    end

    # A new gid made locally (unique without asking the server).
    def local_gid
      Native.take_string(Native.check { |err| Native.dtmx_client_local_gid(self, err) })
    end

    # The server's view of transaction `gid` (`GET /query`) as a Hash:
    # `{"transaction" => {...}, "branches" => [...]}`.
    def query(gid)
      JSON.parse(Native.take_string(Native.check { |err| Native.dtmx_client_query(self, gid, err) }))
    end

    # Waits until transaction `gid` is final and returns its status (`"succeed"` or
    # `"failed"`); polls every 100 ms for at most `timeout` seconds (TimeoutError after).
    def wait_final(gid, timeout: 30)
      ms = (timeout * 1000).to_i
      Native.take_string(Native.check { |err| Native.dtmx_client_wait_final(self, gid, ms, err) })
    end

    # A Saga of this client (see Saga.new).
    def saga(gid: nil, **options)
      Saga.new(self, gid: gid, **options)
    end

    # A Msg of this client (see Msg.new).
    def msg(gid: nil, **options)
      Msg.new(self, gid: gid, **options)
    end

    # A Tcc of this client (see Tcc.new).
    def tcc(gid: nil, **options)
      Tcc.new(self, gid: gid, **options)
    end

    # An Xa of this client (see Xa.new).
    def xa(gid: nil, **options)
      Xa.new(self, gid: gid, **options)
    end

    # The Tcc nested in the try branch that received `branch` (a Branch, e.g.
    # `Branch.from_query(query)` in the try handler): its branches are sub-branches of
    # that one, registered with the server the branch names (nothing to prepare, submit
    # or abort).
    def tcc_from_branch(branch)
      query = branch.to_query
      b = Native.check { |err| Native.dtmx_branch_from_query(query, err) }
      begin
        ptr = Native.handle(:dtmx_tcc_free) { |err| Native.dtmx_client_tcc_from_branch(self, b, err) }
      ensure
        Native.dtmx_branch_free(b)
      end
      tcc = Tcc.allocate
      tcc.instance_variable_set(:@client, self)
      tcc.instance_variable_set(:@ptr, ptr)
      tcc.instance_variable_set(:@gid, Native.string(Native.dtmx_tcc_gid(tcc)))
      tcc
    end

    private

    def set_token(token)
      raise InvalidArgumentError, 'token must be a String' unless token.is_a?(String)

      Native.check { |err| Native.dtmx_client_set_token(self, token, err) }
    end

    def init_transport(server, transport)
      @server = server
      @transport = transport
      # Kept in the client: libdtmx calls it for as long as the client (and the
      # transactions made from it, which hold the client) live.
      @send_fn = FFI::Function.new(:void, %i[pointer pointer pointer]) do |_user, req, resp|
        Client.send(:send_through, transport, req, resp)
      end
      @ptr = Native.handle(:dtmx_client_free) do |err|
        Native.dtmx_client_new_with_transport(server, @send_fn, nil, err)
      end
    end

    # (internal) The send callback: never lets an exception unwind into libdtmx.
    def self.send_through(transport, req, resp)
      status, body = transport.call(read_request(req))
      buf, len = Native.bytes(body || '')
      Native.dtmx_response_set(resp, Integer(status), buf, len)
    rescue Exception => e # rubocop:disable Lint/RescueException
      begin
        Native.dtmx_response_fail(resp, "#{e.class}: #{e.message}".delete("\0"))
      rescue Exception # rubocop:disable Lint/RescueException
        nil
      end
    end

    def self.read_request(req)
      headers = Array.new(Native.dtmx_request_header_count(req)) do |i|
        [Native.string(Native.dtmx_request_header_name(req, i)),
         Native.string(Native.dtmx_request_header_value(req, i))]
      end
      len = FFI::MemoryPointer.new(:size_t)
      data = Native.dtmx_request_body(req, len)
      body = data.null? ? nil : data.read_bytes(len.read(:size_t))
      HttpRequest.new(method: Native.string(Native.dtmx_request_method(req)),
                      url: Native.string(Native.dtmx_request_url(req)),
                      headers: headers, body: body,
                      timeout_ms: Native.dtmx_request_timeout_ms(req))
    end
    private_class_method :send_through
  end
end
